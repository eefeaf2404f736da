import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRules } from '../load.js';
import { SHIPPED_RULES_DIR } from '../shipped.js';
import { learnFromCaptures, proposeRules, readPartyList } from './learn.js';
import { dnsAnswers, httpHost, tlsServerName } from './names.js';

// Real labelled captures (IoT SENTINEL, see ../shared/captures/README.md) beside the checkout.
const shared = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..', 'shared');
const sentinel = join(shared, 'captures', 'iot-sentinel');
const captures = (device: string) =>
  readdirSync(join(sentinel, device))
    .filter((f) => f.endsWith('.pcap'))
    .map((f) => join(sentinel, device, f));
const macOf = (device: string) => readFileSync(join(sentinel, device, '_iotdevice-mac.txt'), 'utf8').trim().toLowerCase();

const RULES = `
sources:
  - { id: test, title: test fixture }
manufacturers:
  - { id: osram, name: OSRAM, source: [test] }
  - { id: tplink, name: TP-Link, source: [test] }
products:
  - { id: osram-lightify-hub, name: Lightify hub, manufacturer: osram, source: [test] }
  - { id: tplink-plug, name: TP-Link plug, manufacturer: tplink, source: [test] }
domains:
  - { domain: srmp01lb02.ch.pub.arrayent.com, role: primary, ports: [tcp/80], used_by: [osram-lightify-hub], source: [test] }
  - { domain: n-devs.tplinkcloud.com, role: primary, ports: [tcp/443], used_by: [tplink-plug], source: [test] }
generic:
  - { suffix: ntp.org, source: [test], why: public NTP pool }
`;

test("rules learn on real captures: proposes the TP-Link plug's missing endpoint, flags the Lightify entry whose transport never matches", async (t) => {
  assert.ok(existsSync(sentinel), `labelled captures expected at ${sentinel}`);
  const dir = mkdtempSync(join(tmpdir(), 'hs-learn-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'r.yaml'), RULES);
  const dict = loadRules(dir);
  const party = readPartyList(join(shared, 'reference', 'iot-endpoints', 'all_party_mapping.csv'));
  const reports = await learnFromCaptures(
    [...captures('TP-LinkPlugHS100'), ...captures('Lightify')],
    [
      { mac: macOf('TP-LinkPlugHS100'), label: 'tplink-plug' },
      { mac: macOf('Lightify'), label: 'osram-lightify-hub' },
    ],
    dict,
    party,
  );
  const plug = reports.find((r) => r.label === 'tplink-plug')!;
  const devs = plug.names.find((n) => n.name === 'devs.tplinkcloud.com')!;
  assert.deepEqual(devs.ports, ['tcp/50443']);
  assert.equal(devs.registered, 'tplinkcloud.com');
  assert.equal(devs.role, 'primary');
  assert.match(devs.why, /tplinkcloud\.com first party of tplink/);
  assert.equal(devs.dictionary, null);
  assert.deepEqual(devs.captures, ['Setup-A-1-STA.pcap', 'Setup-A-2-STA.pcap', 'Setup-A-3-STA.pcap']);
  assert.ok(devs.packets > 50 && devs.packetsPerHour.mean > 0);
  assert.equal(plug.names.find((n) => n.name.endsWith('pool.ntp.org'))?.role, 'generic');

  const hub = reports.find((r) => r.label === 'osram-lightify-hub')!;
  const lb02 = hub.names.find((n) => n.name === 'srmp01lb02.ch.pub.arrayent.com')!;
  assert.deepEqual(lb02.ports, ['udp/80']);
  assert.deepEqual(lb02.dictionary?.unmatchedPorts, ['udp/80']);

  const yaml = proposeRules(reports, 'iot-sentinel');
  assert.match(yaml, /\+ - domain: "devs\.tplinkcloud\.com"\n {2}\+ {3}role: primary\n {2}\+ {3}ports: \[tcp\/50443\]\n {2}\+ {3}used_by: \[tplink-plug\]\n {2}\+ {3}source: \[iot-sentinel\]/);
  assert.match(yaml, /~ srmp01lb02\.ch\.pub\.arrayent\.com .*the dictionary lists tcp\/80; osram-lightify-hub used udp\/80, which never matches/);
  assert.match(yaml, /generic, not proposed: [a-z.]*pool\.ntp\.org udp\/123/);
});

test('the shipped dictionary covers what the labelled devices contact: every named, non-generic endpoint of the D-Link, TP-Link, Lightify, Hue and WeMo devices is listed with a port that matches', async () => {
  const devices = ['D-LinkHomeHub', 'D-LinkSiren', 'D-LinkSwitch', 'D-LinkWaterSensor', 'TP-LinkPlugHS100', 'TP-LinkPlugHS110', 'Lightify', 'HueBridge', 'WeMoSwitch', 'EdimaxPlug1101W', 'Withings', 'MAXGateway'];
  const dict = loadRules(SHIPPED_RULES_DIR);
  const party = readPartyList(join(shared, 'reference', 'iot-endpoints', 'all_party_mapping.csv'));
  const reports = await learnFromCaptures(
    devices.flatMap(captures),
    devices.map((d) => ({ mac: macOf(d), label: d })),
    dict,
    party,
  );
  assert.equal(reports.length, devices.length);
  const missing: string[] = [];
  for (const r of reports)
    for (const n of r.names) {
      if (n.role === 'generic' || n.role === 'support') continue;
      // WeMo setup captures carry the phone's traffic through the device's access point.
      if (r.label === 'WeMoSwitch' && !/xbcs\.net|lswf\.net/.test(n.name)) continue;
      if (!n.dictionary || n.dictionary.unmatchedPorts.length) missing.push(`${r.label}: ${n.name} ${n.ports.join(' ')}`);
    }
  assert.deepEqual(missing, []);
});

test('DNS answers (compression, CNAME chains), TLS server names and HTTP Host headers; malformed input gives nothing', () => {
  // Response for a.example → CNAME b.example → A 192.0.2.7, names compressed.
  const q = Buffer.from([0x01, 0x61, 0x07, ...Buffer.from('example'), 0x03, ...Buffer.from('com'), 0]);
  const msg = Buffer.concat([
    Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]),
    q,
    Buffer.from([0, 1, 0, 1]),
    Buffer.from([0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 0x01, 0x62, 0xc0, 14]),
    Buffer.from([0xc0, 43, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]),
  ]);
  assert.deepEqual(dnsAnswers(msg), [
    { name: 'a.example.com', type: 'CNAME', data: 'b.example.com' },
    { name: 'b.example.com', type: 'A', data: '192.0.2.7' },
  ]);
  for (let cut = 0; cut < msg.length; cut++) assert.doesNotThrow(() => dnsAnswers(msg.subarray(0, cut)));
  // AAAA data written as packet addresses are (longest zero run compressed), so names and flows meet.
  const aaaa = Buffer.concat([
    Buffer.from([0, 2, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]),
    q,
    Buffer.from([0, 28, 0, 1]),
    Buffer.from([0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]),
    Buffer.from([0x20, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]),
  ]);
  assert.deepEqual(dnsAnswers(aaaa), [{ name: 'a.example.com', type: 'AAAA', data: '2001:0:0:1::1' }]);
  const loop = Buffer.concat([Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0xc0, 12])]);
  assert.deepEqual(dnsAnswers(loop), []);
  assert.equal(httpHost(Buffer.from('GET /x HTTP/1.1\r\nHost: Cam.Example.com:8080\r\n\r\n')), 'cam.example.com');
  assert.equal(httpHost(Buffer.from('\x16\x03\x01 not http at all')), null);
  const sni = Buffer.from('api.example.net');
  const ext = Buffer.concat([Buffer.from([0, 0, 0, sni.length + 5, 0, sni.length + 3, 0, 0, sni.length]), sni]);
  const body = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32), Buffer.from([0, 0, 2, 0x13, 0x01, 1, 0]), Buffer.from([0, ext.length]), ext]);
  const hs = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 255]), body]);
  const rec = Buffer.concat([Buffer.from([0x16, 3, 1, hs.length >> 8, hs.length & 255]), hs]);
  assert.equal(tlsServerName(rec), 'api.example.net');
  for (let cut = 0; cut < rec.length; cut++) assert.doesNotThrow(() => tlsServerName(rec.subarray(0, cut)));
});
