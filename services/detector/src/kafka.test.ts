import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress } from '@haystack/common';
import { BATCH_CONTINUES } from '@haystack/flow-core';
import { MemoryHitlistStore } from '@haystack/hitlist-contract';
import { committedOffsets, MOCK_CONSUMER_TIMINGS, startKafkaMock } from '@haystack/testkit/kafka-mock';
import { KafkaFlowSink, createFlowTransport, partitionForBytes } from '@haystack/transport';
import { createDetector, type Detector } from './detector.js';
import { type DetectorRows, TABLES } from '@haystack/store';
import { ClickHouseDetectorStorage, type DetectorStorage, type StoredDayState } from './storage.js';
import {
  CAM1,
  CAM2,
  DAY_START,
  H,
  captureLogger,
  cleanupClickHouseDir,
  makeBatch,
  openTestClickHouse,
  storedCounts,
  testConfig,
  testHitlist,
  toService,
  waitFor,
  type FlowSpec,
} from './test-helpers.js';

after(cleanupClickHouseDir);

const PARTITIONS = 3;
const quickClient = { connectionTimeout: 2_000, retry: { retries: 3, initialRetryTime: 50, maxRetryTime: 300 } };

/** Storage that, from its n-th insert on, stores the rows and then fails: a detector dying between insert and commit. */
class DiesAfter implements DetectorStorage {
  calls = 0;
  constructor(
    private readonly inner: DetectorStorage,
    private readonly n: number,
  ) {}
  ensureSchema() {
    return this.inner.ensureSchema();
  }
  async insert(rows: DetectorRows, done?: Set<keyof DetectorRows>) {
    if (++this.calls < this.n) return this.inner.insert(rows, done);
    await this.inner.insert(rows, new Set());
    throw new Error('injected: died after storing, before committing');
  }
  loadDayState(source: string, partition: number, day: string): Promise<StoredDayState> {
    return this.inner.loadDayState(source, partition, day);
  }
}

/**
 * `grouped`: ingest marks full batches (BATCH_CONTINUES), as under load, so the detector stores
 * each partition's rounds 0–2 and 3–5 as one group of three batches, keyed by its first offset:
 * a redelivery must regroup them the same way.
 */
async function diesAndResumes(t: TestContext, grouped: boolean): Promise<void> {
  const mock = await startKafkaMock({ topics: [{ name: 'flows', partitions: PARTITIONS }] });
  t.after(() => mock.stop());
  const config = testConfig(
    { rawLineIds: true, classThresholds: { 'acme-cam': { daily: 2 } } },
    { kafka: { brokers: mock.bootstrap, flowTopic: 'flows', consumerGroup: 'detectors' } },
  );

  // 24 lines; line i contacts cam1 in round 0 and, for even i, cam2 in round 3: the daily
  // threshold of 2 needs evidence from before and after the restart.
  const lines = Array.from({ length: 24 }, (_, i) => `100.64.${10 + (i >> 4)}.${i & 15}`);
  const partOf = (line: string) => partitionForBytes(parseAddress(line), 12, 4, PARTITIONS);
  const rounds: FlowSpec[][][] = [];
  for (let r = 0; r < 6; r++) {
    const perPart: FlowSpec[][] = Array.from({ length: PARTITIONS }, () => []);
    lines.forEach((line, i) => {
      const start = DAY_START + (r + 1) * H + i * 1000;
      const flows: FlowSpec[] = [toService(line, '203.0.113.50', start, { rate: r % 2 ? 1000 : 0 })];
      if (r === 0) flows.push(toService(line, CAM1, start + 1));
      if (r === 3 && i % 2 === 0) flows.push(toService(line, CAM2, start + 1));
      perPart[partOf(line)]!.push(...flows);
    });
    rounds.push(perPart);
  }
  assert.ok(
    rounds[0]!.every((p) => p.length > 0),
    'every partition gets lines',
  );

  // The reference, computed here from the flows themselves.
  const all = rounds.flat(2);
  const camFlows = all.filter((f) => f.dst === CAM1 || f.dst === CAM2);
  const refDaily = lines.filter((_, i) => i % 2 === 0).sort();
  const refHourly = new Set(camFlows.map((f) => `${f.src} ${Math.floor(f.start / H)}`));

  const sink = await KafkaFlowSink.connect({ kafka: config.kafka, client: { connectTimeout: 2_000, retries: 2, retryDelay: 50 } });
  t.after(() => sink.close());
  const publishRound = async (r: number) => {
    for (let p = 0; p < PARTITIONS; p++) {
      const batch = makeBatch(rounds[r]![p]!, DAY_START + r);
      // Rounds 0-1 and 3-4 "full": each partition's groups are offsets 0-2 and 3-5.
      if (grouped && r % 3 !== 2) batch.writeUInt8(BATCH_CONTINUES, 5);
      await sink.publish(p, batch);
    }
  };
  for (let r = 0; r < 3; r++) await publishRound(r);

  const ch = await openTestClickHouse('kafka');
  const storage = new ClickHouseDetectorStorage(ch, config.detector.retention);
  const hitlists = new MemoryHitlistStore();
  await hitlists.publish(testHitlist());
  const sourceOpts = { ...MOCK_CONSUMER_TIMINGS, fromBeginning: true, client: quickClient, retry: { initialMs: 20, maxMs: 200 }, concurrency: PARTITIONS };

  const start = async (st: DetectorStorage, stopTimeoutMs?: number): Promise<{ det: Detector; close: () => Promise<void> }> => {
    const transport = createFlowTransport(config, { source: sourceOpts });
    const det = createDetector({ config, log: captureLogger().log, source: transport.createSource(), hitlists, storage: st, stopTimeoutMs });
    await det.start();
    return {
      det,
      close: async () => {
        await det.stop();
        await transport.close();
      },
    };
  };

  // First detector: its 2nd insert and every one after it are stored but never acknowledged.
  // (Grouped, all of its traffic fits one or two inserts: then already the first one dies.)
  const dying = new DiesAfter(storage, grouped ? 1 : 2);
  const a = await start(dying, 1_000);
  await waitFor(() => dying.calls >= 3, 'the first detector storing and failing', 60_000);
  await a.close();
  const afterA = await committedOffsets(mock, 'detectors', 'flows');
  const committedA = afterA.reduce((x, y) => x + Math.max(0, y), 0);
  // Positions are keyed by a group's first batch: a stored key at or past the committed position is a batch stored, not committed.
  const storedA = await ch.query<{ p: number; last: string }>(
    `SELECT src_partition AS p, toString(max(src_offset)) AS last FROM ${ch.database}.${TABLES.flowQuality} GROUP BY p`,
  );
  assert.ok(
    storedA.some((r) => Number(r.last) >= (afterA[r.p] ?? -1)),
    `batches stored but not committed (stored through ${JSON.stringify(storedA)}, committed ${JSON.stringify(afterA)}, ${committedA} in all): the next member gets them again`,
  );

  // The rest of the traffic, then a second member resumes from the committed offsets.
  for (let r = 3; r < 6; r++) await publishRound(r);
  const b = await start(storage);
  await waitFor(async () => (await storedCounts(ch)).quality.records === all.length, 'every flow stored', 60_000);
  await waitFor(async () => (await committedOffsets(mock, 'detectors', 'flows')).every((o) => o === 6), 'every batch committed', 60_000);
  await b.close();
  await hitlists.close();

  const got = await storedCounts(ch);
  assert.equal(got.quality.records, all.length, 'every flow counted once');
  assert.equal(got.quality.unknown_rate, all.filter((f) => f.rate === 0).length);
  assert.equal(got.evidence.flows, camFlows.length, 'every matched flow counted once');
  assert.equal(got.activeLines, lines.length);
  const daily = got.detections.filter((d) => d.window === 'day' && d.class_id === 'acme-cam' && d.via === 'acme-cam').map((d) => d.line);
  assert.deepEqual(daily, refDaily, 'the daily detections, none lost or doubled');
  const hourly = got.detections.filter((d) => d.window === 'hour' && d.class_id === 'acme-cam' && d.via === 'acme-cam');
  assert.equal(hourly.length, refHourly.size);
  assert.deepEqual(new Set(hourly.map((d) => `${d.line} ${Date.parse(`${d.window_start.replace(' ', 'T')}Z`) / H}`)), refHourly);
  assert.ok(b.det.stats().stateLoads > 0, 'the second detector rebuilt its partitions from storage');
  if (grouped) {
    const keys = await ch.query<{ p: number; o: string }>(
      `SELECT DISTINCT src_partition AS p, toString(src_offset) AS o FROM ${ch.database}.${TABLES.flowQuality} FINAL ORDER BY p, o`,
    );
    assert.deepEqual(
      keys.map((k) => `${k.p}:${k.o}`),
      Array.from({ length: PARTITIONS }, (_, p) => [`${p}:0`, `${p}:3`]).flat(),
      'one quality row per group, keyed by its first offset',
    );
    const st = b.det.stats();
    assert.ok(st.groups > 0 && st.groups * 3 <= st.batches, `three batches per stored group (${st.groups} groups for ${st.batches} batches)`);
    assert.equal(st.heldBatches, 0, 'nothing held back once every group ended');
  }
  await ch.close();
}

test('Kafka consumer group (mock cluster): a detector dies between insert and commit, another resumes; no detection lost or doubled', (t) =>
  diesAndResumes(t, false));

test('Kafka consumer group, batches grouped (BATCH_CONTINUES): a detector dies between insert and commit, another resumes and regroups them the same way', (t) =>
  diesAndResumes(t, true));

test('Kafka, grouped: a detector stopped while a group is open hands its batches back unstored and uncommitted; the next one forms the same group, ended by the empty batch of ingest', async (t) => {
  const mock = await startKafkaMock({ topics: [{ name: 'flows', partitions: 1 }] });
  t.after(() => mock.stop());
  const config = testConfig({ rawLineIds: true }, { kafka: { brokers: mock.bootstrap, flowTopic: 'flows', consumerGroup: 'stoppers' } });
  const sink = await KafkaFlowSink.connect({ kafka: config.kafka, client: { connectTimeout: 2_000, retries: 2, retryDelay: 50 } });
  t.after(() => sink.close());
  const line = '100.64.10.1';
  const flows = (r: number): FlowSpec[] => [toService(line, CAM1, DAY_START + (r + 1) * H), toService(line, '203.0.113.50', DAY_START + (r + 1) * H + 1)];
  const publish = async (r: number, continues: boolean) => {
    const b = makeBatch(flows(r), DAY_START + r);
    if (continues) b.writeUInt8(BATCH_CONTINUES, 5);
    await sink.publish(0, b);
  };
  await publish(0, true);
  await publish(1, true);

  const ch = await openTestClickHouse('kafka_stop');
  const storage = new ClickHouseDetectorStorage(ch, config.detector.retention);
  const hitlists = new MemoryHitlistStore();
  await hitlists.publish(testHitlist());
  const sourceOpts = { ...MOCK_CONSUMER_TIMINGS, fromBeginning: true, client: quickClient, retry: { initialMs: 20, maxMs: 200 } };
  const logs = captureLogger();
  const run = async () => {
    const transport = createFlowTransport(config, { source: sourceOpts, logger: logs.log });
    const det = createDetector({ config, log: logs.log, source: transport.createSource(), hitlists, storage });
    await det.start();
    return { det, close: () => det.stop().then(() => transport.close()) };
  };

  const a = await run();
  await waitFor(() => a.det.stats().heldBatches === 2, 'both flagged batches held in an open group', 60_000);
  await a.close();
  assert.equal(a.det.stats().groupsAbandoned, 1);
  assert.equal((await storedCounts(ch)).quality.records, 0, 'nothing of the open group stored');
  assert.ok((await committedOffsets(mock, 'stoppers', 'flows'))[0]! <= 0, 'nothing committed');
  const warned = logs.lines.filter((l) => /"level":"(warn|error)"/.test(l) && /not stored/.test(l));
  assert.deepEqual(warned, [], 'batches handed back at stop are not reported as storage failures');

  // A third full batch, then the empty batch ingest sends when a run of full batches pauses.
  await publish(2, true);
  await sink.publish(0, makeBatch([], DAY_START + 3));
  const b = await run();
  await waitFor(async () => (await committedOffsets(mock, 'stoppers', 'flows'))[0] === 4, 'the group stored and committed', 60_000);
  await b.close();
  await hitlists.close();
  const got = await storedCounts(ch);
  assert.equal(got.quality.records, 6, 'every flow once');
  assert.equal(got.evidence.flows, 3, 'every matched flow once');
  const keys = await ch.query<{ o: string; l: string }>(
    `SELECT toString(src_offset) AS o, toString(src_offset_last) AS l FROM ${ch.database}.${TABLES.flowQuality} FINAL`,
  );
  assert.deepEqual(keys, [{ o: '0', l: '2' }], 'one group; its flows in batches 0 to 2, the empty batch 3 adds no row');
  assert.equal(b.det.stats().groups, 1, 'the empty batch ended the group');
  assert.equal(b.det.stats().batches, 4);
  await ch.close();
});
