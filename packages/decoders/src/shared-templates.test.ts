import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter, openBatch, records } from '@haystack/flow-core';
import { FlowDecoder, IE, PacketBuilder, TemplateRegistry, type FieldSpec } from './index.js';

/** Templates another collector learned (shared through Redis by load-balanced collectors). */
const V1: FieldSpec[] = [
  { id: IE.sourceIPv4Address, length: 4 },
  { id: IE.destinationIPv4Address, length: 4 },
  { id: IE.octetDeltaCount, length: 4 },
];
const V2: FieldSpec[] = [...V1, { id: IE.packetDeltaCount, length: 4 }];

function packet(t0: number, seq: number, template: FieldSpec[] | null, rows: (string | number)[][], fields: FieldSpec[]): Buffer {
  const b = new PacketBuilder(10, { domain: 3, exportSecs: Math.floor(t0 / 1000), sequence: seq });
  if (template) b.template(256, template);
  b.data(256, rows, fields);
  return b.build();
}

test("a peer's template decodes the data held for it; a peer's older copy never replaces what the exporter just sent", () => {
  const t0 = Date.UTC(2026, 11, 7, 12);
  // Collector a hears the exporter's template v1 at t0.
  const a = new FlowDecoder();
  const wa = new BatchWriter(64);
  a.decode(packet(t0, 0, V1, [['100.64.0.1', '52.1.1.1', 10]], V1), '192.0.2.9', t0, wa);
  const shared = [...a.registry.all()][0]!.snapshot();
  assert.equal(shared.templates[0]!.definedAt, t0);

  // Collector b gets data only: held, then decoded once a's template is applied.
  const b = new FlowDecoder();
  const wb = new BatchWriter(64);
  assert.equal(b.decode(packet(t0, 1, null, [['100.64.0.2', '52.1.1.1', 20]], V1), '192.0.2.9', t0 + 10, wb), 0);
  const d = b.registry.find(TemplateRegistry.keyOf(shared))!;
  assert.equal(d.heldSets, 1);
  assert.equal(d.applyShared(shared, wb), 1);
  assert.deepEqual(
    [...records(openBatch(wb.finish()))].map((r) => r.bytes),
    [20],
  );
  assert.equal(d.counters.templatesAdded, 0, "a peer's template is not counted as this exporter's traffic here");

  // The exporter then sends v2 to b; a's older v1 arriving afterwards must not replace it.
  wb.reset();
  b.decode(packet(t0 + 60_000, 2, V2, [['100.64.0.3', '52.1.1.1', 30, 1]], V2), '192.0.2.9', t0 + 60_000, wb);
  assert.equal(d.applyShared(shared, wb), 0);
  assert.equal(d.templates.get(256)!.fields.length, 4, 'v2 kept');
  // And a newer copy from the peer does replace it.
  const newer = { ...shared, templates: shared.templates.map((t) => ({ ...t, definedAt: t0 + 120_000 })) };
  assert.equal(d.applyShared(newer, wb), 1);
  assert.equal(d.templates.get(256)!.fields.length, 3);
});

test('a domain marked split counts no sequence gaps; unmarked, its sequence starts afresh', () => {
  const t0 = Date.UTC(2026, 11, 7, 12);
  const dec = new FlowDecoder();
  const w = new BatchWriter(64);
  const send = (seq: number, at: number) => dec.decode(packet(at, seq, V1, [['100.64.0.1', '52.1.1.1', 1]], V1), '192.0.2.9', at, w);
  send(0, t0);
  const d = [...dec.registry.all()][0]!;
  d.setSequenceSplit(true);
  send(5, t0 + 1000); // four records went to another collector
  send(9, t0 + 2000);
  assert.equal(d.counters.lost, 0);
  d.setSequenceSplit(false);
  send(20, t0 + 3000); // the first packet after: no gap (nothing expected)
  send(22, t0 + 4000); // then counted as usual
  assert.equal(d.counters.lost, 1);
});
