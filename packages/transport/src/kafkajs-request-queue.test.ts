import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startKafkaMock, MOCK_CONSUMER_TIMINGS } from '@haystack/testkit/kafka-mock';
import { KafkaFlowSink } from './kafka-sink.js';
import { KafkaFlowSource } from './kafka-source.js';
import { batchTag, makeBatch, Observer } from './test-batches.js';
import { stopIdleRequestQueuePolling } from './kafkajs-request-queue.js';

const require = createRequire(import.meta.url);

test('Kafka source: an idle consumer does not poll its empty request queues, warns nothing, and still receives what comes later', async (t) => {
  // Fails at once (rather than leaving kafkajs' 1 ms timers to keep the test alive) when a kafkajs
  // update no longer has the shape the fix relies on.
  assert.equal(stopIdleRequestQueuePolling(), true, 'the fix applies to the installed kafkajs');
  const mock = await startKafkaMock({ topics: [{ name: 'flows', partitions: 2 }] });
  t.after(() => mock.stop());
  const kafka = { brokers: mock.bootstrap, clientId: 'idle-test', flowTopic: 'flows', acks: -1, compression: 'none', consumerGroup: 'detector' } as const;
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));

  const src = new KafkaFlowSource({ ...MOCK_CONSUMER_TIMINGS, fromBeginning: true, kafka });
  t.after(() => src.close());
  const obs = new Observer();
  const seen: number[] = [];
  void src.failed().then((e) => obs.fail(e));
  src.onAssignment(() => obs.changed());
  await src.run(obs.guard(async (batch: Buffer) => void seen.push(batchTag(batch).seq)));
  await obs.waitFor(() => src.assignment().length === 2, { what: 'both partitions assigned' });

  // Count how often the connections look at their queues while nothing is asked of them but
  // fetches (every maxWaitTimeInMs = 100 ms) and heartbeats (500 ms). Unfixed kafkajs re-arms a
  // 1 ms timer per connection after every response: thousands of checks in two seconds.
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: { checkPendingRequests(): void } };
  const check = RequestQueue.prototype.checkPendingRequests;
  let checks = 0;
  RequestQueue.prototype.checkPendingRequests = function (this: unknown) {
    checks++;
    check.call(this);
  };
  t.after(() => (RequestQueue.prototype.checkPendingRequests = check));
  await new Promise((r) => setTimeout(r, 2_000));
  assert.ok(checks < 300, `idle connections checked their empty queues ${checks} times in 2 s`);

  const sink = await KafkaFlowSink.connect({ kafka, client: { connectTimeout: 2_000, retries: 2, retryDelay: 50 } });
  t.after(() => sink.close());
  await sink.publish(0, makeBatch(0, 7));
  await sink.publish(1, makeBatch(1, 8));
  await obs.waitFor(() => seen.length === 2, { what: 'both batches handled after the idle spell' });
  assert.deepEqual(seen.sort(), [7, 8]);
  assert.deepEqual(
    warnings.filter((w) => w.startsWith('TimeoutNegativeWarning')),
    [],
  );
  await sink.close();
  await src.close();
});
