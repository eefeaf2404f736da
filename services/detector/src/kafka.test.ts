import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress } from '@haystack/common';
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

test('Kafka consumer group (mock cluster): a detector dies between insert and commit, another resumes; no detection lost or doubled', async (t) => {
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
    for (let p = 0; p < PARTITIONS; p++) await sink.publish(p, makeBatch(rounds[r]![p]!, DAY_START + r));
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
  const dying = new DiesAfter(storage, 2);
  const a = await start(dying, 1_000);
  await waitFor(() => dying.calls >= 3, 'the first detector storing and failing', 60_000);
  await a.close();
  const afterA = await committedOffsets(mock, 'detectors', 'flows');
  const committedA = afterA.reduce((x, y) => x + Math.max(0, y), 0);
  const [storedA] = await ch.query<{ n: string }>(
    `SELECT count() AS n FROM (SELECT DISTINCT src_partition, src_offset FROM ${ch.database}.${TABLES.flowQuality})`,
  );
  assert.ok(
    Number(storedA!.n) > committedA,
    `batches stored but not committed (${storedA!.n} stored, ${committedA} committed): the next member gets them again`,
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
  await ch.close();
});
