import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAddress } from '@haystack/common';
import { openClickHouse } from '@haystack/clickhouse';
import { writeHitlistJson } from '@haystack/hitlist';
import { committedOffsets, mockKafkaClient, startKafkaMock } from '@haystack/testkit/kafka-mock';
import { serveClickHouseHttp } from '@haystack/testkit/clickhouse-http';
import { freePort } from '@haystack/testkit/ports';
import { KafkaFlowSink, partitionForBytes } from '@haystack/transport';
import {
  CAM1,
  CAM2,
  DAY,
  DAY_START,
  H,
  makeBatch,
  storedCounts,
  tempDir,
  testHitlist,
  toService,
  waitFor,
  type FlowSpec,
} from '@haystack/detector/test-helpers';

/**
 * Detectors on several machines, as real `haystack detect` processes of one consumer group on a
 * three-broker Kafka (librdkafka's mock cluster) and one ClickHouse database (the embedded
 * engine behind ClickHouse's HTTP interface, testkit/clickhouse-http): a detector killed mid-day
 * (its partitions move, the day's state is rebuilt, nothing doubled), a broker down while flows
 * keep coming, and a slow ClickHouse (the consumer falls behind in Kafka, not in memory).
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const main = join(repoRoot, 'apps', 'cli', 'dist', 'main.js');
const tmp = tempDir('detector-failover-');
after(tmp.cleanup);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PARTITIONS = 6;
const KEY = 'failover-test-line-key-0123456789abcdef';

interface Detector {
  name: string;
  child: ChildProcess;
  metric: (name: string) => Promise<number | null>;
  stderr: () => string;
}

test('detectors of one group on three brokers: one killed mid-day, a broker down, a slow ClickHouse — every flow stored once, the day rebuilt', async (t) => {
  const ch = await serveClickHouseHttp({ path: join(tmp.dir, 'chdb') });
  t.after(() => ch.stop());
  const mock = await startKafkaMock({ brokers: 3, topics: [{ name: 'flows', partitions: PARTITIONS }] });
  t.after(() => mock.stop());
  const children: ChildProcess[] = [];
  t.after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  const startDetector = async (name: string): Promise<Detector> => {
    const stateDir = join(tmp.dir, name);
    mkdirSync(join(stateDir, 'hitlist', DAY), { recursive: true });
    await writeHitlistJson(join(stateDir, 'hitlist', DAY, 'hitlist.json'), testHitlist());
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HAYSTACK_')) env[k] = v;
    Object.assign(env, {
      HAYSTACK_STATE_DIR: stateDir,
      HAYSTACK_LOG_LEVEL: 'info',
      HAYSTACK_METRICS__LISTEN: `127.0.0.1:${port}`,
      HAYSTACK_DETECTOR__RULES_DIR: join(repoRoot, 'rules'),
      HAYSTACK_DETECTOR__LINE_KEY: KEY,
      HAYSTACK_KAFKA__BROKERS: mock.bootstrap.join(','),
      HAYSTACK_KAFKA__FLOW_TOPIC: 'flows',
      HAYSTACK_KAFKA__CONSUMER_GROUP: 'det',
      HAYSTACK_KAFKA__SESSION_TIMEOUT_MS: '6000',
      HAYSTACK_CLICKHOUSE__URL: ch.url,
    });
    const child = spawn(process.execPath, [main, 'detect'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const metric = async (m: string): Promise<number | null> => {
      try {
        const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        let sum: number | null = null;
        for (const x of body.matchAll(new RegExp(`^${m}(?:\\{[^}]*\\})? (\\d+)$`, 'gm'))) sum = (sum ?? 0) + Number(x[1]);
        return sum;
      } catch {
        return null;
      }
    };
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`detector ${name} exited: ${err.slice(-2000)}`);
        return (await metric('haystack_detector_batches_total')) !== null;
      },
      `detector ${name} serving metrics`,
      60_000,
    );
    return { name, child, metric, stderr: () => err };
  };

  // 36 lines over six partitions; in every round each line talks to a non-IoT service, and in
  // rounds 0 and 4 to a camera backend: a line's day spans the failover.
  const lines = Array.from({ length: 36 }, (_, i) => `100.64.${20 + (i >> 4)}.${i & 15}`);
  const partOf = (line: string) => partitionForBytes(parseAddress(line), 12, 4, PARTITIONS);
  const ROUNDS = 8;
  const round = (r: number): FlowSpec[][] => {
    const perPart: FlowSpec[][] = Array.from({ length: PARTITIONS }, () => []);
    lines.forEach((line, i) => {
      const start = DAY_START + (r + 1) * H + i * 1000;
      perPart[partOf(line)]!.push(toService(line, '203.0.113.50', start, { rate: 100 }));
      if (r === 0 && i % 3 === 0) perPart[partOf(line)]!.push(toService(line, CAM1, start + 1, { rate: 100 }));
      if (r === 4 && i % 2 === 0) perPart[partOf(line)]!.push(toService(line, CAM2, start + 1, { rate: 100 }));
    });
    return perPart;
  };
  const rounds = Array.from({ length: ROUNDS }, (_, r) => round(r));
  // The slow phase: 50 batches per partition (more than the 32 a partition keeps in flight).
  const SLOW = 50;
  const slow: FlowSpec[][][] = Array.from({ length: SLOW }, (_, k) =>
    round(ROUNDS).map((flows) => flows.map((f) => ({ ...f, start: f.start + k * 60_000, end: f.start + k * 60_000 }))),
  );
  const all = [...rounds.flat(2), ...slow.flat(2)];
  const camLines = new Set(all.filter((f) => f.dst === CAM1 || f.dst === CAM2).map((f) => f.src));
  const sink = await KafkaFlowSink.connect({
    kafka: { brokers: mock.bootstrap, clientId: 'failover-test', flowTopic: 'flows', acks: -1, compression: 'none', consumerGroup: 'det' },
  });
  t.after(() => sink.close());
  const publish = async (r: number) => {
    for (let p = 0; p < PARTITIONS; p++) await sink.publish(p, makeBatch(rounds[r]![p]!, DAY_START + r));
  };
  const committedOffsetsHigh = async () => {
    const admin = mockKafkaClient(mock).admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets('flows')).reduce((s, o) => s + Number(o.high), 0);
    } finally {
      await admin.disconnect();
    }
  };
  const committed = async () => (await committedOffsets(mock, 'det', 'flows')).reduce((s, o) => s + Math.max(0, o), 0);

  // Two detectors share the partitions.
  const a = await startDetector('a');
  const b = await startDetector('b');
  for (let r = 0; r < 3; r++) await publish(r);
  await waitFor(async () => (await committed()) === 3 * PARTITIONS, 'rounds 0–2 stored and committed', 90_000);
  const [byA, byB] = [await a.metric('haystack_detector_batches_total'), await b.metric('haystack_detector_batches_total')];
  assert.ok(byA! > 0 && byB! > 0, `both detectors took partitions (a ${byA}, b ${byB})`);

  // Detector a's machine is lost: no goodbye, its partitions move to b after the session timeout.
  a.child.kill('SIGKILL');
  await publish(3);
  await publish(4);
  // A broker goes down while flows keep coming, and comes back.
  await mock.command('down 2');
  const during = publish(5);
  await sleep(3_000);
  await mock.command('up 2');
  await during;
  await waitFor(async () => (await committed()) === 6 * PARTITIONS, 'rounds 3–5 stored by b', 120_000);
  assert.ok((await b.metric('haystack_detector_state_rebuilds_total'))! > 0, "b rebuilt the day's state of the partitions it took over");

  // ClickHouse slows down: b stops taking batches in at 32 per partition in flight and falls
  // behind in Kafka (lag), not in memory; it catches up after.
  ch.insertDelayMs = 300;
  await publish(6);
  await publish(7);
  const before = await committed();
  for (const batches of slow) for (let p = 0; p < PARTITIONS; p++) await sink.publish(p, makeBatch(batches[p]!, DAY_START + ROUNDS));
  const high = (await committedOffsetsHigh()) as number;
  let lagSeen = 0;
  await waitFor(
    async () => {
      lagSeen = Math.max(lagSeen, (await b.metric('haystack_detector_kafka_lag_batches')) ?? 0);
      return lagSeen > 0;
    },
    'lag while ClickHouse is slow',
    30_000,
  );
  ch.insertDelayMs = 0;
  await waitFor(async () => (await committed()) === high, 'everything stored once ClickHouse is fast again', 120_000);
  assert.equal(high - before, (2 + SLOW) * PARTITIONS);
  assert.ok(lagSeen > 0);
  b.child.kill('SIGTERM');
  const code =
    b.child.exitCode ??
    (await Promise.race([
      new Promise<number | null>((r) => b.child.once('exit', (c) => r(c))),
      sleep(30_000).then(() => {
        throw new Error(`detector b did not stop within 30 s of SIGTERM: ${b.stderr().slice(-3000)}`);
      }),
    ]));
  assert.equal(code, 0, b.stderr().slice(-3000));

  const store = await openClickHouse({ url: ch.url, database: 'haystack' });
  t.after(() => store.close());
  const got = await storedCounts(store);
  assert.equal(got.quality.records, all.length, 'every flow counted once, across the kill, the broker and the slow inserts');
  assert.equal(got.evidence.flows, all.filter((f) => f.dst === CAM1 || f.dst === CAM2).length, 'every matched flow once');
  assert.equal(got.activeLines, lines.length);
  const daily = got.detections.filter((d) => d.window === 'day' && d.via === d.class_id);
  assert.equal(new Set(daily.map((d) => `${d.class_id} ${d.line}`)).size, daily.length, 'no detection doubled');
  assert.equal(new Set(daily.map((d) => d.line)).size, camLines.size, 'every line that talked to a camera backend detected');
});
