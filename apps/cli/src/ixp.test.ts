import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '@haystack/store';
import { configSchema, silentLogger } from '@haystack/common';
import { queryReportData, renderCsv, renderText } from '@haystack/report';
import { createConsole, firstToken, type LiveQuality } from '@haystack/console';
import { runDemo } from './commands/demo.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * The IXP case end to end on embedded defaults (`haystack demo --ixp`): a simulated exchange
 * exporting sFlow from its fabric, hosts attributed to members by router MAC from the published
 * IX-F member export, the report per member — checked against the simulator's ground truth.
 */
test('demo --ixp: sFlow from the fabric, hosts per member as the ground truth has them, the IXP report', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'hs-ixp-demo-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const base = configSchema.parse({ log: { level: 'silent' }, detector: { rawLineIds: true } });
  const res = await runDemo(
    { out, seed: 3, lines: 300, sampling: 100, day: '2026-11-20', rulesDir: join(root, 'rules'), ixpMembers: 3 },
    base,
    silentLogger,
    () => {},
  );
  assert.ok(res.detector.flows > 0 && res.detector.matched > 0);
  const truth = new Map<string, number>();
  for (const row of readFileSync(join(res.simDir, 'truth-members.csv'), 'utf8').trim().split('\n').slice(1)) {
    const [asn, cls, hosts] = row.split(',');
    truth.set(`${asn} ${cls}`, Number(hosts));
  }
  const ch = await openStore(configSchema.parse({ stateDir: join(out, 'state') }));
  try {
    const data = await queryReportData(ch, '2026-11-20');
    const x = data.ixp!;
    assert.ok(x, 'the report has the members section');
    assert.deepEqual(
      x.members.map((m) => m.asn).sort(),
      [65001, 65002, 65003],
      'every host behind one of the three access members (the backends are behind the cloud member)',
    );
    assert.equal(x.attribution.none, 0);
    assert.ok(x.attribution.mac > 0 && x.attribution.as + x.attribution.prefix === 0, 'sFlow raw headers carry the routers’ MACs');
    let detected = 0;
    let truthTotal = 0;
    for (const m of x.members) {
      assert.ok(m.iotHosts > 0 && m.estBytesToIot > 0, `AS${m.asn}`);
      // Active hosts: every host behind the member with a sampled flow; the IoT ones are a part of them.
      assert.ok(m.activeHosts >= m.iotHosts && m.shareOfActive > 0 && m.shareOfActive <= 1, `AS${m.asn}: ${m.iotHosts} of ${m.activeHosts}`);
      assert.ok(m.hourly.length === 24 && Math.max(...m.hourly) > 0 && Math.max(...m.hourly) <= m.iotHosts, `AS${m.asn}: hosts per hour`);
      for (const c of m.classes) {
        if (c.level !== 'product') continue;
        const want = truth.get(`${m.asn} ${c.classId}`) ?? 0;
        // Never more hosts of a product behind a member than the member has (precision per member).
        assert.ok(c.hosts <= want, `AS${m.asn} ${c.classId}: ${c.hosts} detected, ${want} in the truth`);
        detected += c.hosts;
      }
    }
    for (const [k, n] of truth) if (data.classes.some((c) => c.level === 'product' && k.endsWith(` ${c.classId}`))) truthTotal += n;
    assert.ok(detected / truthTotal > 0.5, `product hosts found: ${detected} of ${truthTotal}`);
    // Replayed without loss: no sample sequence gap per sFlow data source, the agents' rate known.
    assert.ok(
      data.quality.exporters.every((e) => e.version === 133 && e.samplesLost === 0 && e.sequenceGaps === 0),
      JSON.stringify(data.quality.exporters),
    );
    const text = renderText(data);
    assert.match(text, /^MEMBERS \(3\), ranked by IoT hosts/m);
    assert.match(text, /sFlow v5/);
    const csv = renderCsv(data).split('\r\n');
    assert.equal(csv[0], 'day,member_asn,member_name,level,class_id,hosts,member_iot_hosts,member_active_hosts,member_share_of_active,member_est_bytes_to_iot');
    assert.ok(
      csv.some((l) => /^2026-11-20,65001,"?Member 1 Broadband"?,/.test(l)),
      csv.slice(0, 3).join('\n'),
    );

    // The console of an IXP (deployment: ixp) on the same store: the members in the day's report, hosts (not lines) in the trends.
    const cfg = configSchema.parse({ log: { level: 'silent' }, stateDir: join(out, 'state'), deployment: 'ixp', console: { listen: '127.0.0.1:0' } });
    const srv = await createConsole({ config: cfg, log: silentLogger, store: ch });
    try {
      const url = await srv.start();
      const auth = { authorization: `Bearer ${firstToken(join(out, 'state', 'console', 'tokens'))}` };
      const api = (await (await fetch(`${url}/api/v1/days/2026-11-20/report`, { headers: auth })).json()) as typeof data;
      assert.deepEqual(
        api.ixp!.members.map((m) => [m.asn, m.iotHosts]),
        x.members.map((m) => [m.asn, m.iotHosts]),
      );
      const day = await (await fetch(`${url}/day/2026-11-20`, { headers: auth })).text();
      assert.match(day, /Member 1 Broadband/);
      const trends = await (await fetch(`${url}/trends?to=2026-11-20&days=7`, { headers: auth })).text();
      assert.match(trends, /Active hosts per day/);
      assert.doesNotMatch(trends, /Active lines/);
      // A past day's data quality from the stored health snapshots: the fabric's sFlow agents at 1:100.
      const q = (await (await fetch(`${url}/api/v1/quality?day=2026-11-20`, { headers: auth })).json()) as LiveQuality;
      assert.equal(q.live, false);
      assert.ok(q.exporters.length > 0 && q.exporters.every((e) => e.version === 133 && e.samplingRate === 100), JSON.stringify(q.exporters));
      // Records are the detector's, by the day of each flow (the report's figure): the day holds all but the stray few stamped after midnight.
      const next = (await (await fetch(`${url}/api/v1/quality?day=2026-11-21`, { headers: auth })).json()) as LiveQuality;
      assert.equal(q.recordsDecoded + next.recordsDecoded, res.detector.flows);
      assert.ok(next.recordsDecoded < q.recordsDecoded / 100);
      const qp = await (await fetch(`${url}/quality?day=2026-11-20`, { headers: auth })).text();
      assert.match(qp, /stored, 2026-11-20/);
      assert.doesNotMatch(qp, /http-equiv="refresh"/, 'a past day does not reload itself');
    } finally {
      await srv.stop();
    }
  } finally {
    await ch.close();
  }
});

test('demo --ixp with IPFIX from the fabric: member routers’ MACs from the IPFIX MAC fields attribute every host', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'hs-ixp-ipfix-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const base = configSchema.parse({ log: { level: 'silent' }, detector: { rawLineIds: true } });
  const res = await runDemo(
    { out, seed: 5, lines: 200, sampling: 100, day: '2026-11-20', rulesDir: join(root, 'rules'), ixpMembers: 2, ixpExport: 'ipfix' },
    base,
    silentLogger,
    () => {},
  );
  assert.ok(res.detector.flows > 0 && res.detector.matched > 0);
  const ch = await openStore(configSchema.parse({ stateDir: join(out, 'state') }));
  try {
    const data = await queryReportData(ch, '2026-11-20');
    const x = data.ixp!;
    assert.deepEqual(x.members.map((m) => m.asn).sort(), [65001, 65002]);
    assert.ok(x.attribution.mac > 0, 'attributed by the MAC fields');
    assert.deepEqual([x.attribution.as, x.attribution.prefix, x.attribution.none], [0, 0, 0]);
    assert.ok(x.members.every((m) => m.iotHosts > 0 && m.iotHosts <= m.activeHosts));
    assert.ok(data.quality.exporters.length > 0 && data.quality.exporters.every((e) => e.version === 10), 'IPFIX exporters only');
    // Routed over the same fabric, the sampling rate comes from the exporter's selector options.
    assert.ok(data.quality.exporters.every((e) => e.samplingRates.length === 1 && e.samplingRates[0] === 100));
  } finally {
    await ch.close();
  }
});
