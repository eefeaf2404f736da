import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry, defaultConfig, silentLogger, type HaystackConfig } from '@haystack/common';
import { openBatch, isHealth, decodeHealth, SIDE_SRC, SIDE_DST, type FlowRecord, type HealthSnapshot, records } from '@haystack/flow-core';
import { IE, PacketBuilder, type FieldSpec } from '@haystack/decoders';
import { partitionFor, type FlowSink } from '@haystack/transport';
import { createIngest } from './service.js';
import type { CollectorCheckpoint } from './template-store.js';
import { registerIngestMetrics } from './metrics.js';

/** A sink that keeps every batch, per partition. */
class KeepingSink implements FlowSink {
  readonly got: { partition: number; recs: FlowRecord[] }[] = [];
  readonly health: { partition: number; snap: HealthSnapshot }[] = [];
  constructor(readonly partitions: number) {}
  async publish(partition: number, batch: Buffer): Promise<void> {
    if (isHealth(batch)) {
      this.health.push({ partition, snap: decodeHealth(batch) });
      return;
    }
    this.got.push({ partition, recs: [...records(openBatch(batch))] });
  }
  async close(): Promise<void> {}
  all(): (FlowRecord & { partition: number })[] {
    return this.got.flatMap((g) => g.recs.map((r) => ({ ...r, partition: g.partition })));
  }
}

const FIELDS: FieldSpec[] = [
  { id: IE.sourceIPv4Address, length: 4 },
  { id: IE.destinationIPv4Address, length: 4 },
  { id: IE.sourceIPv6Address, length: 16 },
  { id: IE.destinationIPv6Address, length: 16 },
  { id: IE.sourceTransportPort, length: 2 },
  { id: IE.destinationTransportPort, length: 2 },
  { id: IE.protocolIdentifier, length: 1 },
  { id: IE.packetDeltaCount, length: 4 },
  { id: IE.octetDeltaCount, length: 4 },
];

function config(stateDir: string, over: Partial<HaystackConfig['ingest']> = {}): HaystackConfig {
  const c = defaultConfig();
  c.stateDir = stateDir;
  c.ingest = { ...c.ingest, bind: '127.0.0.1', subscriberPrefixes: ['100.64.0.0/10', '2001:db8::/32'], ...over };
  c.ingest.batch = { maxRecords: 8, maxDelayMs: 20 };
  return c;
}

async function send(port: number, packets: Buffer[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  for (const p of packets) await new Promise<void>((r, j) => s.send(p, port, '127.0.0.1', (e) => (e ? j(e) : r())));
  s.close();
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('UDP collector: decodes live exports, keys partitions by subscriber line, marks sides, exposes metrics', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-collector-'));
  // Removed after the collector has stopped (its last checkpoint write must not race the removal).
  const sink = new KeepingSink(4);
  const ing = await createIngest(config(dir), silentLogger, sink, { ports: [0] });
  const [port] = await ing.collector.start();
  t.after(async () => {
    await ing.collector.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const rows = [];
  // Line 100.64.0.x talks to cloud services in both directions; one transit flow; one IPv6 line (two addresses in one /56).
  for (let i = 0; i < 20; i++) rows.push([`100.64.0.${i % 5}`, '52.1.2.3', '::', '::', 40000 + i, 443, 6, 3, 300]);
  for (let i = 0; i < 5; i++) rows.push(['52.1.2.3', `100.64.0.${i}`, '::', '::', 443, 40000 + i, 6, 2, 200]);
  rows.push(['198.51.100.1', '203.0.113.1', '::', '::', 1, 2, 17, 1, 100]);
  rows.push(['0.0.0.0', '0.0.0.0', '2001:db8:0:1100::1', '2a00::1', 1, 443, 6, 1, 80]);
  rows.push(['0.0.0.0', '0.0.0.0', '2a00::1', '2001:db8:0:11ff::2', 443, 1, 6, 1, 80]);
  const pkt = new PacketBuilder(10, { domain: 1, exportSecs: 1_700_000_000, sequence: 0 }).template(300, FIELDS).data(300, rows).build();
  await send(port!, [pkt]);
  await until(() => sink.all().length === rows.length);

  const all = sink.all();
  const key = (addr: string) => Buffer.from(addr.split('.').map(Number));
  for (const r of all) {
    if (r.src.startsWith('100.64.')) {
      assert.equal(r.subscriberSide, 'src');
      assert.equal(r.partition, partitionFor(key(r.src), 4));
    } else if (r.dst.startsWith('100.64.')) {
      assert.equal(r.subscriberSide, 'dst');
      assert.equal(r.partition, partitionFor(key(r.dst), 4));
    }
  }
  // Both directions of one line share a partition.
  const p0 = all.filter((r) => r.src === '100.64.0.0' || r.dst === '100.64.0.0').map((r) => r.partition);
  assert.equal(new Set(p0).size, 1);
  const v6 = all.filter((r) => r.ipVersion === 6);
  assert.equal(v6.length, 2);
  assert.equal(v6[0]!.partition, v6[1]!.partition, 'two addresses of one /56 line share a partition');
  assert.deepEqual(
    v6.map((r) => r.subscriberSide),
    ['src', 'dst'],
  );
  assert.equal(ing.publisher.counters.noSubscriber, 1);
  assert.ok(SIDE_SRC === 1 && SIDE_DST === 2);

  const reg = createRegistry(false);
  registerIngestMetrics(reg, { decoder: ing.decoder, publisher: ing.publisher, sockets: () => ing.collector.boundPorts });
  const text = await reg.metrics();
  assert.match(text, new RegExp(`haystack_ingest_domain_records_total\\{exporter="127.0.0.1",version="10",domain="1"\\} ${rows.length}`));
  assert.match(text, new RegExp(`haystack_ingest_published_records_total ${rows.length}\\n`));
  assert.match(text, new RegExp(`haystack_ingest_published_end_batches_total ${ing.publisher.counters.endBatches}\\n`));
  assert.match(text, /haystack_ingest_socket_drops\{port="\d+"\} 0/);
});

test('ingest.receive: recvmmsg batches and node:dgram decode the same live exports, sequence followed per exporter', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-collector-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const decoded: Record<string, string[]> = {};
  for (const receive of ['batch', 'dgram'] as const) {
    const sink = new KeepingSink(2);
    const ing = await createIngest(config(dir, { receive, templates: { ...defaultConfig().ingest.templates, persist: 'none' } }), silentLogger, sink, {
      ports: [0],
    });
    const [port] = await ing.collector.start();
    assert.equal(ing.collector.receiveMode, receive);
    // 150 packets of 4 records each from two exporters, sent as fast as the socket takes them.
    const packets = (from: number) =>
      Array.from({ length: 150 }, (_, i) =>
        new PacketBuilder(10, { domain: from, exportSecs: 1_700_000_000, sequence: i * 4 })
          .template(300, FIELDS)
          .data(
            300,
            [0, 1, 2, 3].map((k) => [`100.64.${from}.${k}`, '52.1.2.3', '::', '::', i, 443, 6, 1, 100]),
          )
          .build(),
      );
    await Promise.all(
      [1, 2].map(async (from) => {
        const s = dgram.createSocket('udp4');
        await new Promise<void>((r) => s.bind(0, `127.0.0.${from}`, r));
        for (const p of packets(from)) await new Promise<void>((r, j) => s.send(p, port!, '127.0.0.1', (e) => (e ? j(e) : r())));
        s.close();
      }),
    );
    await until(() => sink.all().length === 1200);
    await ing.collector.stop();
    decoded[receive] = sink
      .all()
      .map((r) => `${r.src}>${r.dst}:${r.srcPort}`)
      .sort();
    for (const from of [1, 2]) {
      const d = [...ing.decoder.registry.all()].find((x) => x.exporterText === `127.0.0.${from}`);
      assert.ok(d, `exporter 127.0.0.${from} known by its address`);
      assert.equal(d.counters.sequenceGaps, 0, 'no gap: every datagram arrived, in order');
    }
  }
  assert.equal(new Set(decoded.batch).size, 1200);
  assert.deepEqual(decoded.batch, decoded.dgram);
});

test('exporter allowlist: datagrams from elsewhere are refused and counted, never decoded', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-collector-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const sink = new KeepingSink(1);
  const ing = await createIngest(config(dir, { allowExporters: ['192.0.2.0/24'] }), silentLogger, sink, { ports: [0] });
  const [port] = await ing.collector.start();
  const pkt = new PacketBuilder(10, { domain: 1, exportSecs: 1_700_000_000, sequence: 0 })
    .template(300, FIELDS)
    .data(300, [['100.64.0.1', '52.1.1.1', '::', '::', 1, 2, 6, 1, 1]])
    .build();
  await send(port!, [pkt, pkt]);
  await until(() => ing.collector.refused === 2);
  await ing.collector.stop();
  assert.equal(sink.all().length, 0);
  assert.equal(ing.decoder.exporters.size, 0);
});

test('templates persist across a collector restart: data without a resent template decodes at once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-collector-'));
  // Removed after the collector has stopped (its last checkpoint write must not race the removal).
  const cfg = config(dir);
  const first = await createIngest(cfg, silentLogger, new KeepingSink(1), { ports: [0] });
  const [p1] = await first.collector.start();
  await send(p1!, [new PacketBuilder(9, { domain: 3, exportSecs: 1_700_000_000, sequence: 0, uptimeMs: 1000 }).template(400, FIELDS).build()]);
  await until(() => [...first.decoder.registry.all()].some((d) => d.templates.size === 1));
  await first.collector.stop();
  const saved = JSON.parse(await readFile(join(dir, 'templates.json'), 'utf8'));
  assert.equal(saved.domains[0].templates[0].id, 400);

  const sink = new KeepingSink(1);
  const second = await createIngest(cfg, silentLogger, sink, { ports: [0] });
  const [p2] = await second.collector.start();
  t.after(async () => {
    await second.collector.stop();
    await rm(dir, { recursive: true, force: true });
  });
  await send(p2!, [
    new PacketBuilder(9, { domain: 3, exportSecs: 1_700_000_001, sequence: 1, uptimeMs: 2000 })
      .data(400, [['100.64.0.9', '52.1.1.1', '::', '::', 5, 6, 17, 2, 64]], FIELDS)
      .build(),
  ]);
  await until(() => sink.all().length === 1);
  assert.equal(sink.all()[0]!.src, '100.64.0.9');
  assert.equal([...second.decoder.registry.all()][0]!.counters.missingTemplateSets, 0);
});

test('a collector restart does not hide its loss: sequence numbers are checkpointed every publish round, the gap across the restart is counted', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-collector-'));
  // Removed after the collector has stopped (its last checkpoint write must not race the removal).
  const cfg = config(dir);
  const pkt = (seq: number) =>
    new PacketBuilder(9, { domain: 5, exportSecs: 1_700_000_000 + seq, sequence: seq, uptimeMs: 1000 + seq })
      .template(400, FIELDS)
      .data(400, [['100.64.0.9', '52.1.1.1', '::', '::', 5, 6, 17, 2, 64]], FIELDS)
      .build();
  const first = await createIngest(cfg, silentLogger, new KeepingSink(1), { ports: [0] });
  const [p1] = await first.collector.start();
  await send(p1!, [pkt(0), pkt(1), pkt(2)]);
  await until(() => [...first.decoder.registry.all()].some((d) => d.counters.packets === 3));
  // Each publish round saves the checkpoint once its flows are acknowledged (no template change needed).
  const checkpoint = join(dir, 'templates.checkpoint.json');
  const expected = async () => {
    try {
      return (JSON.parse(await readFile(checkpoint, 'utf8')) as CollectorCheckpoint).sequences.domains[0]?.sequence.expected;
    } catch {
      return undefined;
    }
  };
  for (let i = 0; i < 100 && (await expected()) !== 3; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await expected(), 3);
  await first.collector.stop();

  // Packets 3..9 arrived while no collector ran; the restarted one sees 10 and 11.
  const second = await createIngest(cfg, silentLogger, new KeepingSink(1), { ports: [0] });
  const [p2] = await second.collector.start();
  t.after(async () => {
    await second.collector.stop();
    await rm(dir, { recursive: true, force: true });
  });
  await send(p2!, [pkt(10), pkt(11)]);
  await until(() => [...second.decoder.registry.all()].some((d) => d.counters.packets === 2));
  const d = [...second.decoder.registry.all()].find((x) => x.domain === 5)!;
  assert.equal(d.counters.lost, 7);
  assert.equal(d.counters.sequenceGaps, 1);
  assert.equal(d.counters.sequenceResets, 0);
});

test('exporter health travels beside the flows: delta snapshots on partition 0, after the flows they describe', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-collector-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const sink = new KeepingSink(3);
  const ing = await createIngest(config(dir), silentLogger, sink, { ports: [0] });
  const [port] = await ing.collector.start();
  const mk = (seq: number, n: number) =>
    new PacketBuilder(10, { domain: 2, exportSecs: 1_700_000_000, sequence: seq })
      .template(300, FIELDS)
      .data(
        300,
        Array.from({ length: n }, (_, i) => [`100.64.1.${i}`, '52.1.1.1', '::', '::', 1, 2, 6, 1, 1]),
      )
      .build();
  await send(port!, [mk(0, 4), mk(4, 3), mk(10, 2) /* 3 records lost */]);
  await until(() => sink.all().length === 9);
  await ing.collector.maybeReportHealth(Date.now(), true);
  await send(port!, [mk(12, 1)]);
  await until(() => sink.all().length === 10);
  await ing.collector.stop();
  assert.equal(sink.health.length, 2);
  assert.ok(sink.health.every((h) => h.partition === 0));
  const [a, b] = sink.health.map((h) => h.snap);
  assert.deepEqual([a!.domains[0]!.packets, a!.domains[0]!.records, a!.domains[0]!.lost, a!.domains[0]!.sequenceGaps], [3, 9, 3, 1]);
  assert.deepEqual(
    [b!.domains[0]!.packets, b!.domains[0]!.records, b!.domains[0]!.lost],
    [1, 1, 0],
    'the second snapshot holds only what changed since the first',
  );
  assert.notEqual(a!.id, b!.id);
});

test('a health snapshot published in a quiet round is taken out of the checkpoint: a crash after it never counts it twice', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-collector-'));
  const sink = new KeepingSink(1);
  const ing = await createIngest(config(dir, { healthIntervalMs: 1000 }), silentLogger, sink, { ports: [0] });
  const [port] = await ing.collector.start();
  t.after(async () => {
    await ing.collector.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const checkpoint = join(dir, 'templates.checkpoint.json');
  const saved = async (): Promise<CollectorCheckpoint | null> => {
    try {
      return JSON.parse(await readFile(checkpoint, 'utf8')) as CollectorCheckpoint;
    } catch {
      return null;
    }
  };
  const pkt = (seq: number) =>
    new PacketBuilder(9, { domain: 7, exportSecs: 1_700_000_000 + seq, sequence: seq, uptimeMs: 1000 + seq })
      .template(400, FIELDS)
      .data(400, [['100.64.0.9', '52.1.1.1', '::', '::', 5, 6, 17, 2, 64]], FIELDS)
      .build();
  await send(port!, [pkt(0), pkt(1), pkt(2)]);
  // The round after the traffic saves its counts as not yet published.
  for (let i = 0; i < 100 && !(await saved())?.health.some((h) => h.packets === 3); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(
    (await saved())?.health.some((h) => h.packets === 3),
    'unpublished health in the checkpoint',
  );
  // No more traffic; the health interval passes and the snapshot goes out in a quiet round.
  for (let i = 0; i < 150 && sink.health.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(sink.health.length, 1);
  assert.equal(sink.health[0]!.snap.domains[0]!.packets, 3);
  for (let i = 0; i < 50 && ((await saved())?.health.length ?? 1) > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual((await saved())?.health, [], 'nothing left to carry: a successor would not publish it again');
});
