import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClickHouseStore } from '@haystack/clickhouse';
import { MemoryHitlistStore } from '@haystack/hitlist-contract';
import { MemoryBus } from '@haystack/transport';
import { createDetector, type Detector } from './detector.js';
import { type DetectorRows, TABLES } from '@haystack/store';
import { ClickHouseDetectorStorage, type DetectorStorage, type StoredDayState } from './storage.js';
import {
  API,
  CAM1,
  CAM2,
  DAY_START,
  FlakyStorage,
  H,
  ListSource,
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
  type Delivery,
} from './test-helpers.js';

after(cleanupClickHouseDir);
const rulesTmp = tempDir('detector-rules-');
after(rulesTmp.cleanup);
const rulesDir = writeRules(rulesTmp.dir);

// acme-cam needs 2 domains a day: evidence split across a restart must still detect.
const config = testConfig({ rulesDir, classThresholds: { 'acme-cam': { daily: 2, hourly: 1 } } });
const retention = config.detector.retention;

/** Two partitions, eight batches; line X gets cam1 early and cam2 late (threshold 2). */
function deliveries(): Delivery[] {
  const t = DAY_START + 8 * H;
  const X = '100.64.9.1';
  const Y = '100.64.9.2';
  const mk = (i: number, flows: ReturnType<typeof toService>[]) => makeBatch(flows, DAY_START + i);
  const p0 = [
    mk(0, [toService(X, CAM1, t), toService('100.64.9.10', '203.0.113.1', t)]),
    mk(1, [toService('100.64.9.11', API, t + H, { dstPort: 8883 })]),
    mk(2, [toService('100.64.9.12', '203.0.113.2', t + 2 * H, { rate: 0 })]),
    mk(3, [toService(X, CAM2, t + 3 * H), toService(X, CAM2, t + 3 * H + 5)]),
  ];
  const p1 = [
    mk(10, [toService(Y, CAM2, t)]),
    mk(11, [toService(Y, CAM2, t + H)]),
    mk(12, [toService('100.64.9.20', '203.0.113.3', t)]),
    mk(13, [toService(Y, CAM1, t + 2 * H)]),
  ];
  return [
    ...p0.map((batch, offset) => ({ partition: 0, offset: 100 + offset, batch })),
    ...p1.map((batch, offset) => ({ partition: 1, offset: 200 + offset, batch })),
  ];
}

async function detectorOn(
  ch: ClickHouseStore | DetectorStorage,
  source: ListSource | ReturnType<MemoryBus['createSource']>,
  sourceId = 'kafka:flows',
  stopTimeoutMs?: number,
): Promise<{ det: Detector; store: MemoryHitlistStore }> {
  const store = new MemoryHitlistStore();
  await store.publish(testHitlist());
  const det = createDetector({ config, log: captureLogger().log, source, hitlists: store, storage: ch, sourceId, stopTimeoutMs });
  await det.start();
  return { det, store };
}

/** The reference: every delivery handled exactly once, into its own database. */
async function reference(items: Delivery[]) {
  const ch = await openTestClickHouse('ref');
  const src = new ListSource(items);
  const { det, store } = await detectorOn(ch, src);
  await src.done();
  await det.stop();
  await store.close();
  const c = await storedCounts(ch);
  await ch.close();
  return c;
}

/** Storage that stores the rows of its n-th insert and then fails, like a process dying before it commits. */
class CrashAfterInsert implements DetectorStorage {
  calls = 0;
  constructor(
    private readonly inner: DetectorStorage,
    private readonly n: number,
    private readonly only?: (keyof DetectorRows)[],
  ) {}
  ensureSchema() {
    return this.inner.ensureSchema();
  }
  async insert(rows: DetectorRows, done?: Set<keyof DetectorRows>) {
    if (++this.calls < this.n) return this.inner.insert(rows, done);
    // Store everything (or only some tables: a crash between two inserts), then "die".
    const part: DetectorRows = { ...rows };
    if (this.only) for (const k of Object.keys(part) as (keyof DetectorRows)[]) if (!this.only.includes(k)) part[k] = [] as never;
    await this.inner.insert(part, new Set());
    throw new Error('injected crash after insert');
  }
  loadDayState(source: string, partition: number, day: string): Promise<StoredDayState> {
    return this.inner.loadDayState(source, partition, day);
  }
}

describe('no loss, no double counting (chdb)', () => {
  it('a replay of batches already stored (crash before commit) does not double count; split evidence still detects', async () => {
    const items = deliveries();
    const ref = await reference(items);
    assert.ok(
      ref.detections.some((d) => d.class_id === 'acme-cam' && d.window === 'day'),
      'the reference detects the threshold-2 lines',
    );

    const ch = await openTestClickHouse('replay');
    // First life: handles everything up to offset 102 / 202, which it stores; only 101 / 201 get committed.
    const first = new ListSource(items.filter((i) => i.offset <= 102 || (i.offset >= 200 && i.offset <= 202)));
    const a = await detectorOn(ch, first);
    await first.done();
    await a.det.stop();
    await a.store.close();
    // Second life: the consumer group resumes at the committed offsets 102 and 202: 102 and 202 come again.
    const second = new ListSource(items.filter((i) => (i.partition === 0 && i.offset >= 102) || (i.partition === 1 && i.offset >= 202)));
    const b = await detectorOn(ch, second);
    await second.done();
    await b.det.stop();
    await b.store.close();
    assert.ok(b.det.stats().stateLoads >= 2, 'the second life rebuilt the partitions from storage');
    const got = await storedCounts(ch);
    assert.deepEqual(got, ref);
    // The daily aggregates (materialized views) are duplicate-insensitive too.
    const [mv] = await ch.query<{ n: string }>(
      `SELECT uniqExactMerge(lines) AS n FROM ${ch.database}.${TABLES.detectedLines} WHERE window = 'day' AND class_id = 'acme-cam'`,
    );
    assert.equal(Number(mv!.n), 2);
    // And the whole sequence again on top: still the same.
    const third = new ListSource(items);
    const c = await detectorOn(ch, third);
    await third.done();
    await c.det.stop();
    await c.store.close();
    assert.deepEqual(await storedCounts(ch), ref);
    await ch.close();
  });

  for (const only of [undefined, ['detections'], ['evidence', 'lineDays', 'quality']] as ((keyof DetectorRows)[] | undefined)[]) {
    it(`a crash after an insert ${only ? `of ${only.join('+')} only` : 'of everything'} and before the commit: the redelivery completes it exactly once`, async () => {
      const items = deliveries();
      const ref = await reference(items);
      const ch = await openTestClickHouse('crash');
      const storage = new ClickHouseDetectorStorage(ch, retention);
      // Dies at its 3rd insert, after storing (part of) it; the source keeps retrying until we stop it.
      const crashing = new CrashAfterInsert(storage, 3, only);
      const src1 = new ListSource(items);
      const a = await detectorOn(crashing, src1, 'kafka:flows', 500);
      await waitFor(() => crashing.calls >= 4, 'the crash and a retry');
      await a.det.stop();
      await a.store.close();
      // Restart from the committed positions.
      const rest = items.filter((i) => i.offset >= (src1.committed.get(i.partition) ?? (i.partition === 0 ? 100 : 200)));
      assert.ok(rest.length > 0 && rest.length < items.length);
      const src2 = new ListSource(rest);
      const b = await detectorOn(storage, src2);
      await src2.done();
      await b.det.stop();
      await b.store.close();
      assert.deepEqual(await storedCounts(ch), ref);
      await ch.close();
    });
  }

  it('ClickHouse away for a while: inserts retried with back-off, batches not acknowledged meanwhile, nothing lost', async () => {
    const items = deliveries();
    const ref = await reference(items);
    const ch = await openTestClickHouse('flaky');
    // 2 failures within one flush's attempts (3), then 4 more that exhaust them: the source retries those batches.
    const flaky = new FlakyStorage(new ClickHouseDetectorStorage(ch, retention), 2);
    const bus = new MemoryBus({ partitions: 2 });
    const { det, store } = await detectorOn(flaky, bus.createSource({ concurrency: 2, retry: { initialMs: 5, maxMs: 20 } }), 'kafka:flows');
    for (const it of items.slice(0, 4)) await bus.sink.publish(it.partition, it.batch);
    await waitFor(() => bus.stats().delivered === 4, 'first batches');
    assert.equal(det.stats().insertRetries, 2);
    assert.equal(det.stats().handlerFailures, 0);
    // Six more failures: two flushes exhaust their three attempts each.
    flaky.failures += 6;
    for (const it of items.slice(4)) await bus.sink.publish(it.partition, it.batch);
    await waitFor(() => bus.stats().delivered === items.length, 'every batch after the outage');
    assert.ok(det.stats().handlerFailures >= 1, 'exhausted flushes handed the batches back to the source');
    assert.ok(bus.stats().handlerErrors >= 1);
    await det.stop();
    await store.close();
    // Positions differ from the reference's (the bus numbers from 0): compare what does not depend on them.
    const got = await storedCounts(ch);
    assert.deepEqual(got.detections, ref.detections);
    assert.deepEqual(got.evidence, ref.evidence);
    assert.deepEqual(got.quality, ref.quality);
    assert.equal(got.activeLines, ref.activeLines);
    await ch.close();
  });

  it('embedded (a bus new to storage): after a failed insert the partition is rebuilt from storage, earlier evidence still counts', async () => {
    const ch = await openTestClickHouse('embedded');
    const flaky = new FlakyStorage(new ClickHouseDetectorStorage(ch, retention), 0);
    const bus = new MemoryBus({ partitions: 1 });
    const store = new MemoryHitlistStore();
    await store.publish(testHitlist());
    const cfg = testConfig({ rulesDir, rawLineIds: true, windows: ['day'], classThresholds: { 'acme-cam': { daily: 2 } }, flush: { attempts: 1 } });
    const det = createDetector({
      config: cfg,
      log: captureLogger().log,
      source: bus.createSource({ retry: { initialMs: 5, maxMs: 20 } }),
      hitlists: store,
      storage: flaky,
    });
    await det.start();
    await bus.sink.publish(0, makeBatch([toService('100.64.7.1', CAM1, DAY_START + H)]));
    await waitFor(() => bus.position(0) === 1, 'first batch');
    flaky.failures = flaky.failed + 1;
    await bus.sink.publish(0, makeBatch([toService('100.64.7.1', CAM2, DAY_START + 2 * H)]));
    await waitFor(() => bus.position(0) === 2, 'second batch, after one failed insert');
    await det.stop();
    await store.close();
    assert.equal(det.stats().handlerFailures, 1);
    assert.equal(det.stats().stateLoads, 1, 'rebuilt once, after the failure');
    const got = await storedCounts(ch);
    assert.deepEqual(
      got.detections.filter((d) => d.class_id === 'acme-cam').map((d) => `${d.window} ${d.line}`),
      ['day 100.64.7.1'],
    );
    await ch.close();
  });

  it('stopping while storage is away leaves the batches uncommitted; the next detector on the bus stores them', async () => {
    const items = deliveries().slice(0, 4);
    const ch = await openTestClickHouse('stop');
    const storage = new ClickHouseDetectorStorage(ch, retention);
    const down = new FlakyStorage(storage, Infinity);
    const bus = new MemoryBus({ partitions: 1 });
    const a = await detectorOn(down, bus.createSource({ retry: { initialMs: 5, maxMs: 20 } }), 'kafka:flows', 300);
    for (const it of items) await bus.sink.publish(0, it.batch);
    await waitFor(() => down.failed >= 3, 'failing inserts');
    await a.det.stop();
    await a.store.close();
    assert.equal(bus.position(0), 0, 'nothing committed');
    const b = await detectorOn(storage, bus.createSource(), 'kafka:flows');
    await waitFor(() => bus.position(0) === items.length, 'delivered by the next detector');
    await b.det.stop();
    await b.store.close();
    const got = await storedCounts(ch);
    assert.equal(got.quality.records, 6);
    assert.ok(got.detections.length > 0);
    await ch.close();
  });

  it('corrupt batches (bad CRC, wrong magic, truncated, unknown format version) are counted and skipped without blocking the partition', async () => {
    const ch = await openTestClickHouse('corrupt');
    const good = makeBatch([toService('100.64.8.1', CAM1, DAY_START + H)]);
    const badCrc = Buffer.from(good);
    badCrc[40]! ^= 0xff;
    const badMagic = Buffer.from(good);
    badMagic.write('XXXX', 0, 'latin1');
    const truncated = good.subarray(0, good.length - 7);
    const badVersion = Buffer.from(good);
    badVersion[4] = 9;
    const after1 = makeBatch([toService('100.64.8.2', CAM2, DAY_START + H)]);
    const bus = new MemoryBus({ partitions: 1 });
    const cap = captureLogger();
    const store = new MemoryHitlistStore();
    await store.publish(testHitlist());
    const det = createDetector({ config, log: cap.log, source: bus.createSource(), hitlists: store, storage: ch });
    await det.start();
    for (const b of [badCrc, badMagic, truncated, badVersion, after1]) await bus.sink.publish(0, b);
    await waitFor(() => bus.position(0) === 5, 'every batch passed');
    await det.stop();
    await store.close();
    assert.equal(det.stats().undecodable, 4);
    assert.equal(bus.stats().handlerErrors, 0, 'skipped, not retried');
    const got = await storedCounts(ch);
    assert.equal(got.undecodable, 4);
    assert.equal(got.quality.records, 1);
    assert.ok(
      got.detections.some((d) => d.class_id === 'acme-cam' && d.window === 'hour'),
      'the batch after them was handled',
    );
    const reasons = await ch.query<{ reason: string }>(`SELECT reason FROM ${ch.database}.${TABLES.undecodable} FINAL ORDER BY src_offset`);
    assert.deepEqual(
      reasons.map((r) => r.reason),
      [
        'batch CRC mismatch (corrupt)',
        'not a Haystack flow batch (bad magic)',
        `batch length ${truncated.length} does not match 1 records`,
        'unsupported batch format version 9',
      ],
    );
    assert.match(cap.text(), /undecodable flow batch skipped/);
    await ch.close();
  });
});
