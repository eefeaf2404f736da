import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { openBatch, FORMAT_VERSION } from '@haystack/flow-core';
import { committedOffsets, startKafkaMock, mockKafkaClient, MOCK_CONSUMER_TIMINGS, type KafkaMock, type KafkaMockTopic } from '@haystack/testkit/kafka-mock';
import { KafkaFlowSink, type KafkaSinkOptions } from './kafka-sink.js';
import { KafkaFlowSource, type KafkaSourceOptions } from './kafka-source.js';
import { GroupLagReader } from './kafka-lag.js';
import { BATCH_FORMAT_HEADER, KafkaTransportError, type KafkaSection } from './kafka-common.js';
import { TransportClosedError } from './util.js';
import { registerKafkajsCodecs } from './kafka-codecs.js';
import { batchTag, deferred, makeBatch, Observer } from './test-batches.js';

/** Kafka API keys used for fault injection (see the Kafka protocol guide). */
const PRODUCE = 0;
const NOT_LEADER_FOR_PARTITION = 6;
const MESSAGE_TOO_LARGE = 10;

async function withMock(t: TestContext, topics: KafkaMockTopic[], brokers = 1): Promise<KafkaMock> {
  const mock = await startKafkaMock({ brokers, topics });
  t.after(() => mock.stop());
  return mock;
}

function kafkaSection(mock: KafkaMock, over: Partial<KafkaSection> = {}): KafkaSection {
  return {
    brokers: mock.bootstrap,
    clientId: 'transport-test',
    flowTopic: 'flows',
    acks: -1,
    compression: 'none',
    consumerGroup: 'detector',
    ...over,
  };
}

/** Short kafkajs retries so failure paths finish quickly; the sink's own retry is what is under test. */
const quickClient = { connectionTimeout: 2_000, retry: { retries: 2, initialRetryTime: 50, maxRetryTime: 200 } };

/** The producer client's (@platformatic/kafka) retries, short for the same reason. */
const quickProducer = { connectTimeout: 2_000, retries: 2, retryDelay: 50 };

async function connectSink(t: TestContext, opts: KafkaSinkOptions): Promise<KafkaFlowSink> {
  const sink = await KafkaFlowSink.connect({ client: quickProducer, ...opts });
  t.after(() => sink.close());
  return sink;
}

function source(t: TestContext, opts: KafkaSourceOptions): KafkaFlowSource {
  const src = new KafkaFlowSource({ ...MOCK_CONSUMER_TIMINGS, fromBeginning: true, client: quickClient, retry: { initialMs: 20, maxMs: 200 }, ...opts });
  t.after(() => src.close());
  return src;
}

interface Received {
  partition: number;
  offset: string;
  seq: number;
  batch: Buffer;
}

/** High watermark of every partition: how many messages each one holds. */
async function highWatermarks(mock: KafkaMock, topic: string): Promise<number[]> {
  const admin = mockKafkaClient(mock).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.sort((a, b) => a.partition - b.partition).map((o) => Number(o.high));
  } finally {
    await admin.disconnect();
  }
}

test('Kafka: batches arrive byte-identical (CRC intact) in the partition asked for, topics of 1, 3 and 8 partitions', async (t) => {
  const counts = [1, 3, 8];
  const mock = await withMock(
    t,
    counts.map((n) => ({ name: `flows-${n}`, partitions: n })),
    3,
  );
  for (const n of counts) {
    const kafka = kafkaSection(mock, { flowTopic: `flows-${n}`, consumerGroup: `g-${n}` });
    const sink = await connectSink(t, { kafka });
    assert.equal(sink.partitions, n);

    const sent = new Map<string, Buffer>();
    const perPartition = 4;
    const pubs: Promise<void>[] = [];
    for (let seq = 0; seq < perPartition; seq++) {
      for (let p = 0; p < n; p++) {
        const b = makeBatch(p, seq, 1 + ((seq * 7 + p * 13) % 40));
        sent.set(`${p}:${seq}`, b);
        pubs.push(sink.publish(p, b));
      }
    }
    await Promise.all(pubs);
    assert.deepEqual(await highWatermarks(mock, kafka.flowTopic), Array(n).fill(perPartition));
    assert.equal(sink.stats().batches, n * perPartition);
    assert.equal(sink.stats().pending, 0);

    const got: Received[] = [];
    const obs = new Observer();
    const src = source(t, { kafka });
    await src.run(
      obs.guard(async (batch, meta) => {
        openBatch(batch); // magic, version, length and CRC
        got.push({ ...meta, seq: batchTag(batch).seq, batch });
      }),
    );
    await obs.waitFor(() => got.length === n * perPartition);
    await src.close();

    for (const r of got) {
      const { partition } = batchTag(r.batch);
      assert.equal(r.partition, partition, 'landed in the partition it was published to');
      assert.ok(r.batch.equals(sent.get(`${partition}:${r.seq}`)!), 'byte-identical');
    }
    for (let p = 0; p < n; p++) {
      const mine = got.filter((r) => r.partition === p);
      assert.deepEqual(
        mine.map((r) => r.seq),
        [0, 1, 2, 3],
        `partition ${p} in publish order`,
      );
      assert.deepEqual(
        mine.map((r) => r.offset),
        ['0', '1', '2', '3'],
      );
    }
    assert.deepEqual(await committedOffsets(mock, kafka.consumerGroup, kafka.flowTopic), Array(n).fill(perPartition));
    await sink.close();
  }
});

test('Kafka: gzip, lz4, zstd and acks 1/0 deliver the same bytes; key and header as documented', async (t) => {
  const mock = await withMock(t, [{ name: 'flows', partitions: 3 }]);
  const variants: Pick<KafkaSection, 'acks' | 'compression'>[] = [
    { acks: -1, compression: 'gzip' },
    { acks: 1, compression: 'none' },
    { acks: 0, compression: 'gzip' },
    { acks: -1, compression: 'lz4' },
    { acks: -1, compression: 'zstd' },
  ];
  const sent: Buffer[] = [];
  for (const [i, v] of variants.entries()) {
    const sink = await connectSink(t, { kafka: kafkaSection(mock, v) });
    for (let p = 0; p < 3; p++) {
      const b = makeBatch(p, i, 30);
      sent.push(b);
      await sink.publish(p, b);
    }
    await sink.close();
  }

  // Read with plain kafkajs (the consumer's client, with the codecs the transport registers) to
  // see exactly what is on the topic.
  registerKafkajsCodecs();
  const consumer = mockKafkaClient(mock).consumer({ groupId: 'raw', ...MOCK_CONSUMER_TIMINGS });
  t.after(() => consumer.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topics: ['flows'], fromBeginning: true });
  const seen: { partition: number; key: Buffer; header: string; value: Buffer }[] = [];
  const all = deferred();
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      seen.push({
        partition,
        key: message.key!,
        header: String(message.headers?.[BATCH_FORMAT_HEADER]),
        value: message.value!,
      });
      if (seen.length === sent.length) all.resolve();
    },
  });
  await all.promise;
  await consumer.disconnect();

  for (const s of seen) {
    assert.equal(s.key.length, 4);
    assert.equal(s.key.readUInt32BE(0), s.partition, 'key = partition, 4 bytes big-endian');
    assert.equal(s.header, String(FORMAT_VERSION));
    assert.equal(batchTag(s.value).partition, s.partition);
    assert.ok(sent.some((b) => b.equals(s.value)));
  }
  assert.equal(seen.length, 15);
});

test('Kafka sink: concurrent publishes share produce calls, split by size limits, order kept', async (t) => {
  const mock = await withMock(t, [{ name: 'flows', partitions: 2 }]);
  const sink = await connectSink(t, { kafka: kafkaSection(mock) });
  const pubs: Promise<void>[] = [];
  for (let seq = 0; seq < 25; seq++) for (let p = 0; p < 2; p++) pubs.push(sink.publish(p, makeBatch(p, seq)));
  await Promise.all(pubs);
  // Everything was published in one tick, so it went out as one call.
  assert.equal(sink.stats().requests, 1);
  assert.equal(sink.stats().batches, 50);

  // A per-partition cap of two batches per call splits the next 10 (one partition) into 5 calls.
  const size = makeBatch(0, 0).length;
  const small = await connectSink(t, { kafka: kafkaSection(mock), maxPartitionBytes: 2 * size });
  await Promise.all([...Array(10).keys()].map((i) => small.publish(0, makeBatch(0, 100 + i))));
  assert.equal(small.stats().requests, 5);
  assert.deepEqual(await highWatermarks(mock, 'flows'), [35, 25]);

  const got: number[] = [];
  const obs = new Observer();
  const src = source(t, { kafka: kafkaSection(mock) });
  await src.run(
    obs.guard(async (batch, meta) => {
      if (meta.partition === 0) got.push(batchTag(batch).seq);
    }),
  );
  await obs.waitFor(() => got.length === 35);
  await src.close();
  assert.deepEqual(got, [...[...Array(25).keys()], ...[...Array(10).keys()].map((i) => 100 + i)]);
});

test('Kafka sink: transient produce errors are retried with back-off; permanent ones fail clearly', async (t) => {
  const mock = await withMock(t, [{ name: 'flows', partitions: 2 }]);
  // The client gives up at once, so the sink's own retry is exercised.
  const sink = await connectSink(t, {
    kafka: kafkaSection(mock),
    client: { retries: 0 },
    retry: { initialMs: 10, maxMs: 50 },
  });
  await mock.command(`errors ${PRODUCE} ${NOT_LEADER_FOR_PARTITION},${NOT_LEADER_FOR_PARTITION},${NOT_LEADER_FOR_PARTITION}`);
  await Promise.all([sink.publish(0, makeBatch(0, 0)), sink.publish(1, makeBatch(1, 0))]);
  let s = sink.stats();
  assert.ok(s.retries >= 1, `retried (${s.retries})`);
  assert.equal(s.batches, 2);
  assert.equal(s.errors, 0);
  assert.deepEqual(await highWatermarks(mock, 'flows'), [1, 1], 'failed attempts wrote nothing');

  await mock.command(`errors ${PRODUCE} ${MESSAGE_TOO_LARGE}`);
  await assert.rejects(sink.publish(0, makeBatch(0, 1)), (e: Error) => {
    assert.ok(e instanceof KafkaTransportError);
    assert.match(e.message, /publishing 1 batch\(es\) to Kafka topic 'flows' failed/);
    return true;
  });
  s = sink.stats();
  assert.equal(s.errors, 1);
  // The sink stays usable.
  await sink.publish(0, makeBatch(0, 2));
  assert.deepEqual(await highWatermarks(mock, 'flows'), [2, 1]);
});

test('Kafka sink: a broker that stays down fails the publish after deliveryTimeoutMs; it recovers once back', async (t) => {
  const mock = await withMock(t, [{ name: 'flows', partitions: 1 }]);
  const sink = await connectSink(t, {
    kafka: kafkaSection(mock),
    client: { retries: 0, connectTimeout: 500 },
    retry: { initialMs: 20, maxMs: 100 },
    deliveryTimeoutMs: 600,
  });
  await sink.publish(0, makeBatch(0, 0));
  await mock.command('down 1');
  await assert.rejects(sink.publish(0, makeBatch(0, 1)), KafkaTransportError);
  assert.ok(sink.stats().retries >= 1);
  await mock.command('up 1');
  await sink.publish(0, makeBatch(0, 2));
  assert.deepEqual(await highWatermarks(mock, 'flows'), [2]);
});

test('Kafka sink: bad input and a missing topic give clear errors; nothing is auto-created', async (t) => {
  const mock = await withMock(t, [{ name: 'flows', partitions: 2 }]);
  await assert.rejects(
    KafkaFlowSink.connect({ kafka: kafkaSection(mock, { flowTopic: 'absent' }), client: quickProducer }),
    /Kafka topic 'absent' \(kafka\.flowTopic\) does not exist .*does not auto-create it/,
  );
  const src = source(t, { kafka: kafkaSection(mock, { flowTopic: 'absent' }) });
  await assert.rejects(
    src.run(async () => undefined),
    /Kafka topic 'absent'/,
  );
  const admin = mockKafkaClient(mock).admin();
  await admin.connect();
  assert.deepEqual(await admin.listTopics(), ['flows']);
  await admin.disconnect();

  assert.throws(() => new KafkaFlowSource({ kafka: kafkaSection(mock, { brokers: [] }) }), /kafka\.brokers is empty/);

  const sink = await connectSink(t, { kafka: kafkaSection(mock) });
  await assert.rejects(sink.publish(2, makeBatch(0, 0)), /partition 2 out of range: the flow topic has 2 partition/);
  await assert.rejects(sink.publish(0, Buffer.alloc(0)), /batch is empty/);
  await sink.close();
  await assert.rejects(sink.publish(0, makeBatch(0, 0)), TransportClosedError);
  assert.equal(sink.stats().batches, 0);
});

test('Kafka sink: unreachable brokers give a clear error', async () => {
  const mock = await startKafkaMock({ topics: [{ name: 'flows', partitions: 1 }] });
  await mock.stop(); // its port is now closed
  await assert.rejects(
    KafkaFlowSink.connect({ kafka: kafkaSection(mock), client: { connectTimeout: 500, retries: 1, retryDelay: 50 } }),
    /cannot connect to Kafka brokers 127\.0\.0\.1:\d+/,
  );
});

test('Kafka source: two members of a group split the partitions and each batch is handled once', async (t) => {
  const mock = await withMock(t, [{ name: 'flows', partitions: 4 }], 2);
  const kafka = kafkaSection(mock);
  const a = source(t, { kafka });
  const b = source(t, { kafka });
  const byMember = { a: [] as Received[], b: [] as Received[] };
  const obs = new Observer();
  const handlerFor = (who: 'a' | 'b') =>
    obs.guard(async (batch: Buffer, meta: { partition: number; offset: string }) => {
      byMember[who].push({ ...meta, seq: batchTag(batch).seq, batch });
    });
  a.onAssignment(() => obs.changed());
  b.onAssignment(() => obs.changed());
  void a.failed().then((e) => obs.fail(e));
  void b.failed().then((e) => obs.fail(e));
  await a.run(handlerFor('a'));
  await b.run(handlerFor('b'));
  const split = () => {
    const pa = a.assignment();
    const pb = b.assignment();
    return pa.length > 0 && pb.length > 0 && [...pa, ...pb].sort().join() === '0,1,2,3';
  };
  const state = () => ({
    a: a.assignment(),
    b: b.assignment(),
    crashes: [a.stats().crashes, b.stats().crashes],
    handled: [byMember.a.length, byMember.b.length],
  });
  await obs.waitFor(split, { what: 'the group to split partitions 0-3 between both members', state });

  const sink = await connectSink(t, { kafka });
  for (let seq = 0; seq < 5; seq++) for (let p = 0; p < 4; p++) await sink.publish(p, makeBatch(p, seq));
  await obs.waitFor(() => byMember.a.length + byMember.b.length === 20, { what: 'all 20 batches handled', state });
  await Promise.all([a.close(), b.close()]);

  const pa = new Set(byMember.a.map((r) => r.partition));
  const pb = new Set(byMember.b.map((r) => r.partition));
  assert.ok(pa.size > 0 && pb.size > 0, 'both members handled batches');
  assert.ok(
    [...pa].every((p) => !pb.has(p)),
    'no partition handled by both',
  );
  const keys = [...byMember.a, ...byMember.b].map((r) => `${r.partition}:${r.seq}`);
  assert.equal(new Set(keys).size, 20, 'each batch exactly once');
  assert.deepEqual(await committedOffsets(mock, kafka.consumerGroup, 'flows'), [5, 5, 5, 5]);
});

test('Kafka source: a stopped consumer commits what it handled; a new one resumes with nothing lost or repeated, a failing handler is retried', async (t) => {
  const mock = await withMock(t, [{ name: 'flows', partitions: 2 }]);
  const kafka = kafkaSection(mock);
  const sink = await connectSink(t, { kafka });
  const total = 24;
  for (let seq = 0; seq < total / 2; seq++) for (let p = 0; p < 2; p++) await sink.publish(p, makeBatch(p, seq));

  const first: string[] = [];
  const attempts: string[] = [];
  const errors: string[] = [];
  const stopHere = deferred();
  let thrown = false;
  const a = source(t, { kafka, onError: (_e, meta) => errors.push(`${meta?.partition}:${meta?.offset}`) });
  await a.run(async (batch, meta) => {
    const { partition, seq } = batchTag(batch);
    attempts.push(`${partition}:${seq}`);
    if (partition === 0 && seq === 2 && !thrown) {
      thrown = true;
      throw new Error('detector store briefly unavailable');
    }
    first.push(`${partition}:${seq}@${meta.offset}`);
    if (first.length === 9) stopHere.resolve();
  });
  await stopHere.promise;
  await a.close();
  assert.deepEqual(errors, ['0:2']);
  assert.equal(a.stats().handlerErrors, 1);
  assert.equal(attempts.filter((x) => x === '0:2').length, 2, 'the failed batch was retried');
  assert.ok(first.includes('0:2@2'), 'and then handled, not skipped');
  const committed = await committedOffsets(mock, kafka.consumerGroup, 'flows');
  assert.equal(
    committed.reduce((x, y) => x + Math.max(0, y), 0),
    first.length,
    'everything handled is committed',
  );

  const second: string[] = [];
  const obs = new Observer();
  const b = source(t, { kafka });
  await b.run(
    obs.guard(async (batch, meta) => {
      const { partition, seq } = batchTag(batch);
      second.push(`${partition}:${seq}@${meta.offset}`);
    }),
  );
  void b.failed().then((e) => obs.fail(e));
  await obs.waitFor(() => first.length + second.length === total, {
    what: `all ${total} batches handled`,
    state: () => ({ first: first.length, second: second.length, stats: b.stats() }),
  });
  await b.close();
  const all = [...first, ...second];
  assert.equal(new Set(all).size, total, 'nothing lost, nothing handled twice');
  for (const x of all) {
    const [, rest] = x.split(':');
    const [seq, offset] = rest!.split('@');
    assert.equal(seq, offset);
  }
  assert.deepEqual(await committedOffsets(mock, kafka.consumerGroup, 'flows'), [total / 2, total / 2]);
  assert.equal(b.stats().delivered, second.length);
});

/** Kafka API key of JoinGroup and error codes kafkajs treats as not retriable. */
const JOIN_GROUP = 11;
const UNKNOWN_SERVER_ERROR = -1;
const GROUP_AUTHORIZATION_FAILED = 30;

test('Kafka source: a consumer kafkajs gives up on (non-retriable join error) is replaced and delivers everything', async (t) => {
  const mock = await withMock(t, [{ name: 'flows', partitions: 2 }]);
  const kafka = kafkaSection(mock);
  const sink = await connectSink(t, { kafka });
  for (let seq = 0; seq < 3; seq++) for (let p = 0; p < 2; p++) await sink.publish(p, makeBatch(p, seq));

  await mock.command(`errors ${JOIN_GROUP} ${UNKNOWN_SERVER_ERROR}`);
  const got: string[] = [];
  const crashes: unknown[] = [];
  const obs = new Observer();
  const src = source(t, { kafka, restart: { initialMs: 50 }, onError: (e, meta) => meta === undefined && crashes.push(e) });
  void src.failed().then((e) => obs.fail(e));
  await src.run(obs.guard(async (batch, meta) => void got.push(`${meta.partition}:${batchTag(batch).seq}`)));
  await obs.waitFor(() => got.length === 6, { what: 'all 6 batches handled by the replacement consumer', state: () => ({ got, stats: src.stats() }) });
  await src.close();
  assert.equal(crashes.length, 1, 'the injected join failure crashed the first consumer');
  assert.match(String(crashes[0]), /unexpected error/);
  assert.equal(src.stats().restarts, 1);
  assert.deepEqual([...got].sort(), ['0:0', '0:1', '0:2', '1:0', '1:1', '1:2']);
  assert.deepEqual(await committedOffsets(mock, kafka.consumerGroup, 'flows'), [3, 3]);
});

test('Kafka source: an authorization failure is not retried forever: failed() reports it', async (t) => {
  const mock = await withMock(t, [{ name: 'flows', partitions: 1 }]);
  const kafka = kafkaSection(mock);
  await mock.command(`errors ${JOIN_GROUP} ${GROUP_AUTHORIZATION_FAILED}`);
  const src = source(t, { kafka, restart: { initialMs: 50 } });
  await src.run(async () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const err = await Promise.race([
    src.failed(),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('failed() did not settle within 30 s')), 30_000))),
  ]).finally(() => clearTimeout(timer));
  assert.ok(err instanceof KafkaTransportError);
  assert.match(err.message, /consumer of group 'detector' stopped: .*authoriz/i);
  assert.equal(src.stats().restarts, 0);
  await src.close();
});

test('Kafka source: pipelined storage — later batches are delivered while earlier ones are stored; only the stored prefix is committed; a failed store is delivered again with what followed', async (t) => {
  const mock = await withMock(t, [{ name: 'flows', partitions: 1 }]);
  const kafka = kafkaSection(mock);
  const sink = await connectSink(t, { kafka });
  for (let seq = 0; seq < 6; seq++) await sink.publish(0, makeBatch(0, seq));

  const stores = new Map<number, { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void }>();
  const deliveries: number[] = [];
  const errors: string[] = [];
  const obs = new Observer();
  const src = source(t, { kafka, maxInFlight: 8, commitIntervalMs: 20, onError: (_e, meta) => errors.push(`${meta?.partition}:${meta?.offset}`) });
  await src.run(
    obs.guard(async (batch) => {
      const { seq } = batchTag(batch);
      deliveries.push(seq);
      if (stores.has(seq)) return; // delivered again: stored at once
      const d = deferred<void>();
      stores.set(seq, { promise: d.promise, resolve: () => d.resolve(), reject: d.reject });
      return { stored: d.promise };
    }),
  );
  const state = () => ({ deliveries, stats: src.stats() });
  await obs.waitFor(() => deliveries.length === 6, { what: 'all six batches delivered before any is stored', state });
  assert.deepEqual(deliveries, [0, 1, 2, 3, 4, 5]);

  stores.get(0)!.resolve();
  stores.get(1)!.resolve();
  stores.get(3)!.resolve(); // stored, but after a batch that is not
  const committed = async (want: number) => {
    const until = Date.now() + 20_000;
    let got = -1;
    while (Date.now() < until && (got = (await committedOffsets(mock, kafka.consumerGroup, 'flows'))[0]!) !== want) await new Promise((r) => setTimeout(r, 50));
    return got;
  };
  assert.equal(await committed(2), 2, 'batches 0 and 1 stored: position 2 committed, not beyond the unstored 2');

  stores.get(2)!.reject(new Error('insert failed'));
  stores.get(4)!.resolve();
  stores.get(5)!.resolve();
  await obs.waitFor(() => deliveries.length === 10, { what: 'batches 2-5 delivered again', state });
  assert.deepEqual(deliveries.slice(6), [2, 3, 4, 5]);
  assert.deepEqual(errors, ['0:2']);
  await src.close();
  assert.deepEqual(await committedOffsets(mock, kafka.consumerGroup, 'flows'), [6]);
  assert.equal(src.stats().handlerErrors, 1);
});

test('Kafka source: more members than partitions — the group settles with an idle member, every batch is handled once, the idle member takes over when the other leaves', async (t) => {
  const mock = await withMock(t, [{ name: 'flows', partitions: 1 }]);
  const kafka = kafkaSection(mock);
  const obs = new Observer();
  const seen = { a: [] as number[], b: [] as number[] };
  const a = source(t, { kafka });
  const b = source(t, { kafka });
  a.onAssignment(() => obs.changed());
  b.onAssignment(() => obs.changed());
  await a.run(obs.guard(async (batch) => void seen.a.push(batchTag(batch).seq)));
  await b.run(obs.guard(async (batch) => void seen.b.push(batchTag(batch).seq)));
  const state = () => ({ a: a.assignment(), b: b.assignment(), seen });
  // kafkajs's own assigner leaves the idle member out of SyncGroup; the mock then rebalanced forever.
  await obs.waitFor(() => [...a.assignment(), ...b.assignment()].join() === '0' && (a.assignment().length === 0) !== (b.assignment().length === 0), {
    what: 'one member with partition 0, one idle',
    state,
  });
  const [busy, idle] = a.assignment().length ? ([a, b] as const) : ([b, a] as const);

  const sink = await connectSink(t, { kafka });
  for (let seq = 0; seq < 5; seq++) await sink.publish(0, makeBatch(0, seq));
  await obs.waitFor(() => seen.a.length + seen.b.length === 5, { what: 'the first 5 batches', state });
  await busy.close();
  await obs.waitFor(() => idle.assignment().join() === '0', { what: 'the idle member to take partition 0', state });
  for (let seq = 5; seq < 10; seq++) await sink.publish(0, makeBatch(0, seq));
  await obs.waitFor(() => seen.a.length + seen.b.length === 10, { what: 'all 10 batches', state });
  await idle.close();
  assert.deepEqual(
    [...seen.a, ...seen.b].sort((x, y) => x - y),
    [...Array(10).keys()],
    'each batch exactly once',
  );
  assert.deepEqual(await committedOffsets(mock, kafka.consumerGroup, 'flows'), [10]);
});

test('Kafka lag: the detector group’s committed offsets against the high watermarks, per partition, as the console reads it', async (t) => {
  const mock = await withMock(t, [{ name: 'flows', partitions: 2 }]);
  const kafka = kafkaSection(mock);
  const reader = new GroupLagReader(kafka, { client: quickClient, minIntervalMs: 0 });
  t.after(() => reader.close());
  const sink = await connectSink(t, { kafka });
  for (let seq = 0; seq < 4; seq++) await sink.publish(0, makeBatch(0, seq));
  await sink.publish(1, makeBatch(1, 0));
  // Nothing committed yet: detectors start from the oldest retained batch, so all of it is lag.
  assert.deepEqual(await reader.read(), {
    topic: 'flows',
    groupId: 'detector',
    batches: 5,
    partitions: [
      { partition: 0, high: 4, committed: null, lag: 4 },
      { partition: 1, high: 1, committed: null, lag: 1 },
    ],
  });

  // A real consumer of the group takes in everything and commits; then more arrives while it is stopped.
  let handled = 0;
  const seen: string[] = [];
  const obs = new Observer();
  const src = source(t, { kafka });
  await src.run(
    obs.guard(async (_b, meta) => {
      // The member's own view (the detector's metric): batches behind the end as of the last fetch.
      if (meta.partition === 0) seen.push(JSON.stringify(src.lag().filter((l) => l.partition === 0)));
      handled++;
    }),
  );
  await obs.waitFor(() => handled === 5);
  assert.equal(seen[1], JSON.stringify([{ partition: 0, batches: 3 }]), 'after the first of four batches: three behind');
  // The last batch's position is taken once its handler has returned.
  const caughtUp = () => src.lag().length === 2 && src.lag().every((l) => l.batches === 0);
  for (let i = 0; i < 100 && !caughtUp(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(
    src.lag().sort((a, b) => a.partition - b.partition),
    [
      { partition: 0, batches: 0 },
      { partition: 1, batches: 0 },
    ],
  );
  await src.close();
  for (let seq = 4; seq < 7; seq++) await sink.publish(0, makeBatch(0, seq));
  const lag = await reader.read();
  assert.ok('batches' in lag, JSON.stringify(lag));
  assert.equal(lag.batches, 3);
  assert.deepEqual(
    lag.partitions.map((p) => [p.partition, p.high, p.committed, p.lag]),
    [
      [0, 7, 4, 3],
      [1, 1, 1, 0],
    ],
  );

  // Brokers gone: a reason, not an exception (the quality page keeps rendering).
  await mock.stop();
  const down = await new GroupLagReader(kafka, { client: { connectionTimeout: 300, retry: { retries: 0 } }, minIntervalMs: 0 }).read();
  assert.ok('error' in down);
  assert.match(down.error, /127\.0\.0\.1:\d+/);
});
