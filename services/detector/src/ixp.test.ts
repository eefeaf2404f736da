import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryHitlistStore } from '@haystack/hitlist-contract';
import { MemoryBus } from '@haystack/transport';
import { writeMemberExport } from '@haystack/ixp';
import { createDetector } from './detector.js';
import { DetectorConfigError } from './setup.js';
import {
  CAM1,
  DAY,
  DAY_START,
  H,
  TUYA6,
  captureLogger,
  cleanupClickHouseDir,
  makeBatch,
  openTestClickHouse,
  tempDir,
  emptyRulesDir,
  testConfig,
  testHitlist,
  waitFor,
  writeRules,
} from './test-helpers.js';
import { TABLES } from '@haystack/store';

after(cleanupClickHouseDir);

/**
 * The IXP deployment through the real detector: no subscriber sides (side 0), the unit is the
 * end that is not on the hitlist (IPv4 /32, IPv6 /64), attributed to a member by router MAC,
 * flow AS or route table, in both directions; unattributed units stored as member 0.
 */
test('IXP mode: units are the non-hitlist ends, attributed to members by MAC, AS and route table; unknown members counted', async () => {
  const tmp = tempDir('detector-ixp-');
  after(tmp.cleanup);
  const rulesDir = writeRules(tmp.dir);
  const members = join(tmp.dir, 'members.json');
  writeFileSync(
    members,
    JSON.stringify(
      writeMemberExport('TEST-IX', [
        { asn: 64500, name: 'Alpha Broadband', macs: ['02:00:00:00:01:01'], addresses: ['192.0.2.1'] },
        { asn: 64501, name: 'Beta Cable', macs: ['02:00:00:00:02:01'], addresses: ['192.0.2.2'] },
        { asn: 64502, name: 'Gamma Mobile', macs: [], addresses: ['192.0.2.3'] },
        { asn: 64999, name: 'Cloud', macs: ['02:00:00:00:09:01'], addresses: ['192.0.2.9'] },
      ]),
    ),
  );
  const routes = join(tmp.dir, 'routes.txt');
  writeFileSync(routes, '100.80.0.0\t16\t64502\n');
  const config = testConfig({ rulesDir, rawLineIds: true, windows: ['day'] }, { deployment: 'ixp', ixp: { memberExport: members, routeTable: routes } });
  const t = DAY_START + 10 * H;
  const cloud = '02:00:00:00:09:01';
  const batch = makeBatch([
    // Host → backend: the unit is the source; its member's router sent the frame.
    { start: t, src: '100.64.0.1', dst: CAM1, srcPort: 40000, dstPort: 443, side: 0, srcMac: '02:00:00:00:01:01', dstMac: cloud },
    // Backend → host: the unit is the destination; the frame left by its member's router.
    { start: t + 1000, src: CAM1, dst: '100.70.0.9', srcPort: 443, dstPort: 40001, side: 0, srcMac: cloud, dstMac: '02:00:00:00:02:01' },
    // IPv6 host, unknown MAC, but the flow carries a member's AS (sFlow extended gateway).
    {
      start: t + 2000,
      src: '2001:db8:5:6:aaaa::1',
      dst: TUYA6,
      srcPort: 40002,
      dstPort: 443,
      side: 0,
      srcMac: '02:99:00:00:00:01',
      dstMac: cloud,
      srcAs: 64501,
    },
    // No MAC, no AS: the route table says AS64502.
    { start: t + 3000, src: '100.80.1.1', dst: CAM1, srcPort: 40003, dstPort: 443, side: 0 },
    // Nothing known about this host's network: unattributed, counted.
    { start: t + 4000, src: '203.0.113.7', dst: CAM1, srcPort: 40004, dstPort: 443, side: 0, srcMac: '02:99:00:00:00:02' },
    // The first host again, through another member's router: a unit is attributed once a day, by its first flow.
    { start: t + 5000, src: '100.64.0.1', dst: CAM1, srcPort: 40005, dstPort: 443, side: 0, srcMac: '02:00:00:00:02:01', dstMac: cloud },
  ]);
  const ch = await openTestClickHouse('ixp');
  const store = new MemoryHitlistStore();
  await store.publish(testHitlist());
  const bus = new MemoryBus({ partitions: 1 });
  const cap = captureLogger();
  const det = createDetector({ config, log: cap.log, source: bus.createSource({ concurrency: 1 }), hitlists: store, storage: ch });
  await det.start();
  try {
    await bus.sink.publish(0, batch);
    await waitFor(() => bus.stats().delivered === 1, 'delivered');
  } finally {
    await det.stop();
    await store.close();
  }
  const units = await ch.query<{ line: string; member_asn: number; member_name: string; via: string }>(
    `SELECT line, member_asn, member_name, via FROM ${ch.database}.${TABLES.ixpUnits} FINAL WHERE day = {d:Date} ORDER BY line`,
    { d: DAY },
  );
  assert.deepEqual(
    units.map((u) => `${u.line} AS${u.member_asn} ${u.via}`),
    ['100.64.0.1 AS64500 mac', '100.70.0.9 AS64501 mac', '100.80.1.1 AS64502 prefix', '2001:db8:5:6::/64 AS64501 as', '203.0.113.7 AS0 none'],
  );
  const dets = await ch.query<{ line: string }>(`SELECT DISTINCT line FROM ${ch.database}.${TABLES.detections} FINAL WHERE day = {d:Date} ORDER BY line`, {
    d: DAY,
  });
  assert.ok(
    dets.some((d) => d.line === '100.70.0.9'),
    'the destination end is the unit when the source is the service',
  );
  assert.deepEqual(det.attributor?.counts, { mac: 2, as: 1, prefix: 1, unattributed: 1 });
  await ch.close();
});

test('IXP mode without a member export is a configuration error naming the key', () => {
  const config = testConfig({ rulesDir: emptyRulesDir(), rawLineIds: true }, { deployment: 'ixp' });
  const bus = new MemoryBus({ partitions: 1 });
  assert.throws(
    () =>
      createDetector({
        config,
        log: captureLogger().log,
        source: bus.createSource({ concurrency: 1 }),
        hitlists: new MemoryHitlistStore(),
        storage: {} as never,
      }),
    /deployment "ixp" needs ixp\.memberExport/,
  );
  // A file that is missing or malformed names the key, exit 2 (a configuration error).
  const tmp = mkdtempSync(join(tmpdir(), 'hs-ixp-keys-'));
  try {
    const member = join(tmp, 'members.json');
    writeFileSync(member, JSON.stringify(writeMemberExport('IX', [{ asn: 64501, name: 'A', macs: ['02:00:00:00:00:01'], addresses: ['192.0.2.9'] }])));
    const routes = join(tmp, 'routes.csv');
    writeFileSync(routes, 'prefix,asn\n198.51.100.0/24,64502\n');
    const make = (ixp: Record<string, unknown>) =>
      createDetector({
        config: testConfig({ rulesDir: emptyRulesDir(), rawLineIds: true }, { deployment: 'ixp', ixp }),
        log: captureLogger().log,
        source: bus.createSource({ concurrency: 1 }),
        hitlists: new MemoryHitlistStore(),
        storage: {} as never,
      });
    const refused = (ixp: Record<string, unknown>, re: RegExp) =>
      assert.throws(
        () => make(ixp),
        (e: unknown) => e instanceof DetectorConfigError && e.exitCode === 2 && re.test(e.message),
      );
    refused({ memberExport: join(tmp, 'nope.json') }, /^ixp\.memberExport: member export .*nope\.json: no such file$/);
    refused({ memberExport: member, routeTable: join(tmp, 'nope.txt') }, /^ixp\.routeTable: route table .*nope\.txt: no such file$/);
    writeFileSync(join(tmp, 'bad.csv'), '198.51.100.0/24,sixty\n');
    refused({ memberExport: member, routeTable: join(tmp, 'bad.csv') }, /^ixp\.routeTable: route table .*bad\.csv:1: "sixty" is not an AS number$/);
    const det = make({ memberExport: member, routeTable: routes });
    assert.ok(det);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
