import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '@haystack/common';
import { startKafkaMock, MOCK_CONSUMER_TIMINGS } from '@haystack/testkit/kafka-mock';
import { createFlowTransport, type FlowTransport } from './factory.js';
import { KafkaFlowSink } from './kafka-sink.js';
import { MemoryBus } from './memory-bus.js';
import { batchTag, makeBatch, Observer } from './test-batches.js';

async function roundTrip(transport: FlowTransport): Promise<string[]> {
  const sink = await transport.connectSink();
  const got: string[] = [];
  const obs = new Observer();
  const src = transport.createSource();
  await src.run(
    obs.guard(async (batch, meta) => {
      const { partition, seq } = batchTag(batch);
      assert.equal(partition, meta.partition);
      got.push(`${partition}:${seq}`);
    }),
  );
  for (let seq = 0; seq < 3; seq++) for (let p = 0; p < sink.partitions; p++) await sink.publish(p, makeBatch(p, seq));
  await obs.waitFor(() => got.length === 3 * sink.partitions);
  await transport.close();
  return got.sort();
}

test('createFlowTransport: empty kafka.brokers → the in-process bus', async () => {
  const config = configSchema.parse({});
  assert.deepEqual(config.kafka.brokers, []);
  const transport = createFlowTransport(config, { memory: { partitions: 2 } });
  assert.equal(transport.mode, 'memory');
  assert.ok(transport.bus instanceof MemoryBus);
  assert.deepEqual(await roundTrip(transport), ['0:0', '0:1', '0:2', '1:0', '1:1', '1:2']);
  assert.equal(transport.bus.stats().delivered, 6);
  await assert.rejects((await transport.connectSink()).publish(0, makeBatch(0, 9)), /closed/);
});

test('createFlowTransport: kafka.brokers set → Kafka sink and consumer-group source', async (t) => {
  const mock = await startKafkaMock({ topics: [{ name: 'haystack.flows', partitions: 3 }] });
  t.after(() => mock.stop());
  const config = configSchema.parse({ kafka: { brokers: mock.bootstrap, clientId: 'factory-test' } });
  const transport = createFlowTransport(config, { source: { ...MOCK_CONSUMER_TIMINGS, fromBeginning: true } });
  t.after(() => transport.close());
  assert.equal(transport.mode, 'kafka');
  assert.equal(transport.bus, undefined);
  assert.deepEqual(await roundTrip(transport), ['0:0', '0:1', '0:2', '1:0', '1:1', '1:2', '2:0', '2:1', '2:2']);
  const sink = await transport.connectSink();
  assert.ok(sink instanceof KafkaFlowSink);
  assert.equal(sink.partitions, 3);
  await sink.close();
});
