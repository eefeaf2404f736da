import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HaystackConfig } from '@haystack/common';
import type { ClickHouseStore } from '@haystack/clickhouse';
import { MemoryHitlistStore, type Hitlist } from '@haystack/hitlist-contract';
import { MemoryBus } from '@haystack/transport';
import { createDetector, type DetectorStats } from './detector.js';
import { ClassHierarchy } from './hierarchy.js';
import {
  API,
  CAM1,
  CAM2,
  DAY,
  DAY_START,
  H,
  MULTI,
  TUYA6,
  captureLogger,
  cleanupClickHouseDir,
  makeBatch,
  openTestClickHouse,
  storedCounts,
  tempDir,
  testConfig,
  testHitlist,
  toService,
  waitFor,
  writeRules,
  type FlowSpec,
} from './test-helpers.js';
import { TABLES } from '@haystack/store';

after(cleanupClickHouseDir);

const rulesTmp = tempDir('detector-rules-');
after(rulesTmp.cleanup);
const rulesDir = writeRules(rulesTmp.dir);

interface Run {
  ch: ClickHouseStore;
  stats: DetectorStats;
  counts: Awaited<ReturnType<typeof storedCounts>>;
  logs: string;
}

/**
 * The real pipeline from the bus on: flow batches → MemoryBus → detector → chdb, with the
 * hitlists published to a MemoryHitlistStore and the class hierarchy read from a rules dir.
 */
async function run(batches: Buffer[], opts: { config?: HaystackConfig; hitlists?: Hitlist[]; partitions?: number } = {}): Promise<Run> {
  const ch = await openTestClickHouse();
  const store = new MemoryHitlistStore();
  for (const h of opts.hitlists ?? [testHitlist()]) await store.publish(h);
  const bus = new MemoryBus({ partitions: opts.partitions ?? 1 });
  const cap = captureLogger();
  const log = cap.log;
  const config = opts.config ?? testConfig({ rulesDir });
  const det = createDetector({ config, log, source: bus.createSource({ concurrency: 2 }), hitlists: store, storage: ch });
  await det.start();
  try {
    let i = 0;
    for (const b of batches) await bus.sink.publish(i++ % bus.partitions, b);
    await waitFor(() => bus.stats().delivered === batches.length, 'every batch delivered');
  } finally {
    await det.stop();
    await store.close();
  }
  return { ch, stats: det.stats(), counts: await storedCounts(ch), logs: cap.text() };
}

const det = (r: Run, window: string) =>
  r.counts.detections
    .filter((d) => d.window === window)
    .map((d) => `${d.class_id}<${d.via} ${d.line} ${d.window_start}`)
    .sort();

describe('detection on hand-made flow batches (MemoryBus → detector → chdb)', () => {
  const L1 = '100.64.0.1';
  const t = DAY_START + 10 * H + 5 * 60_000; // 10:05

  it('product rule: the product, and through the dictionary its manufacturer and platform; both windows', async () => {
    const r = await run([makeBatch([toService(L1, CAM1, t)])], { config: testConfig({ rulesDir, rawLineIds: true }) });
    assert.deepEqual(
      det(r, 'day'),
      [`acme-cam<acme-cam ${L1} ${DAY} 00:00:00`, `acme<acme-cam ${L1} ${DAY} 00:00:00`, `tuya<acme-cam ${L1} ${DAY} 00:00:00`].sort(),
    );
    assert.deepEqual(
      det(r, 'hour'),
      [`acme-cam<acme-cam ${L1} ${DAY} 10:00:00`, `acme<acme-cam ${L1} ${DAY} 10:00:00`, `tuya<acme-cam ${L1} ${DAY} 10:00:00`].sort(),
    );
    assert.equal(r.stats.detections.day, 1);
    assert.equal(r.stats.detections.hour, 1);
    assert.equal(r.stats.impliedDetections, 4);
    assert.equal(r.stats.matched, 1);
    await r.ch.close();
  });

  it('traffic per line and backend address: one row per address (ports summed), renormalised, counted once when redelivered', async () => {
    const L2 = '100.64.0.2';
    const batch = makeBatch([
      toService(L1, CAM1, t, { bytes: 1_000, packets: 2, rate: 1000 }),
      toService(L1, CAM1, t + 60_000, { bytes: 3_000, packets: 4, rate: 1000 }),
      toService(L1, MULTI, t, { dstPort: 123, proto: 17, bytes: 500, packets: 1, rate: 100 }),
      toService(L2, CAM1, t, { bytes: 700, packets: 1, rate: 0 }),
      // Not on the hitlist: no backend row.
      toService(L2, '203.0.113.9', t, { bytes: 9_999 }),
    ]);
    const r = await run([batch], { config: testConfig({ rulesDir, rawLineIds: true }) });
    // A redelivered batch writes the same rows (same source position): they collapse, not add.
    const stored = await r.ch.query<Record<string, unknown>>(`SELECT * FROM ${r.ch.database}.${TABLES.backendTraffic}`);
    assert.equal(stored.length, 3);
    await r.ch.insert(TABLES.backendTraffic, stored);
    const rows = await r.ch.query<{
      line: string;
      backend: string;
      hitlist_day: string;
      flows: string;
      est_bytes: string;
      est_packets: string;
      unknown: string;
    }>(
      `SELECT line, IPv6NumToString(backend) AS backend, toString(hitlist_day) AS hitlist_day, sum(flows) AS flows, sum(est_bytes) AS est_bytes,
              sum(est_packets) AS est_packets, sum(unknown_rate_flows) AS unknown
       FROM ${r.ch.database}.${TABLES.backendTraffic} FINAL GROUP BY line, backend, hitlist_day ORDER BY line, backend`,
    );
    assert.deepEqual(
      rows.map((x) => [x.line, x.backend, x.hitlist_day, Number(x.flows), Number(x.est_bytes), Number(x.est_packets), Number(x.unknown)]),
      [
        [L1, `::ffff:${CAM1}`, DAY, 2, 4_000_000, 6_000, 0],
        [L1, `::ffff:${MULTI}`, DAY, 1, 50_000, 100, 0],
        [L2, `::ffff:${CAM1}`, DAY, 1, 0, 0, 1],
      ],
    );
    await r.ch.close();
  });

  it('manufacturer rule and platform rule detect only their own level', async () => {
    const r = await run(
      [makeBatch([toService(L1, API, t, { dstPort: 8883 }), toService('100.64.0.2', TUYA6.replace('::1', '::1'), t, { src: '2001:db8:1:100::5' })])],
      {
        config: testConfig({ rulesDir, rawLineIds: true, windows: ['day'] }),
      },
    );
    assert.deepEqual(det(r, 'day'), [`acme<acme ${L1} ${DAY} 00:00:00`, `tuya<tuya 2001:db8:1:100::/56 ${DAY} 00:00:00`]);
    assert.deepEqual(det(r, 'hour'), [], 'hourly window switched off');
    await r.ch.close();
  });

  it('dual-stack subscribers named in detector.subscriberMap count once: their IPv6 flows take the IPv4 line', async () => {
    const map = join(rulesTmp.dir, 'subscribers.csv');
    writeFileSync(map, 'ipv4,ipv6_prefix\n100.64.0.1,2001:db8:1:100::/56\n# a comment\nnot,valid\n');
    const flows = [
      toService(L1, CAM1, t),
      toService('100.64.0.2', TUYA6, t, { src: '2001:db8:1:100::5' }),
      toService('100.64.0.3', TUYA6, t, { src: '2001:db8:9:900::5' }),
    ];
    const mapped = await run([makeBatch(flows)], { config: testConfig({ rulesDir, rawLineIds: true, windows: ['day'], subscriberMap: map }) });
    // The mapped subscriber's IPv6 detection is stored under its IPv4 line; the unmapped /56 stays a line of its own.
    assert.deepEqual(
      mapped.counts.detections
        .filter((d) => d.via === d.class_id)
        .map((d) => `${d.class_id} ${d.line}`)
        .sort(),
      ['acme-cam 100.64.0.1', 'tuya 100.64.0.1', 'tuya 2001:db8:9:900::/56'],
    );
    assert.equal(mapped.counts.activeLines, 2);
    await mapped.ch.close();
    const unmapped = await run([makeBatch(flows)], { config: testConfig({ rulesDir, rawLineIds: true, windows: ['day'] }) });
    assert.equal(unmapped.counts.activeLines, 3, 'without the map a dual-stack subscriber is two lines');
    await unmapped.ch.close();
  });

  it('thresholds: two domains in one hour detect hourly and daily; in two hours only daily', async () => {
    const cfg = testConfig({ rulesDir, rawLineIds: true, classThresholds: { 'acme-cam': { hourly: 2, daily: 2 } } });
    const A = '100.64.0.10';
    const B = '100.64.0.11';
    const C = '100.64.0.12';
    const r = await run(
      [
        makeBatch([toService(A, CAM1, t), toService(B, CAM1, DAY_START + 9 * H)]),
        makeBatch([toService(A, CAM2, t + 60_000), toService(B, CAM2, DAY_START + 11 * H), toService(C, CAM1, t), toService(C, CAM1, t + 1000)]),
      ],
      { config: cfg },
    );
    const own = r.counts.detections.filter((d) => d.via === 'acme-cam' && d.class_id === 'acme-cam');
    assert.deepEqual(
      own.map((d) => `${d.window} ${d.line} ${d.window_start}`),
      [`day ${A} ${DAY} 00:00:00`, `day ${B} ${DAY} 00:00:00`, `hour ${A} ${DAY} 10:00:00`],
      'C contacted one domain twice: below the threshold of 2 distinct domains',
    );
    await r.ch.close();
  });

  it('window edges: 23:59:59.999 is day D hour 23, 00:00:00.000 is day D+1 hour 0; an hour edge splits hourly evidence', async () => {
    const cfg = testConfig({ rulesDir, rawLineIds: true, classThresholds: { 'acme-cam': { hourly: 2, daily: 2 } } });
    const next = DAY_START + 24 * H;
    const nextDay = new Date(next).toISOString().slice(0, 10);
    const E = '100.64.1.1';
    const G = '100.64.1.2';
    const r = await run(
      [
        makeBatch([
          // E: one domain on each side of midnight: never 2 in one day or one hour.
          toService(E, CAM1, next - 1),
          toService(E, CAM2, next),
          // G: one domain on each side of 11:00 — daily yes, hourly no.
          toService(G, CAM1, DAY_START + 11 * H - 1),
          toService(G, CAM2, DAY_START + 11 * H),
        ]),
      ],
      { config: cfg, hitlists: [testHitlist(DAY), testHitlist(nextDay)] },
    );
    const own = r.counts.detections.filter((d) => d.class_id === 'acme-cam');
    assert.deepEqual(
      own.map((d) => `${d.window} ${d.line} ${d.window_start}`),
      [`day ${G} ${DAY} 00:00:00`],
    );
    // With threshold 1 the same flows land in exactly those windows.
    const r1 = await run([makeBatch([toService(E, CAM1, next - 1), toService(E, CAM2, next)])], {
      config: testConfig({ rulesDir, rawLineIds: true }),
      hitlists: [testHitlist(DAY), testHitlist(nextDay)],
    });
    const e1 = r1.counts.detections.filter((d) => d.class_id === 'acme-cam');
    assert.deepEqual(e1.map((d) => `${d.window} ${d.window_start}`).sort(), [
      `day ${DAY} 00:00:00`,
      `day ${nextDay} 00:00:00`,
      `hour ${DAY} 23:00:00`,
      `hour ${nextDay} 00:00:00`,
    ]);
    const [ev] = await r1.ch.query<{ days: string[] }>(
      `SELECT groupArray(toString(day)) AS days FROM (SELECT DISTINCT day FROM ${r1.ch.database}.${TABLES.evidence} ORDER BY day)`,
    );
    assert.deepEqual(ev!.days, [DAY, nextDay]);
    await r.ch.close();
    await r1.ch.close();
  });

  it('IPv6 lines: two privacy addresses in one /56 are one line, another /56 is another line', async () => {
    const cfg = testConfig({ rulesDir, rawLineIds: true, classThresholds: { 'acme-cam': { daily: 2 } } });
    const r = await run(
      [makeBatch([toService('2001:db8:1:100::a', CAM1, t), toService('2001:db8:1:1ff:1234::b', CAM2, t + 1000), toService('2001:db8:1:200::1', CAM1, t)])],
      { config: cfg },
    );
    const own = r.counts.detections.filter((d) => d.class_id === 'acme-cam' && d.window === 'day');
    assert.deepEqual(
      own.map((d) => d.line),
      ['2001:db8:1:100::/56'],
      'the two addresses of one /56 together reach 2 domains',
    );
    assert.equal(r.counts.activeLines, 2);
    await r.ch.close();
  });

  it('IPv6 prefix length is configurable (/64: the same two addresses are two lines)', async () => {
    const cfg = testConfig({ rulesDir, rawLineIds: true, ipv6LinePrefixLength: 64 }, { ingest: { ipv6LinePrefixLength: 56 } });
    const r = await run([makeBatch([toService('2001:db8:1:100::a', CAM1, t), toService('2001:db8:1:1ff::b', CAM2, t)])], { config: cfg });
    assert.deepEqual(
      r.counts.detections.filter((d) => d.class_id === 'acme-cam' && d.window === 'day').map((d) => d.line),
      ['2001:db8:1:100::/64', '2001:db8:1:1ff::/64'],
    );
    await r.ch.close();
  });

  it('both directions; only the non-subscriber end is looked up, with its own port and the protocol', async () => {
    const cfg = testConfig({ rulesDir, rawLineIds: true, windows: ['day'] });
    const flows: FlowSpec[] = [
      // Side 2: the service sent to the subscriber (return direction): source end and source port looked up.
      { start: t, src: CAM1, dst: '100.64.2.1', srcPort: 443, dstPort: 50000, side: 2 },
      // Side 0 (unknown): both ends looked up; the line is the other end.
      { start: t, src: '100.64.2.2', dst: CAM1, srcPort: 50000, dstPort: 443, side: 0 },
      { start: t, src: CAM1, dst: '100.64.2.3', srcPort: 443, dstPort: 50000, side: 0 },
      // Not matches: the remote port is not the service's; the subscriber uses the port, not the remote end.
      { start: t, src: '100.64.2.4', dst: CAM1, srcPort: 443, dstPort: 50000, side: 1 },
      // Wrong protocol (udp/443 is not in the hitlist).
      { start: t, src: '100.64.2.5', dst: CAM1, dstPort: 443, proto: 17, side: 1 },
      // The hitlist address is marked as the subscriber: it is not looked up.
      { start: t, src: CAM1, dst: '100.64.2.6', srcPort: 443, dstPort: 443, side: 1 },
      // Both ends subscribers: nothing to look up.
      { start: t, src: '100.64.2.7', dst: '100.64.2.8', side: 3 },
      // One address, two domains of two classes (udp/123).
      { start: t, src: '100.64.2.9', dst: MULTI, dstPort: 123, proto: 17, side: 1 },
    ];
    const r = await run([makeBatch(flows)], { config: cfg });
    const own = r.counts.detections.filter((d) => d.via === d.class_id).map((d) => `${d.class_id} ${d.line}`);
    assert.deepEqual(own, ['acme 100.64.2.9', 'acme-cam 100.64.2.1', 'acme-cam 100.64.2.2', 'acme-cam 100.64.2.3', 'acme-cam 100.64.2.9']);
    assert.equal(r.stats.matched, 4);
    assert.equal(r.counts.quality.matched, 4);
    assert.equal(r.counts.quality.records, flows.length);
    // Active lines: the subscriber ends (side 1, 2, 3) and the line ends of matched side-0 flows.
    assert.equal(r.counts.activeLines, 9);
    await r.ch.close();
  });

  it('sampling: packets and bytes stored as exported, the renormalised estimate alongside, unknown rates counted', async () => {
    const cfg = testConfig({ rulesDir, rawLineIds: true });
    const r = await run(
      [
        makeBatch([
          toService(L1, CAM1, t, { packets: 3, rate: 1000 }),
          toService(L1, CAM1, t + 10, { packets: 2, rate: 0 }),
          toService(L1, CAM2, t + 20, { packets: 5, rate: 100 }),
          toService('100.64.3.3', '203.0.113.9', t, { rate: 0 }),
        ]),
      ],
      { config: cfg },
    );
    // Every flow matches acme-cam once (cam1, cam2: one class each) → 3 evidence flows.
    assert.deepEqual(r.counts.evidence, { flows: 3, sampled_packets: 10, est_packets: 3000 + 500, unknown_rate_flows: 1 });
    assert.equal(r.counts.quality.unknown_rate, 2);
    const [rates] = await r.ch.query<{ rates: number[] }>(`SELECT sampling_rates AS rates FROM ${r.ch.database}.${TABLES.qualityDaily} FINAL`);
    assert.deepEqual(
      [...rates!.rates].map(Number).sort((a, b) => a - b),
      [0, 100, 1000],
    );
    await r.ch.close();
  });

  it('a flow whose day has no hitlist is counted, not matched; hitlistFallbackDays lets the previous day serve', async () => {
    const later = DAY_START + 2 * 24 * H + H; // D+2, no hitlist
    const r = await run([makeBatch([toService(L1, CAM1, later)])], { config: testConfig({ rulesDir, rawLineIds: true }) });
    assert.equal(r.stats.noHitlist, 1);
    assert.equal(r.counts.quality.no_hitlist, 1);
    assert.deepEqual(r.counts.detections, []);
    assert.equal(r.counts.activeLines, 1, 'the line is still active that day');
    const f = await run([makeBatch([toService(L1, CAM1, later)])], { config: testConfig({ rulesDir, rawLineIds: true, hitlistFallbackDays: 2 }) });
    assert.equal(f.stats.noHitlist, 0);
    assert.equal(f.counts.detections.filter((d) => d.via === d.class_id && d.window === 'day').length, 1);
    await r.ch.close();
    await f.ch.close();
  });

  it('hierarchy from the hitlist when its classes carry parents (no dictionary needed)', async () => {
    const h = testHitlist();
    (h.classes[0] as { parents?: string[] }).parents = ['acme'];
    const r = await run([makeBatch([toService(L1, CAM1, t)])], { config: testConfig({ rawLineIds: true, windows: ['day'] }), hitlists: [h] });
    assert.deepEqual(det(r, 'day'), [`acme-cam<acme-cam ${L1} ${DAY} 00:00:00`, `acme<acme-cam ${L1} ${DAY} 00:00:00`].sort());
    await r.ch.close();
  });

  it('line ids are keyed pseudonyms by default, rotate daily when asked, and the key is never logged', async () => {
    const key = 'k'.repeat(8) + '-secret-line-key';
    const flows = [toService(L1, CAM1, t), toService(L1, CAM1, t + 24 * H)];
    const nextDay = new Date(DAY_START + 24 * H).toISOString().slice(0, 10);
    const hl = [testHitlist(DAY), testHitlist(nextDay)];
    const fixed = await run([makeBatch(flows)], { config: testConfig({ rulesDir, lineKey: key, windows: ['day'] }), hitlists: hl });
    const lines = new Set(fixed.counts.detections.map((d) => d.line));
    assert.equal(lines.size, 1, 'one line, one pseudonym on both days');
    const id = [...lines][0]!;
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.ok(!fixed.counts.detections.some((d) => d.line.includes('100.64')));
    const rotated = await run([makeBatch(flows)], { config: testConfig({ rulesDir, lineKey: key, lineKeyRotation: 'daily', windows: ['day'] }), hitlists: hl });
    const rl = new Set(rotated.counts.detections.map((d) => d.line));
    assert.equal(rl.size, 2, 'a different pseudonym per day');
    assert.ok(!rl.has(id));
    const other = await run([makeBatch(flows)], { config: testConfig({ rulesDir, lineKey: 'another-key-0123456789', windows: ['day'] }), hitlists: hl });
    assert.ok(!other.counts.detections.some((d) => d.line === id), 'another key, another pseudonym');
    for (const r of [fixed, rotated, other]) {
      assert.ok(r.logs.length > 0);
      assert.ok(!r.logs.includes(key) && !r.logs.includes('another-key-0123456789'), 'no key in the logs');
      await r.ch.close();
    }
  });

  it('hierarchy loaded from the dictionary is what createDetector uses by default', () => {
    const h = ClassHierarchy.fromRules(rulesDir)!;
    assert.deepEqual(h.parents('acme-cam'), ['acme', 'tuya']);
    assert.deepEqual(h.parents('acme'), []);
    assert.equal(h.info('tuya')?.level, 'platform');
  });
});
