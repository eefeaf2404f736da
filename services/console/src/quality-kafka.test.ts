import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MOCK_CONSUMER_TIMINGS, startKafkaMock } from '@haystack/testkit/kafka-mock';
import { KafkaFlowSink, KafkaFlowSource } from '@haystack/transport';
import { makeBatch } from '@haystack/transport/test-batches';
import { captureLogger, cleanupClickHouseDir, openTestClickHouse, tempDir, testConfig } from '@haystack/detector/test-helpers';
import { createConsole, firstToken } from './index.js';
import type { LiveQuality } from './live.js';

/**
 * The console of the distributed deployment (no live counters of its own) reads the detector
 * group's lag from the brokers over the Kafka wire protocol (librdkafka's mock cluster).
 */
test('quality with Kafka: the detector group’s lag per partition, in the API and on the page; brokers down is said, not hidden', async (t) => {
  t.after(cleanupClickHouseDir);
  const tmp = tempDir('console-kafka-');
  t.after(tmp.cleanup);
  const mock = await startKafkaMock({ topics: [{ name: 'haystack.flows', partitions: 2 }] });
  t.after(() => mock.stop());
  const kafka = { ...testConfig().kafka, brokers: mock.bootstrap };
  const sink = await KafkaFlowSink.connect({ kafka });
  t.after(() => sink.close());
  // The detector group takes in partition 0's first two batches and commits; then three more
  // arrive on 0 and one on 1, whose offset the group has never committed.
  for (let seq = 0; seq < 2; seq++) await sink.publish(0, makeBatch(0, seq));
  let handled = 0;
  const src = new KafkaFlowSource({ kafka, ...MOCK_CONSUMER_TIMINGS, fromBeginning: true });
  await src.run(async () => void handled++);
  for (let i = 0; i < 200 && handled < 2; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(handled, 2);
  await src.close();
  for (let seq = 2; seq < 5; seq++) await sink.publish(0, makeBatch(0, seq));
  await sink.publish(1, makeBatch(1, 0));

  const ch = await openTestClickHouse('console_kafka');
  const config = testConfig({}, { stateDir: join(tmp.dir, 'state'), kafka: { brokers: mock.bootstrap }, console: { listen: '127.0.0.1:0' } });
  config.clickhouse.database = ch.database;
  const srv = await createConsole({ config, log: captureLogger().log, store: ch });
  t.after(async () => {
    await srv.stop();
    await ch.close();
  });
  const base = await srv.start();
  const token = firstToken(join(tmp.dir, 'state', 'console', 'tokens'))!;

  const q = (await (await fetch(`${base}/api/v1/quality`, { headers: { authorization: `Bearer ${token}` } })).json()) as LiveQuality;
  assert.equal(q.live, false);
  assert.ok(q.kafka && 'partitions' in q.kafka, JSON.stringify(q.kafka));
  assert.equal(q.kafka.groupId, 'haystack-detector');
  assert.equal(q.kafka.batches, 4, 'three behind on partition 0, and partition 1 never committed: its one batch');
  assert.deepEqual(
    q.kafka.partitions.map((p) => [p.partition, p.high, p.committed, p.lag]),
    [
      [0, 5, 2, 3],
      [1, 1, null, 1],
    ],
  );

  const login = await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ token, next: '/quality' }), redirect: 'manual' });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const page = await (await fetch(`${base}/quality`, { headers: { cookie } })).text();
  assert.match(
    page,
    /Kafka consumer lag \(group haystack-detector, topic haystack\.flows\)<\/div><div class="[^"]*" data-k="[^"]*">4 batches \(1 partition\(s\) never committed: all they retain counts\)/,
  );
  assert.match(page, /id="kafka-lag"/);

  await mock.stop();
  await new Promise((r) => setTimeout(r, 5_100)); // past the reader's reuse interval
  const down = (await (await fetch(`${base}/api/v1/quality`, { headers: { authorization: `Bearer ${token}` } })).json()) as LiveQuality;
  assert.ok(down.kafka && 'error' in down.kafka, JSON.stringify(down.kafka));
  assert.match(down.kafka.error, /127\.0\.0\.1:\d+/);
});
