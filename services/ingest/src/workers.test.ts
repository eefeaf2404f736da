/**
 * ingest.workers: collector threads sharing the ports with SO_REUSEPORT. Real sockets on
 * loopback; exporters are distinct 127.0.0.x source addresses, each with its own source port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry, defaultConfig, silentLogger, type HaystackConfig } from '@haystack/common';
import { openBatch, isHealth, decodeHealth, type HealthSnapshot } from '@haystack/flow-core';
import { IE, PacketBuilder, type FieldSpec } from '@haystack/decoders';
import { KafkaFlowSink, registerKafkajsCodecs, stopIdleRequestQueuePolling, type FlowSink } from '@haystack/transport';
import { MOCK_CONSUMER_TIMINGS, mockKafkaClient, startKafkaMock } from '@haystack/testkit/kafka-mock';
import { IngestWorkers, workerCount } from './workers.js';
import { registerIngestMetrics } from './metrics.js';
import type { IngestStats } from './ingest-stats.js';

class KeepingSink implements FlowSink {
  records = 0;
  readonly health: HealthSnapshot[] = [];
  constructor(readonly partitions: number) {}
  async publish(_partition: number, batch: Buffer): Promise<void> {
    if (isHealth(batch)) this.health.push(decodeHealth(batch));
    else this.records += openBatch(batch).count;
  }
  async close(): Promise<void> {}
}

const FIELDS: FieldSpec[] = [
  { id: IE.sourceIPv4Address, length: 4 },
  { id: IE.destinationIPv4Address, length: 4 },
  { id: IE.sourceTransportPort, length: 2 },
  { id: IE.destinationTransportPort, length: 2 },
  { id: IE.protocolIdentifier, length: 1 },
  { id: IE.octetDeltaCount, length: 4 },
];

function config(stateDir: string): HaystackConfig {
  const c = defaultConfig();
  c.stateDir = stateDir;
  c.ingest = { ...c.ingest, bind: '127.0.0.1', netflowPort: 0, ipfixPort: 0, sflowPort: null, subscriberPrefixes: ['100.64.0.0/10'], workers: 2 };
  c.ingest.batch = { maxRecords: 64, maxDelayMs: 20 };
  c.ingest.healthIntervalMs = 60_000;
  return c;
}

/** A NetFlow v9 exporter at one loopback address; `packet` numbers its packets (v9 counts packets). */
class Exporter {
  seq = 0;
  constructor(readonly address: string) {}
  packet(withTemplate: boolean, rows = 3): Buffer {
    const b = new PacketBuilder(9, { domain: 7, exportSecs: 1_700_000_000, sequence: this.seq++ });
    if (withTemplate) b.template(300, FIELDS);
    const data = [];
    for (let i = 0; i < rows; i++) data.push([`100.64.1.${i}`, '52.1.2.3', 40000 + i, 443, 6, 100]);
    return b.data(300, data, FIELDS).build();
  }
}

/** A UDP socket bound to `address` (and a given or any source port). */
async function socketAt(address: string, port = 0): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r, j) => {
    s.once('error', j);
    s.bind(port, address, () => r());
  });
  return s;
}

async function sendFrom(s: dgram.Socket, port: number, packets: Buffer[]): Promise<void> {
  for (const p of packets) await new Promise<void>((r, j) => s.send(p, port, '127.0.0.1', (e) => (e ? j(e) : r())));
}

async function until(cond: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const records = (s: IngestStats) => s.domains.reduce((n, d) => n + d.counters.records, 0);
const lost = (s: IngestStats) => s.domains.reduce((n, d) => n + d.counters.lost, 0);
/** Which worker holds a domain of `address` with traffic. */
async function workerOf(w: IngestWorkers, address: string): Promise<number[]> {
  const per = await w.perWorker();
  return per.flatMap((s, i) => (s.domains.some((d) => d.exporter === address && d.counters.packets > 0) ? [i] : []));
}

test('two workers share the ports: every exporter on one of them, each record once, counters summed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-workers-'));
  const sink = new KeepingSink(4);
  const w = await IngestWorkers.start({ config: config(dir), log: silentLogger, sink, workers: 2, health: true, logFormat: 'json' });
  t.after(async () => {
    await w.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const [port] = w.ports;
  assert.ok(port! > 0);
  // 24 exporters: the chance the kernel gives all of them to one worker is 2^-23.
  const exporters = Array.from({ length: 24 }, (_, i) => new Exporter(`127.0.0.${10 + i}`));
  for (const e of exporters) {
    const s = await socketAt(e.address);
    await sendFrom(s, port!, [e.packet(true), e.packet(false), e.packet(false)]);
    s.close();
  }
  const sent = exporters.length * 3 * 3;
  await until(async () => records(await w.stats()) === sent);
  const per = await w.perWorker();
  assert.ok(
    per.every((s) => records(s) > 0),
    `both workers receive: ${per.map(records).join(' + ')}`,
  );
  // Each exporter (address, one source port) on exactly one worker.
  for (const e of exporters) assert.equal((await workerOf(w, e.address)).length, 1, e.address);
  await until(() => sink.records === sent);
  const reg = createRegistry(false);
  registerIngestMetrics(reg, { stats: () => w.stats(), sockets: () => w.ports.map((p) => ({ port: p, family: 4 as const })) });
  const text = await reg.metrics();
  assert.match(text, new RegExp(`haystack_ingest_published_records_total ${sent}\\n`));
  assert.match(text, /haystack_ingest_domain_records_total\{exporter="127.0.0.10",version="9",domain="7"\} 9\n/);
  const final = await w.stop();
  assert.equal(final.publisher.records, sent);
  assert.equal(lost(final), 0);
  // Each worker's last health snapshot went out; together they count every record once.
  const healthRecords = sink.health.flatMap((h) => h.domains).reduce((n, d) => n + d.records, 0);
  assert.equal(healthRecords, sent);
  assert.equal(new Set(sink.health.map((h) => h.collector)).size, 2);
});

test('an exporter that changes its source port to another worker is decoded with the template it sent the first', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-workers-'));
  const sink = new KeepingSink(4);
  const w = await IngestWorkers.start({ config: config(dir), log: silentLogger, sink, workers: 2, health: false, logFormat: 'json' });
  t.after(async () => {
    await w.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const [port] = w.ports;
  const e = new Exporter('127.0.0.50');
  const first = await socketAt(e.address);
  await sendFrom(first, port!, [e.packet(true), e.packet(false)]);
  first.close();
  await until(async () => records(await w.stats()) === 6);
  const [home] = await workerOf(w, e.address);
  // Source ports until one lands on the other worker (each is one in two).
  let moved = false;
  let sent = 6;
  for (let tries = 0; tries < 40 && !moved; tries++) {
    const s = await socketAt(e.address);
    await sendFrom(s, port!, [e.packet(false)]);
    s.close();
    sent += 3;
    await until(async () => records(await w.stats()) === sent);
    moved = (await workerOf(w, e.address)).length === 2;
  }
  assert.ok(moved, `a new source port reached the other worker (home ${home})`);
  const per = await w.perWorker();
  const other = per[1 - home!]!;
  const there = other.domains.find((d) => d.exporter === e.address)!;
  // It held the data set, took the template from the shared hub, decoded it at once.
  assert.ok(there.counters.missingTemplateSets >= 1 && there.counters.heldDecodedSets === there.counters.missingTemplateSets, JSON.stringify(there.counters));
  assert.ok(other.templatesFromPeers >= 1);
  const final = await w.stop();
  assert.equal(final.publisher.records, sent);
  assert.equal(await sinkSettled(sink, sent), sent);
  // The sequence went on across the workers: the split is not counted as loss.
  assert.equal(lost(final), 0);
});

async function sinkSettled(sink: KeepingSink, want: number): Promise<number> {
  await until(() => sink.records === want).catch(() => undefined);
  return sink.records;
}

test('templates and each worker checkpoint persist: after a restart data decodes at once, a gap across it is counted once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-workers-'));
  const cfg = config(dir);
  cfg.ingest.healthIntervalMs = 1000;
  const sink = new KeepingSink(4);
  let w = await IngestWorkers.start({ config: cfg, log: silentLogger, sink, workers: 2, health: false, logFormat: 'json' });
  t.after(async () => {
    await w.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const [port] = w.ports;
  // A fixed source port: the same exporter, seen again after the restart.
  const e = new Exporter('127.0.0.60');
  let s = await socketAt(e.address);
  const srcPort = s.address().port;
  await sendFrom(s, port!, [e.packet(true), e.packet(false), e.packet(false)]);
  await until(async () => records(await w.stats()) === 9);
  // A newcomer's sequence is followed once a claim window (3 × 0.5 s here) says no other worker
  // hears it: from its next packet after the claim round that saw it again.
  await new Promise((r) => setTimeout(r, 2500));
  await sendFrom(s, port!, [e.packet(false), e.packet(false)]);
  await new Promise((r) => setTimeout(r, 1000));
  await sendFrom(s, port!, [e.packet(false), e.packet(false)]);
  await until(async () => records(await w.stats()) === 21);
  const before = await workerOf(w, e.address);
  await w.stop();
  s.close();
  assert.ok(existsSync(join(dir, 'templates.json')));
  assert.ok(existsSync(join(dir, 'templates.w0.checkpoint.json')) && existsSync(join(dir, 'templates.w1.checkpoint.json')));

  // Same ports (bound in order again), same exporter and source port; 4 packets lost meanwhile.
  [cfg.ingest.netflowPort, cfg.ingest.ipfixPort] = w.ports as [number, number];
  w = await IngestWorkers.start({ config: cfg, log: silentLogger, sink, workers: 2, health: false, logFormat: 'json' });
  e.seq += 4;
  s = await socketAt(e.address, srcPort);
  await sendFrom(s, port!, [e.packet(false), e.packet(false)]);
  s.close();
  await until(async () => records(await w.stats()) === 6);
  assert.deepEqual(await workerOf(w, e.address), before, 'the same worker as before the restart');
  const final = await w.stop();
  const d = final.domains.find((x) => x.exporter === e.address && x.counters.packets > 0)!;
  assert.equal(d.counters.missingTemplateSets, 0, 'decoded with the restored template');
  assert.equal(lost(final), 4, 'the 4 packets lost across the restart, counted once');
  assert.equal(sink.records, 27);
});

test('a worker that cannot bind a port is one clear error, and what it had bound is released', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-workers-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // The IPFIX port is taken by another program (no SO_REUSEPORT); the NetFlow port binds first.
  const busy = await socketAt('127.0.0.1');
  t.after(() => busy.close());
  const free = await socketAt('127.0.0.1');
  const netflowPort = free.address().port;
  free.close();
  const cfg = config(dir);
  cfg.ingest.netflowPort = netflowPort;
  cfg.ingest.ipfixPort = busy.address().port;
  await assert.rejects(
    IngestWorkers.start({ config: cfg, log: silentLogger, sink: new KeepingSink(1), workers: 2, health: false, logFormat: 'json' }),
    (e: Error & { code?: string; port?: number }) => e.code === 'EADDRINUSE' && e.port === busy.address().port,
  );
  // Nothing of Haystack holds the NetFlow port any more: a plain socket (no SO_REUSEPORT) binds it.
  const again = await socketAt('127.0.0.1', netflowPort);
  again.close();
});

test('ingest.workers: one per core on Linux; elsewhere auto is one and more is refused in one line', () => {
  const cfg = config('/nonexistent');
  cfg.ingest.workers = 'auto';
  assert.equal(workerCount(cfg, 8, 'linux'), 8);
  assert.equal(workerCount(cfg, 8, 'darwin'), 1);
  cfg.ingest.workers = 3;
  assert.equal(workerCount(cfg, 8, 'linux'), 3);
  assert.throws(() => workerCount(cfg, 8, 'win32'), /ingest\.workers: 3 needs Linux/);
});

test('persist: redis with several workers and no redis.url is refused before any worker starts', async () => {
  const cfg = config('/nonexistent');
  cfg.ingest.templates = { ...cfg.ingest.templates, persist: 'redis' };
  await assert.rejects(
    IngestWorkers.start({ config: cfg, log: silentLogger, sink: new KeepingSink(1), workers: 2, health: false, logFormat: 'json' }),
    /redis\.url is not set/,
  );
});

test('with Kafka each worker publishes through its own producer (lz4), every record once on the topic', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-workers-'));
  const mock = await startKafkaMock({ topics: [{ name: 'flows', partitions: 4 }] });
  const cfg = config(dir);
  cfg.kafka = { ...cfg.kafka, brokers: mock.bootstrap, flowTopic: 'flows', compression: 'lz4' };
  const main = await KafkaFlowSink.connect({ kafka: cfg.kafka });
  const w = await IngestWorkers.start({ config: cfg, log: silentLogger, sink: main, workers: 2, health: false, logFormat: 'json' });
  const consumer = mockKafkaClient(mock).consumer({ groupId: 'check', ...MOCK_CONSUMER_TIMINGS });
  // In this order: the reader, the workers, the producer, then the brokers.
  t.after(async () => {
    await consumer.disconnect().catch(() => undefined);
    await w.stop();
    await main.close();
    await mock.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const [port] = w.ports;
  const exporters = Array.from({ length: 16 }, (_, i) => new Exporter(`127.0.0.${70 + i}`));
  for (const e of exporters) {
    const s = await socketAt(e.address);
    await sendFrom(s, port!, [e.packet(true), e.packet(false)]);
    s.close();
  }
  const sent = exporters.length * 2 * 3;
  await until(async () => records(await w.stats()) === sent);
  const per = await w.perWorker();
  assert.ok(
    per.every((s) => records(s) > 0),
    'both workers received',
  );
  const final = await w.stop();
  assert.equal(final.publisher.records, sent);
  assert.equal(final.publisher.publishErrors, 0);
  assert.equal(main.stats().batches, 0, "nothing went through the main thread's producer");

  // What is on the topic, read as the detector's consumer reads it (kafkajs with the codecs).
  registerKafkajsCodecs();
  stopIdleRequestQueuePolling();
  await consumer.connect();
  await consumer.subscribe({ topics: ['flows'], fromBeginning: true });
  let onTopic = 0;
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.value && !isHealth(message.value)) onTopic += openBatch(message.value).count;
    },
  });
  await until(() => onTopic === sent, 20_000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(onTopic, sent, 'every record once');
});

test('a second process of workers on the same ports is refused, not given half the datagrams', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-workers-'));
  const first = await IngestWorkers.start({ config: config(dir), log: silentLogger, sink: new KeepingSink(1), workers: 2, health: false, logFormat: 'json' });
  t.after(async () => {
    await first.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const cfg = config(join(dir, 'second'));
  [cfg.ingest.netflowPort, cfg.ingest.ipfixPort] = first.ports as [number, number];
  await assert.rejects(
    IngestWorkers.start({ config: cfg, log: silentLogger, sink: new KeepingSink(1), workers: 2, health: false, logFormat: 'json' }),
    (e: Error & { code?: string; port?: number }) => e.code === 'EADDRINUSE' && e.port === first.ports[0],
  );
  // The first still has its two sockets per port and nothing else.
  const e = new Exporter('127.0.0.90');
  const s = await socketAt(e.address);
  await sendFrom(s, first.ports[0]!, [e.packet(true)]);
  s.close();
  await until(async () => records(await first.stats()) === 3);
});

test("upgrading to workers: the single collector's checkpoint goes to worker 0, its unpublished health out once, the file retired", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-workers-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // What a single collector left: a sequence and a health delta it had not published yet.
  const single = join(dir, 'templates.checkpoint.json');
  const carried = {
    exporter: '192.0.2.7',
    version: 9,
    domain: 1,
    day: '2026-12-07',
    packets: 40,
    records: 1234,
    sequenceGaps: 1,
    lost: 5,
    malformed: 0,
    missingTemplateSets: 0,
    heldDroppedSets: 0,
    unknownRateRecords: 0,
    samplingRate: 100,
  };
  await writeFile(
    single,
    JSON.stringify({ sequences: { format: 'haystack-sequences', version: 1, savedAt: new Date().toISOString(), domains: [] }, health: [carried] }),
  );
  const sink = new KeepingSink(1);
  const w = await IngestWorkers.start({ config: config(dir), log: silentLogger, sink, workers: 2, health: true, logFormat: 'json' });
  t.after(() => w.stop());
  await w.stop();
  const published = sink.health.flatMap((h) => h.domains).filter((d) => d.exporter === carried.exporter);
  assert.deepEqual(
    published.map((d) => [d.records, d.lost]),
    [[1234, 5]],
    'published once',
  );
  assert.equal(existsSync(single), false, 'the single checkpoint is retired');
  assert.ok(existsSync(join(dir, 'templates.w0.checkpoint.json')));
});
