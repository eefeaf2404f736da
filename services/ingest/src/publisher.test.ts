import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrefixSet, parseAddress } from '@haystack/common';
import { BatchWriter, F, openBatch, records, type FlowRecord } from '@haystack/flow-core';
import type { FlowSink } from '@haystack/transport';
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
