import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeHealth, isHealth, lossUnit, openBatch, records, type HealthSnapshot } from '@haystack/flow-core';
import { IE, PacketBuilder, type FieldSpec } from '@haystack/decoders';
import { mockKafkaClient, MOCK_CONSUMER_TIMINGS, startKafkaMock } from '@haystack/testkit/kafka-mock';
import { tempDir, waitFor } from '@haystack/detector/test-helpers';
import { freePort } from '@haystack/testkit/ports';
import { registerKafkajsCodecs, stopIdleRequestQueuePolling } from '@haystack/transport';

// The collectors compress their batches (kafka.compression, lz4 by default): this test's raw
// kafkajs reader needs the codecs the detector's consumer uses, and its idle-queue fix.
registerKafkajsCodecs();
stopIdleRequestQueuePolling();

/**
 * A collector crash, reported as it happened: real `haystack ingest` processes publishing to
 * Kafka (librdkafka's mock cluster), killed with SIGKILL twice within a minute while two
 * exporters (NetFlow v9, IPFIX) keep sending. Every record carries its datagram's number, so
 * the topic itself says which datagrams never reached Kafka; the health snapshots in the topic
 * must report exactly that loss, per exporter and in the protocol's own unit.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const main = join(repoRoot, 'apps', 'cli', 'dist', 'main.js');
const tmp = tempDir('ingest-crash-');
after(tmp.cleanup);

const RECORDS = 3; // per datagram
const FIELDS: FieldSpec[] = [
  { id: IE.sourceIPv4Address, length: 4 },
  { id: IE.destinationIPv4Address, length: 4 },
  { id: IE.sourceTransportPort, length: 2 },
  { id: IE.destinationTransportPort, length: 2 },
  { id: IE.protocolIdentifier, length: 1 },
  { id: IE.packetDeltaCount, length: 4 },
  { id: IE.octetDeltaCount, length: 4 },
];

/** One exporter: datagram n carries RECORDS records whose byte count is n (so the topic says which arrived). */
class Exporter {
  sent = 0;
  private readonly sock = dgram.createSocket('udp4');
  constructor(
    readonly version: 9 | 10,
    readonly port: number,
    readonly address: string,
  ) {}
  async open(): Promise<void> {
    // Its own source address on loopback: the collector keys exporters by address.
    await new Promise<void>((r) => this.sock.bind(0, this.address, () => r()));
  }
  packet(n: number): Buffer {
    const b = new PacketBuilder(this.version, {
      domain: 1,
      exportSecs: Math.floor(Date.now() / 1000),
      // v9 numbers export packets, IPFIX numbers records.
      sequence: this.version === 9 ? n : n * RECORDS,
      uptimeMs: 1000 + n,
    });
    // The template in every datagram: a restarted collector decodes at once either way.
    b.template(300, FIELDS);
    b.data(
      300,
      Array.from({ length: RECORDS }, (_, i) => ['100.64.0.1', '52.1.1.1', 40000 + i, 443, 6, 1, n]),
    );
    return b.build();
  }
  sendNext(): void {
    this.sock.send(this.packet(this.sent++), this.port, '127.0.0.1');
  }
  close(): void {
    this.sock.close();
  }
}

test('ingest killed twice mid-stream: the loss the health reports equals the datagrams that never reached Kafka, per exporter and unit', async (t) => {
  const mock = await startKafkaMock({ topics: [{ name: 'flows', partitions: 2 }] });
  t.after(() => mock.stop());
  const stateDir = join(tmp.dir, 'state');
  const [v9Port, ipfixPort, sflowPort, metricsPort] = [await freePort('udp'), await freePort('udp'), await freePort('udp'), await freePort('tcp')];
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HAYSTACK_')) env[k] = v;
  Object.assign(env, {
    HAYSTACK_STATE_DIR: stateDir,
    HAYSTACK_LOG_LEVEL: 'info',
    HAYSTACK_METRICS__LISTEN: `127.0.0.1:${metricsPort}`,
    HAYSTACK_KAFKA__BROKERS: mock.bootstrap.join(','),
    HAYSTACK_KAFKA__FLOW_TOPIC: 'flows',
    // A publish round a second: the kill below lands just after a round's checkpoint, long before the next.
    HAYSTACK_INGEST__BATCH__MAX_DELAY_MS: '1000',
    // One collector's crash accounting (its checkpoint file); the workers' own: services/ingest workers.test.ts.
    HAYSTACK_INGEST__WORKERS: '1',
  });
  const checkpoint = join(stateDir, 'templates.checkpoint.json');
  const children: ChildProcess[] = [];
  t.after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  let stderr = '';
  const startIngest = async (): Promise<ChildProcess> => {
    const child = spawn(
      process.execPath,
      [main, 'ingest', '--bind', '127.0.0.1', '--netflow-port', String(v9Port), '--ipfix-port', String(ipfixPort), '--sflow-port', String(sflowPort)],
      { env, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.push(child);
    let listening = 0;
    let own = '';
    child.stderr!.on('data', (b: Buffer) => {
      own += b.toString();
      stderr += b.toString();
    });
    await waitFor(
      () => {
        listening = (own.match(/collector listening/g) ?? []).length;
        if (child.exitCode !== null) throw new Error(`ingest exited: ${own.slice(-2000)}`);
        return listening === 3;
      },
      'ingest listening on its three ports',
      60_000,
    );
    return child;
  };
  const mtime = () => {
    try {
      return statSync(checkpoint).mtimeMs;
    } catch {
      return 0;
    }
  };
  /** SIGKILL right after a publish round saved its checkpoint (so nothing is in flight to Kafka). */
  const killAfterCheckpoint = async (child: ChildProcess): Promise<void> => {
    const before = mtime();
    await waitFor(() => mtime() > before, 'a checkpoint written', 10_000);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  };

  const exporters = [new Exporter(9, v9Port, '127.0.0.2'), new Exporter(10, ipfixPort, '127.0.0.3')];
  for (const e of exporters) await e.open();
  t.after(() => exporters.forEach((e) => e.close()));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  // Exporters start once the first collector listens: loss before any sequence number was seen is uncountable.
  const first = await startIngest();
  const pump = setInterval(() => exporters.forEach((e) => e.sendNext()), 5); // ~200 datagrams/s each
  t.after(() => clearInterval(pump));
  await sleep(2_500);
  await killAfterCheckpoint(first);
  await sleep(1_000); // sent while no collector listens: lost
  const second = await startIngest();
  await sleep(2_500);
  await killAfterCheckpoint(second); // the second kill within a minute
  await sleep(1_000);
  const third = await startIngest();
  await sleep(2_500);
  clearInterval(pump);
  await sleep(1_500); // the last datagrams published
  third.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => third.once('exit', (c) => r(c)));
  assert.equal(code, 0, stderr.slice(-3000));

  // Everything the topic holds: flow records (which datagrams arrived) and health snapshots.
  const kafka = mockKafkaClient(mock);
  const admin = kafka.admin();
  await admin.connect();
  const high = (await admin.fetchTopicOffsets('flows')).reduce((s, p) => s + Number(p.high), 0);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: 'crash-check', ...MOCK_CONSUMER_TIMINGS });
  await consumer.connect();
  await consumer.subscribe({ topic: 'flows', fromBeginning: true });
  const arrived = new Map<string, Set<number>>(); // exporter → datagram numbers with records in Kafka
  const recordsIn = new Map<string, number>();
  const health: HealthSnapshot[] = [];
  let messages = 0;
  await consumer.run({
    eachMessage: async ({ message }) => {
      messages++;
      const v = message.value!;
      if (isHealth(v)) {
        health.push(decodeHealth(v));
        return;
      }
      for (const r of records(openBatch(v))) {
        let s = arrived.get(r.exporter);
        if (!s) arrived.set(r.exporter, (s = new Set()));
        s.add(r.bytes);
        recordsIn.set(r.exporter, (recordsIn.get(r.exporter) ?? 0) + 1);
      }
    },
  });
  await waitFor(() => messages >= high, `all ${high} messages read back`, 60_000);
  await consumer.disconnect();

  for (const e of exporters) {
    const got = arrived.get(e.address) ?? new Set<number>();
    // Datagrams 0..sent-1 were sent; those with no record in the topic never reached Kafka.
    const missing = e.sent - got.size;
    const unitsPerDatagram = e.version === 9 ? 1 : RECORDS;
    const domains = health.flatMap((h) => h.domains).filter((d) => d.exporter === e.address && d.version === e.version);
    const lost = domains.reduce((s, d) => s + d.lost, 0);
    const what = `${lossUnit(e.version)} of exporter ${e.address} (v${e.version}): ${e.sent} datagrams sent, ${got.size} in Kafka`;
    assert.ok(missing > 200, `the kills cost datagrams (${what})`);
    assert.ok(
      Math.abs(lost - missing * unitsPerDatagram) <= unitsPerDatagram,
      `reported loss ${lost} vs ${missing * unitsPerDatagram} never in Kafka: ${what}`,
    );
    // Health covers every process: the records it counts are those in the topic, none missing, none twice.
    assert.equal(
      domains.reduce((s, d) => s + d.records, 0),
      recordsIn.get(e.address),
      `health records vs records in Kafka, ${what}`,
    );
    // Counted once per restart gap: three processes, two gaps.
    assert.equal(
      domains.reduce((s, d) => s + d.sequenceGaps, 0),
      2,
      what,
    );
  }
  // The restarted collectors said where they resumed.
  assert.equal((stderr.match(/restored the collector checkpoint/g) ?? []).length, 2);
});
