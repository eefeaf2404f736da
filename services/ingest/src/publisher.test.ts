import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrefixSet, parseAddress } from '@haystack/common';
import { BATCH_CONTINUES, BatchWriter, F, openBatch, records, type FlowRecord } from '@haystack/flow-core';
import { BatchBuffers, type FlowSink } from '@haystack/transport';
import { Publisher } from './publisher.js';

class KeepSink implements FlowSink {
  readonly got: (FlowRecord & { partition: number })[] = [];
  constructor(readonly partitions: number) {}
  async publish(partition: number, batch: Buffer): Promise<void> {
    for (const r of records(openBatch(batch))) this.got.push({ ...r, partition });
  }
  async close(): Promise<void> {}
}

function batch(flows: [string, string, number, number][]): BatchWriter {
  const w = new BatchWriter(flows.length);
  const o0 = w.reserve(flows.length);
  flows.forEach(([src, dst, sp, dp], i) => {
    const o = o0 + i * 136;
    parseAddress(src, w.buf, o + F.src);
    parseAddress(dst, w.buf, o + F.dst);
    w.dv.setUint16(o + F.srcPort, sp, true);
    w.dv.setUint16(o + F.dstPort, dp, true);
    w.buf[o + F.ipVersion] = src.includes(':') ? 6 : 4;
    w.buf[o + F.proto] = 6;
  });
  w.count = flows.length;
  return w;
}

test('without subscriber prefixes (IXP), a host and the replies to it meet in one partition: keyed by the client end', async () => {
  // Many hosts, each talking to a backend and hearing back: requests keyed by source, replies by destination.
  const flows: [string, string, number, number][] = [];
  for (let i = 0; i < 200; i++) {
    const host = `100.64.${i >> 8}.${i & 255}`;
    flows.push([host, '52.1.1.1', 40000 + i, 443], ['52.1.1.1', host, 443, 40000 + i]);
  }
  for (const clientKey of [true, false]) {
    const sink = new KeepSink(8);
    const p = new Publisher({ sink, subscriberPrefixes: new PrefixSet([]), ipv6LinePrefixLength: 64, maxRecords: 1000, clientKey });
    p.add(batch(flows));
    p.flush();
    await p.drain();
    const partOf = new Map<string, Set<number>>();
    for (const r of sink.got) {
      const host = r.srcPort > r.dstPort ? r.src : r.dst;
      if (!partOf.has(host)) partOf.set(host, new Set());
      partOf.get(host)!.add(r.partition);
    }
    const split = [...partOf.values()].filter((s) => s.size > 1).length;
    if (clientKey) assert.equal(split, 0, 'every host in one partition');
    else assert.ok(split > 100, `keyed by source, ${split} of 200 hosts are split`);
    assert.equal(p.counters.noSubscriber, 400);
  }
});

/** Reads every batch the moment it is published, then is done with it (the memory is reused). */
class RecyclingSink extends KeepSink {
  readonly buffers = new BatchBuffers(4);
  override async publish(partition: number, b: Buffer): Promise<void> {
    await super.publish(partition, b);
    this.buffers.give(b);
  }
  batchBuffer(bytes: number): Buffer {
    return this.buffers.take(bytes);
  }
}

test('batches are sealed in place and their memory recycled by the sink: every record intact', async () => {
  const sink = new RecyclingSink(2);
  const p = new Publisher({ sink, subscriberPrefixes: new PrefixSet(['100.64.0.0/10']), ipv6LinePrefixLength: 64, maxRecords: 16 });
  const sent: string[] = [];
  for (let round = 0; round < 40; round++) {
    const flows: [string, string, number, number][] = [];
    for (let i = 0; i < 25; i++) flows.push([`100.64.${round}.${i}`, '52.1.1.1', 1000 + round, 443 + i]);
    for (const f of flows) sent.push(`${f[0]}>${f[1]}:${f[2]}:${f[3]}`);
    p.add(batch(flows));
    await new Promise((r) => setImmediate(r)); // publishes settle: the sink is done with them
  }
  p.flush();
  await p.drain();
  assert.deepEqual(sink.got.map((r) => `${r.src}>${r.dst}:${r.srcPort}:${r.dstPort}`).sort(), sent.sort());
  assert.equal(p.counters.batches, sink.buffers.reused + sink.buffers.allocated - 2, 'each batch but the two staged last came from the sink');
  assert.ok(sink.buffers.reused > 50 && sink.buffers.allocated <= 8, `reused ${sink.buffers.reused}, allocated ${sink.buffers.allocated}`);
});

test('a sink that keeps batches gets a short one as an exact copy, not a whole batch of memory', async () => {
  const held: Buffer[] = [];
  const sink: FlowSink = {
    partitions: 1,
    publish: async (_p, b) => void held.push(b),
    close: async () => {},
  };
  const p = new Publisher({ sink, subscriberPrefixes: new PrefixSet(['100.64.0.0/10']), ipv6LinePrefixLength: 64, maxRecords: 1000 });
  p.add(batch(Array.from({ length: 1300 }, (_, i) => [`100.64.${i >> 8}.${i & 255}`, '52.1.1.1', 1, 2] as [string, string, number, number])));
  p.flush();
  await p.drain();
  assert.deepEqual(
    held.map((b) => openBatch(b).count),
    [1000, 300],
  );
  assert.ok(held[1]!.buffer.byteLength < 1000 * 136, `a 300-record batch holds ${held[1]!.buffer.byteLength} bytes`);
  // The full batch was handed over as it was staged; the next ones are staged elsewhere.
  assert.notEqual(held[0]!.buffer, held[1]!.buffer);
});

test('a batch flushed because it is full carries BATCH_CONTINUES; one flushed by time or at stop does not, and ends a full run', async () => {
  const flags: [number, number][] = [];
  const sink: FlowSink = {
    partitions: 1,
    async publish(_p: number, b: Buffer) {
      const v = openBatch(b);
      flags.push([v.count, v.flags]);
    },
    async close() {},
  };
  const p = new Publisher({ sink, subscriberPrefixes: new PrefixSet(['100.64.0.0/10']), ipv6LinePrefixLength: 64, maxRecords: 10 });
  const flows: [string, string, number, number][] = [];
  for (let i = 0; i < 25; i++) flows.push([`100.64.0.${i}`, '52.1.1.1', 1000, 443]);
  p.add(batch(flows));
  p.flush();
  await p.drain();
  assert.deepEqual(flags, [
    [10, BATCH_CONTINUES],
    [10, BATCH_CONTINUES],
    [5, 0],
  ]);
  // Flows that end exactly on a full batch: the next flush (by time, or at stop) ends the run
  // with an empty batch without the flag; after that, flushes with nothing staged send nothing.
  flags.length = 0;
  p.add(batch(flows.slice(0, 10)));
  p.flush();
  p.flush();
  await p.drain();
  assert.deepEqual(flags, [
    [10, BATCH_CONTINUES],
    [0, 0],
  ]);
});

/** Keeps every batch's records, but each publish settles only on a later turn of the event loop (a broker's round trip). */
class SlowSink extends KeepSink {
  override async publish(partition: number, batch: Buffer): Promise<void> {
    await new Promise((r) => setTimeout(r, 2));
    await super.publish(partition, batch);
  }
}

test("with the sink behind: live collection drops whole batches and counts them; a replay ('wait') publishes every record and holds the reader on ready()", async () => {
  // 256 lines over 64 partitions, 4 records a batch, at most 4 batches in flight: one add() fills
  // far more batches than may be in flight, as a flush of many partitions at once does.
  const flows: [string, string, number, number][] = [];
  for (let i = 0; i < 1024; i++) flows.push([`100.64.${i & 3}.${i >> 2}`, '52.1.1.1', 1000 + i, 443]);
  const run = async (backpressure?: 'drop' | 'wait') => {
    const sink = new SlowSink(64);
    const p = new Publisher({
      sink,
      subscriberPrefixes: new PrefixSet(['100.64.0.0/10']),
      ipv6LinePrefixLength: 64,
      maxRecords: 4,
      maxInFlight: 4,
      ...(backpressure ? { backpressure } : {}),
    });
    p.add(batch(flows));
    let ready = false;
    const waited = p.ready().then(() => (ready = true));
    await new Promise((r) => setImmediate(r));
    const readyAtOnce = ready;
    await waited;
    p.flush();
    await p.drain();
    return { got: sink.got.length, c: p.counters, readyAtOnce };
  };
  const live = await run();
  assert.equal(live.c.records, 1024);
  assert.ok(live.c.droppedBackpressure > 0, 'the scenario does overrun the in-flight limit');
  assert.equal(live.got + live.c.droppedBackpressure, 1024, 'every record is either published or counted as dropped');
  const replay = await run('wait');
  assert.equal(replay.c.droppedBackpressure, 0);
  assert.equal(replay.got, 1024, 'a replay publishes every record');
  assert.equal(replay.readyAtOnce, false, 'ready() waits while more than maxInFlight batches are out');
});

test('live collection on a topic of 128 partitions: a flush by time publishes every partition at once, nothing dropped', async () => {
  const flows: [string, string, number, number][] = [];
  for (let i = 0; i < 4096; i++) flows.push([`100.64.${i >> 8}.${i & 255}`, '52.1.1.1', 1000, 443]);
  const sink = new SlowSink(128);
  const p = new Publisher({ sink, subscriberPrefixes: new PrefixSet(['100.64.0.0/10']), ipv6LinePrefixLength: 64, maxRecords: 1000 });
  p.add(batch(flows));
  p.flush();
  await p.drain();
  assert.equal(new Set(sink.got.map((r) => r.partition)).size, 128, 'every partition had records');
  assert.equal(p.counters.droppedBackpressure, 0);
  assert.equal(sink.got.length, 4096);
});
