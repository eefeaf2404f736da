import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter, decodeHealth, isHealth, type DomainHealth, type HealthSnapshot } from '@haystack/flow-core';
import { FlowDecoder, IE, PacketBuilder, type FieldSpec } from '@haystack/decoders';
import type { FlowSink } from '@haystack/transport';
import { HealthReporter } from './health.js';

const FIELDS: FieldSpec[] = [
  { id: IE.sourceIPv4Address, length: 4 },
  { id: IE.destinationIPv4Address, length: 4 },
  { id: IE.flowStartMilliseconds, length: 8 },
  { id: IE.flowEndMilliseconds, length: 8 },
  { id: IE.packetDeltaCount, length: 4 },
  { id: IE.octetDeltaCount, length: 4 },
];

class HealthSink implements FlowSink {
  readonly partitions = 1;
  readonly got: HealthSnapshot[] = [];
  async publish(_p: number, batch: Buffer): Promise<void> {
    if (isHealth(batch)) this.got.push(decodeHealth(batch));
  }
  async close(): Promise<void> {}
}

const MIDNIGHT = Date.UTC(2026, 10, 20, 0, 0, 0); // 2026-11-20T00:00Z
const ipfix = (seq: number, exportMs: number, startMs: number, records = 1) =>
  new PacketBuilder(10, { domain: 1, exportSecs: Math.floor(exportMs / 1000), sequence: seq })
    .template(256, FIELDS)
    .data(
      256,
      Array.from({ length: records }, () => ['100.64.0.1', '52.1.1.1', BigInt(startMs), BigInt(startMs + 1000), 1, 60]),
    )
    .build();

const pick = (h: DomainHealth) => ({ day: h.day, packets: h.packets, records: h.records, lost: h.lost, sequenceGaps: h.sequenceGaps });

test('health is split by the day of the flows it describes: midnight inside one snapshot gives one entry per day', () => {
  const decoder = new FlowDecoder();
  const reporter = new HealthReporter(decoder, new HealthSink(), 'c1', MIDNIGHT - 60_000);
  const w = new BatchWriter(64);
  // Two packets of the 19th, then (3 records lost) two of the 20th.
  decoder.decode(ipfix(0, MIDNIGHT - 10_000, MIDNIGHT - 12_000, 2), '192.0.2.1', MIDNIGHT - 9_000, w);
  decoder.decode(ipfix(2, MIDNIGHT - 5_000, MIDNIGHT - 6_000, 2), '192.0.2.1', MIDNIGHT - 4_000, w);
  decoder.decode(ipfix(7, MIDNIGHT + 5_000, MIDNIGHT + 1_000, 1), '192.0.2.1', MIDNIGHT + 6_000, w);
  decoder.decode(ipfix(8, MIDNIGHT + 9_000, MIDNIGHT + 8_000, 1), '192.0.2.1', MIDNIGHT + 10_000, w);
  const s = reporter.snapshot(MIDNIGHT + 30_000)!;
  assert.deepEqual(
    s.domains.map(pick).sort((a, b) => a.day!.localeCompare(b.day!)),
    [
      // The split is per packet, not per record, and found after a packet is decoded: the packet
      // that turns the day (and the gap it found, which spans midnight) still counts for the day before.
      { day: '2026-11-19', packets: 3, records: 5, lost: 3, sequenceGaps: 1 },
      { day: '2026-11-20', packets: 1, records: 1, lost: 0, sequenceGaps: 0 },
    ],
  );
  // Consumed: the next snapshot holds only what came after.
  decoder.decode(ipfix(9, MIDNIGHT + 20_000, MIDNIGHT + 19_000, 1), '192.0.2.1', MIDNIGHT + 21_000, w);
  assert.deepEqual(reporter.snapshot(MIDNIGHT + 40_000)!.domains.map(pick), [{ day: '2026-11-20', packets: 1, records: 1, lost: 0, sequenceGaps: 0 }]);
});

test('an export delayed past midnight is health of the day its flows started, not of the day it arrived', () => {
  const decoder = new FlowDecoder();
  const reporter = new HealthReporter(decoder, new HealthSink(), 'c1');
  const w = new BatchWriter(64);
  // Flows of 23:58 on the 19th, exported (and received) at 00:20 on the 20th.
  decoder.decode(ipfix(0, MIDNIGHT + 1_200_000, MIDNIGHT - 120_000, 3), '192.0.2.1', MIDNIGHT + 1_200_500, w);
  const s = reporter.snapshot(MIDNIGHT + 1_260_000)!;
  assert.deepEqual(s.domains.map(pick), [{ day: '2026-11-19', packets: 1, records: 3, lost: 0, sequenceGaps: 0 }]);
});

test('health a collector took but never published is carried by its successor, once', async () => {
  const decoder = new FlowDecoder();
  const first = new HealthReporter(decoder, new HealthSink(), 'c1');
  const w = new BatchWriter(64);
  decoder.decode(ipfix(0, MIDNIGHT + 1_000, MIDNIGHT, 2), '192.0.2.1', MIDNIGHT + 1_000, w);
  decoder.decode(ipfix(5, MIDNIGHT + 2_000, MIDNIGHT + 1_000, 2), '192.0.2.1', MIDNIGHT + 2_000, w);
  // pending() does not consume: asked twice, the same answer.
  const saved = first.pending();
  assert.deepEqual(first.pending(), saved);
  assert.deepEqual(saved.map(pick), [{ day: '2026-11-20', packets: 2, records: 4, lost: 3, sequenceGaps: 1 }]);

  // The successor (a fresh decoder: the process died) restores it and sees one more packet.
  const decoder2 = new FlowDecoder();
  const sink = new HealthSink();
  const second = new HealthReporter(decoder2, sink, 'c2');
  second.carry(JSON.parse(JSON.stringify(saved)) as DomainHealth[]);
  decoder2.decode(ipfix(7, MIDNIGHT + 3_000, MIDNIGHT + 2_000, 1), '192.0.2.1', MIDNIGHT + 3_000, w);
  await second.report(MIDNIGHT + 4_000);
  assert.deepEqual(sink.got[0]!.domains.map(pick), [{ day: '2026-11-20', packets: 3, records: 5, lost: 3, sequenceGaps: 1 }]);
  // Carried once: the next snapshot does not repeat it.
  decoder2.decode(ipfix(8, MIDNIGHT + 5_000, MIDNIGHT + 4_000, 1), '192.0.2.1', MIDNIGHT + 5_000, w);
  await second.report(MIDNIGHT + 6_000);
  assert.deepEqual(sink.got[1]!.domains.map(pick), [{ day: '2026-11-20', packets: 1, records: 1, lost: 0, sequenceGaps: 0 }]);
});

test('a domain the decoder forgot and sees again starts from zero: never a negative delta', () => {
  const decoder = new FlowDecoder({ limits: { domainIdleMs: 1000 } });
  const reporter = new HealthReporter(decoder, new HealthSink(), 'c1');
  const w = new BatchWriter(64);
  for (let i = 0; i < 3; i++) decoder.decode(ipfix(i, MIDNIGHT + i * 100, MIDNIGHT, 1), '192.0.2.1', MIDNIGHT + i * 100, w);
  assert.equal(reporter.snapshot(MIDNIGHT + 500)!.domains[0]!.packets, 3);
  decoder.registry.sweep(MIDNIGHT + 10_000); // idle: forgotten
  decoder.decode(ipfix(3, MIDNIGHT + 11_000, MIDNIGHT + 11_000, 1), '192.0.2.1', MIDNIGHT + 11_000, w);
  assert.deepEqual(reporter.snapshot(MIDNIGHT + 12_000)!.domains.map(pick), [{ day: '2026-11-20', packets: 1, records: 1, lost: 0, sequenceGaps: 0 }]);
});
