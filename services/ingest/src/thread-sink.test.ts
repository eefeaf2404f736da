import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { PrefixSet, parseAddress } from '@haystack/common';
import { BatchWriter, F, openBatch, records } from '@haystack/flow-core';
import { CountingSink, MemoryBus, type FlowSink } from '@haystack/transport';
import { Publisher } from './publisher.js';
import { ThreadSink, relayToSink } from './thread-sink.js';

function flows(round: number, n: number): BatchWriter {
  const w = new BatchWriter(n);
  const o0 = w.reserve(n);
  for (let i = 0; i < n; i++) {
    const o = o0 + i * 136;
    parseAddress(`100.64.${round & 255}.${i}`, w.buf, o + F.src);
    parseAddress('52.1.1.1', w.buf, o + F.dst);
    w.dv.setUint16(o + F.srcPort, round, true);
    w.dv.setUint16(o + F.dstPort, 443, true);
    w.buf[o + F.ipVersion] = 4;
  }
  w.count = n;
  return w;
}

/** A worker's publisher over a ThreadSink, the main thread's end relaying to `main` (one process, two ports). */
async function publishThrough(main: FlowSink, rounds: number): Promise<ThreadSink> {
  const { port1, port2 } = new MessageChannel();
  relayToSink(port2, () => main);
  const sink = new ThreadSink(port1, main.partitions);
  const p = new Publisher({ sink, subscriberPrefixes: new PrefixSet(['100.64.0.0/10']), ipv6LinePrefixLength: 64, maxRecords: 32 });
  for (let r = 0; r < rounds; r++) {
    p.add(flows(r, 40));
    await p.settled(); // answered: with a recycling sink the memory is back before the next round
  }
  p.flush();
  await p.drain();
  port1.close();
  port2.close();
  return sink;
}

test('a worker’s batches cross to the main thread without a copy; a counting sink sends their memory back for reuse', async () => {
  const main = new CountingSink(2, true);
  const sink = await publishThrough(main, 30);
  assert.equal(main.records, 30 * 40, 'every record counted, CRC checked');
  assert.ok(sink.buffers.reused >= 30, `memory reused ${sink.buffers.reused} times`);
  assert.ok(sink.buffers.allocated <= 6, `allocated ${sink.buffers.allocated}`);
});

test('the in-process bus keeps its batches after publishing: their memory is never sent back or reused', async () => {
  const bus = new MemoryBus({ partitions: 2, queueCapacity: 1000 });
  const sink = await publishThrough(bus.sink, 30);
  assert.equal(sink.buffers.reused, 0);
  // Read only now, after every later batch was built: each still holds its own records.
  const got: string[] = [];
  const src = bus.createSource();
  await src.run(async (b) => {
    for (const r of records(openBatch(b))) got.push(`${r.src}:${r.srcPort}`);
  });
  const until = Date.now() + 5000;
  while (got.length < 1200 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  await src.close();
  assert.equal(new Set(got).size, 1200);
});
