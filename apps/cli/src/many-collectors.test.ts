import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchWriter, decodeHealth, isHealth, openBatch, records, type DomainHealth } from '@haystack/flow-core';
import { FlowDecoder, IE, PacketBuilder, type FieldSpec } from '@haystack/decoders';
import { readAllUdp } from '@haystack/pcap';
import { mockKafkaClient, MOCK_CONSUMER_TIMINGS, startKafkaMock, type KafkaMock } from '@haystack/testkit/kafka-mock';
import { startRedis } from '@haystack/testkit/redis';
import { makeTrafficPcap } from '@haystack/testkit/exporters-traffic';
import { runSoftflowd } from '@haystack/testkit/exporters-run';
import { tempDir, waitFor } from '@haystack/detector/test-helpers';
import { freePort } from '@haystack/testkit/ports';
import { registerKafkajsCodecs, stopIdleRequestQueuePolling } from '@haystack/transport';

// The collectors compress their batches (kafka.compression, lz4 by default): this test's raw
// kafkajs reader needs the codecs the detector's consumer uses, and its idle-queue fix.
registerKafkajsCodecs();
stopIdleRequestQueuePolling();

/**
 * Several collectors behind one address: real `haystack ingest` processes sharing templates
 * through a real Redis, publishing to Kafka (librdkafka's mock cluster). An exporter that moves
 * from one collector to another between two template refreshes, and real exporters' streams
 * (softflowd NetFlow v9 and IPFIX) spread per packet over two collectors: every record reaches
 * Kafka exactly once, and no collector counts the other's packets as loss.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const main = join(repoRoot, 'apps', 'cli', 'dist', 'main.js');
const tmp = tempDir('many-collectors-');
after(tmp.cleanup);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Collector {
  name: string;
  port: number;
  child: ChildProcess;
  stderr: () => string;
}

/** Start `haystack ingest` named `name`, its templates in Redis, one port for every protocol. */
async function startCollector(name: string, redisUrl: string, mock: KafkaMock, topic: string, children: ChildProcess[]): Promise<Collector> {
  const [port, sflowPort, ipfixPort, metricsPort] = [await freePort('udp'), await freePort('udp'), await freePort('udp'), await freePort('tcp')];
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HAYSTACK_')) env[k] = v;
  Object.assign(env, {
    HAYSTACK_STATE_DIR: join(tmp.dir, `state-${name}-${topic}`),
    HAYSTACK_LOG_LEVEL: 'info',
    HAYSTACK_METRICS__LISTEN: `127.0.0.1:${metricsPort}`,
    HAYSTACK_KAFKA__BROKERS: mock.bootstrap.join(','),
    HAYSTACK_KAFKA__FLOW_TOPIC: topic,
    HAYSTACK_REDIS__URL: redisUrl,
    HAYSTACK_REDIS__KEY_PREFIX: `hs-${topic}:`,
    HAYSTACK_INGEST__NAME: name,
    HAYSTACK_INGEST__TEMPLATES__PERSIST: 'redis',
    HAYSTACK_INGEST__HEALTH_INTERVAL_MS: '1000',
    HAYSTACK_INGEST__BATCH__MAX_DELAY_MS: '100',
  });
  const child = spawn(
    process.execPath,
    [main, 'ingest', '--bind', '127.0.0.1', '--netflow-port', String(port), '--ipfix-port', String(ipfixPort), '--sflow-port', String(sflowPort)],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(child);
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`ingest ${name} exited: ${err.slice(-2000)}`);
      // Every worker bound (the metrics endpoint starts after the collector).
      return /metrics endpoint listening/.test(err);
    },
    `ingest ${name} listening`,
    60_000,
  );
  return { name, port, child, stderr: () => err };
}

async function stopCollector(c: Collector): Promise<void> {
  c.child.kill('SIGTERM');
  const code =
    c.child.exitCode ??
    (await Promise.race([
      new Promise<number | null>((r) => c.child.once('exit', (x) => r(x))),
      sleep(20_000).then(() => {
        throw new Error(`ingest ${c.name} did not stop within 20 s of SIGTERM: ${c.stderr().slice(-2000)}`);
      }),
    ]));
  assert.equal(code, 0, `ingest ${c.name}: ${c.stderr().slice(-3000)}`);
}

/** Every flow record (its byte count, per exporter) and health domain in the topic. */
async function readTopic(mock: KafkaMock, topic: string): Promise<{ bytes: number[]; recordsByExporter: Map<string, number>; health: DomainHealth[] }> {
  const kafka = mockKafkaClient(mock);
  const admin = kafka.admin();
  await admin.connect();
  const high = (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high), 0);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `check-${topic}`, ...MOCK_CONSUMER_TIMINGS });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const bytes: number[] = [];
  const recordsByExporter = new Map<string, number>();
  const health: DomainHealth[] = [];
  let messages = 0;
  await consumer.run({
    eachMessage: async ({ message }) => {
      messages++;
      const v = message.value!;
      if (isHealth(v)) {
        health.push(...decodeHealth(v).domains);
        return;
      }
      for (const r of records(openBatch(v))) {
        bytes.push(r.bytes);
        recordsByExporter.set(r.exporter, (recordsByExporter.get(r.exporter) ?? 0) + 1);
      }
    },
  });
  await waitFor(() => messages >= high, `all ${high} messages of ${topic} read back`, 60_000);
  await consumer.disconnect();
  return { bytes, recordsByExporter, health };
}

const sum = (xs: DomainHealth[], k: 'lost' | 'sequenceGaps' | 'records') => xs.reduce((s, d) => s + d[k], 0);

test('collectors sharing templates in Redis: an exporter that moves, and real exporters spread per packet, every record once, no phantom loss', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const mock = await startKafkaMock({
    topics: [
      { name: 'moved', partitions: 2 },
      { name: 'spread', partitions: 2 },
    ],
  });
  t.after(() => mock.stop());
  const children: ChildProcess[] = [];
  t.after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  await t.test('an exporter moves from collector a to b between template refreshes: b decodes at once with the template a learned', async () => {
    const a = await startCollector('a', redis.url, mock, 'moved', children);
    const b = await startCollector('b', redis.url, mock, 'moved', children);
    // A router that sends its template once every many packets (every 20 minutes is common):
    // here only in the first datagram. Datagram n's three records carry n as their byte count.
    const fields: FieldSpec[] = [
      { id: IE.sourceIPv4Address, length: 4 },
      { id: IE.destinationIPv4Address, length: 4 },
      { id: IE.sourceTransportPort, length: 2 },
      { id: IE.destinationTransportPort, length: 2 },
      { id: IE.protocolIdentifier, length: 1 },
      { id: IE.packetDeltaCount, length: 4 },
      { id: IE.octetDeltaCount, length: 4 },
    ];
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.4', () => r()));
    t.after(() => sock.close());
    const send = (n: number, port: number) => {
      const p = new PacketBuilder(10, { domain: 7, exportSecs: Math.floor(Date.now() / 1000), sequence: 1 + n * 3 });
      if (n === 0) p.template(400, fields);
      p.data(
        400,
        [0, 1, 2].map((i) => ['100.64.0.9', '52.1.1.1', 40000 + i, 443, 6, 1, 1 + n]),
        fields,
      );
      sock.send(p.build(), port, '127.0.0.1');
    };
    const N = 200;
    for (let n = 0; n < N / 2; n++) {
      send(n, a.port);
      await sleep(5);
    }
    await sleep(300); // a publishes the template it learned (every publish round: 100 ms)
    // The route changes: the rest goes to b, which never saw the template.
    for (let n = N / 2; n < N; n++) {
      send(n, b.port);
      await sleep(5);
    }
    await sleep(1_500);
    await stopCollector(a);
    await stopCollector(b);

    const { bytes, health } = await readTopic(mock, 'moved');
    const seen = new Map<number, number>();
    for (const x of bytes) seen.set(x, (seen.get(x) ?? 0) + 1);
    const missing = Array.from({ length: N }, (_, n) => 1 + n).filter((x) => seen.get(x) !== 3);
    assert.deepEqual(missing, [], `datagrams whose three records are not in Kafka exactly once (${bytes.length} records)`);
    assert.match(b.stderr(), /templates learned from another collector/);
    assert.match(b.stderr(), /heard by another collector too/, 'b says the exporter was heard by a as well (it just moved)');
    assert.equal(sum(health, 'lost'), 0, 'no loss: every datagram arrived at one collector or the other');
    assert.equal(sum(health, 'records'), N * 3, 'health counts every record once over both collectors');
  });

  await t.test('softflowd NetFlow v9 and IPFIX spread per packet over two collectors: every record once, no loss counted', async () => {
    const traffic = join(tmp.dir, 'traffic.pcap');
    await makeTrafficPcap(traffic, { seed: 11, flows: 4000 });
    const captures = [
      await runSoftflowd({ pcap: traffic, version: 9, capturePath: join(tmp.dir, 'v9.pcap') }),
      await runSoftflowd({ pcap: traffic, version: 10, capturePath: join(tmp.dir, 'v10.pcap') }),
    ];
    const a = await startCollector('a', redis.url, mock, 'spread', children);
    const b = await startCollector('b', redis.url, mock, 'spread', children);
    const exporters = ['127.0.0.5', '127.0.0.6'];
    let expected = 0;
    const expectedBy = new Map<string, number>();
    const streams: { sock: dgram.Socket; payloads: Buffer[] }[] = [];
    for (const [i, c] of captures.entries()) {
      const { datagrams } = await readAllUdp(c.capturePath);
      const payloads = datagrams.map((d) => Buffer.from(d.payload));
      // What one collector hearing everything decodes: the reference.
      const ref = new FlowDecoder();
      const w = new BatchWriter(1 << 16);
      let n = 0;
      for (const p of payloads) {
        n += ref.decode(p, exporters[i]!, Date.now(), w);
        w.reset();
      }
      assert.ok(payloads.length >= 20 && n > 500, `softflowd exported ${payloads.length} datagrams, ${n} records`);
      expected += n;
      expectedBy.set(exporters[i]!, n);
      const sock = dgram.createSocket('udp4');
      await new Promise<void>((r) => sock.bind(0, exporters[i], () => r()));
      t.after(() => sock.close());
      streams.push({ sock, payloads });
    }
    // Round robin per datagram, as a load balancer without source affinity would spread them,
    // over about four seconds: the collectors find each other's claims in the meantime.
    const longest = Math.max(...streams.map((s) => s.payloads.length));
    const pace = Math.max(2, Math.floor(4_000 / longest));
    for (let k = 0; k < longest; k++) {
      for (const s of streams) {
        const p = s.payloads[k];
        if (p) s.sock.send(p, k % 2 === 0 ? a.port : b.port, '127.0.0.1');
      }
      await sleep(pace);
    }
    await sleep(1_500);
    await stopCollector(a);
    await stopCollector(b);

    const { bytes, recordsByExporter, health } = await readTopic(mock, 'spread');
    assert.equal(bytes.length, expected, 'records in Kafka vs one collector decoding the whole stream');
    for (const [e, n] of expectedBy) assert.equal(recordsByExporter.get(e), n, `records of ${e}`);
    assert.equal(sum(health, 'lost'), 0, `loss counted for a spread exporter: ${JSON.stringify(health.filter((d) => d.lost > 0))}`);
    for (const c of [a, b]) assert.match(c.stderr(), /heard by another collector too/, `collector ${c.name} said the exporters are spread`);
  });
});
