import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyRows, type DetectorRows, type EvidenceRow, type QualityRow } from '@haystack/store';
import { BatchGroups, GroupAbandonedError, type OpenGroup } from './batch-groups.js';
import { mergeGroupRows } from './group-rows.js';

/** Feeds (offset, continues) pairs of one partition; returns the groups closed, as [first, last]. */
function boundaries(size: number, batches: [number, boolean][]): [number, number][] {
  const closed: OpenGroup[] = [];
  const g = new BatchGroups(size, (x) => closed.push(x));
  for (const [o, c] of batches) g.add(0, o, emptyRows(), c);
  return closed.map((x) => [x.first, x.last]);
}

test('group boundaries follow the log alone: the flag, offset-aligned buckets, gaps', () => {
  // No flag (batches flushed by time, older producers): every batch its own group, as before grouping.
  assert.deepEqual(
    boundaries(16, [
      [0, false],
      [1, false],
    ]),
    [
      [0, 0],
      [1, 1],
    ],
  );
  // Flagged batches stay open until a batch without the flag.
  assert.deepEqual(
    boundaries(16, [
      [3, true],
      [4, true],
      [5, false],
      [6, true],
    ]),
    [[3, 5]],
  );
  // Under sustained load (every batch full) a bucket's last offset ends the group, whatever the first was.
  const full = Array.from({ length: 40 }, (_, i): [number, boolean] => [5 + i, true]);
  assert.deepEqual(boundaries(16, full), [
    [5, 15],
    [16, 31],
  ]);
  // A gap in the offsets ends the open group before the next batch.
  assert.deepEqual(
    boundaries(16, [
      [0, true],
      [1, true],
      [4, false],
    ]),
    [
      [0, 1],
      [4, 4],
    ],
  );
  // The same batches delivered again from a group's start group the same way.
  const log: [number, boolean][] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((o) => [o, o % 4 !== 3]);
  const once = boundaries(4, log);
  assert.deepEqual(once, [
    [0, 3],
    [4, 7],
  ]);
  assert.deepEqual(boundaries(4, log.slice(4)), once.slice(1), 'from the committed position 4, the same groups');
  // An open group is never stored cut short.
  assert.deepEqual(boundaries(16, [[7, true]]), []);
  // Size 1 (a source that waits for each batch): every batch alone, flag or not.
  assert.deepEqual(
    boundaries(1, [
      [0, true],
      [1, true],
    ]),
    [
      [0, 0],
      [1, 1],
    ],
  );
});

test('group size: half of what a source lets a partition hold back, a power of two, at most 16', () => {
  assert.deepEqual([1, 2, 3, 4, 8, 31, 32, 100].map(BatchGroups.sizeFor), [1, 1, 1, 2, 4, 8, 16, 16]);
  assert.throws(() => new BatchGroups(0, () => undefined), /positive integer/);
});

test('an abandoned group rejects its batches and stores nothing; a rewind is recognised', async () => {
  const closed: OpenGroup[] = [];
  const g = new BatchGroups(16, (x) => closed.push(x));
  const a = g.add(2, 10, emptyRows(), true);
  g.add(2, 11, emptyRows(), true);
  assert.equal(g.held(), 2);
  assert.equal(g.rewinds(2, 11), true, 'offset 11 again');
  assert.equal(g.rewinds(2, 12), false);
  assert.equal(g.rewinds(3, 0), false, 'another partition');
  assert.equal(g.abandon(2, 'test'), true);
  assert.equal(g.abandon(2, 'test'), false);
  await assert.rejects(a.done, GroupAbandonedError);
  assert.equal(closed.length, 0);
  assert.equal(g.held(), 0);
  g.add(1, 0, emptyRows(), true);
  g.add(4, 0, emptyRows(), true);
  assert.deepEqual(g.abandonAll('rebalance').sort(), [1, 4]);
});

function ev(offset: number, o: Partial<EvidenceRow>): EvidenceRow {
  return {
    source: 's',
    src_partition: 1,
    src_offset: offset,
    day: '2026-12-01',
    hour: '2026-12-01 10:00:00',
    line: 'l1',
    class_id: 'cam',
    level: 'product',
    domain: 'a.example',
    hitlist_day: '2026-12-01',
    flows: 1,
    sampled_packets: 3,
    sampled_bytes: 100,
    est_packets: 300,
    est_bytes: 10_000,
    unknown_rate_flows: 0,
    first_seen: '2026-12-01 10:05:00.000',
    last_seen: '2026-12-01 10:06:00.000',
    ...o,
  };
}

test('merged rows: one per fact, sums added, seen times widened, keyed by the group first offset', () => {
  const rows: DetectorRows = emptyRows();
  rows.evidence.push(
    ev(7, {}),
    ev(8, { flows: 2, first_seen: '2026-12-01 10:01:00.000', last_seen: '2026-12-01 10:02:00.000', hitlist_day: '2026-11-30' }),
    ev(9, { domain: 'b.example' }),
    ev(9, { last_seen: '2026-12-01 10:59:00.500', unknown_rate_flows: 1, est_packets: 0 }),
  );
  const q = (offset: number, rates: number[], records: number): QualityRow => ({
    source: 's',
    src_partition: 1,
    src_offset: offset,
    src_offset_last: offset,
    day: '2026-12-01',
    exporter: '192.0.2.1',
    version: 9,
    observation_domain: 0,
    records,
    matched: 1,
    unknown_rate: 0,
    no_hitlist: 0,
    no_side: 0,
    bad_records: 0,
    sampling_rates: rates,
  });
  rows.quality.push(q(7, [100], 10), q(8, [1000, 100], 5));
  rows.backendTraffic.push(
    {
      source: 's',
      src_partition: 1,
      src_offset: 7,
      day: '2026-12-01',
      line: 'l1',
      backend: '::ffff:203.0.113.5',
      hitlist_day: '2026-12-01',
      flows: 1,
      est_packets: 3,
      est_bytes: 9,
      unknown_rate_flows: 0,
    },
    {
      source: 's',
      src_partition: 1,
      src_offset: 9,
      day: '2026-12-01',
      line: 'l1',
      backend: '::ffff:203.0.113.5',
      hitlist_day: '2026-12-01',
      flows: 2,
      est_packets: 4,
      est_bytes: 1,
      unknown_rate_flows: 1,
    },
  );
  rows.undecodable.push({ source: 's', src_partition: 1, src_offset: 8, day: '2026-12-01', received_at: '2026-12-01 10:00:00.000', bytes: 3, reason: 'x' });
  // One DetectorRows per batch, as the detector adds them.
  const batches = [7, 8, 9].map((offset) => {
    const b = emptyRows();
    for (const k of Object.keys(b) as (keyof DetectorRows)[])
      (b[k] as { src_offset: number }[]).push(...(rows[k] as { src_offset: number }[]).filter((r) => r.src_offset === offset));
    return b;
  });
  const before = JSON.stringify(batches);
  const m = mergeGroupRows(batches, 7);
  assert.equal(JSON.stringify(batches), before, 'the input is not modified');
  assert.equal(m.evidence.length, 2);
  const a = m.evidence.find((r) => r.domain === 'a.example')!;
  assert.deepEqual(
    { ...a },
    {
      ...ev(7, {}),
      flows: 4,
      sampled_packets: 9,
      sampled_bytes: 300,
      est_packets: 600,
      est_bytes: 30_000,
      unknown_rate_flows: 1,
      first_seen: '2026-12-01 10:01:00.000',
      last_seen: '2026-12-01 10:59:00.500',
      hitlist_day: '2026-12-01',
    },
  );
  assert.equal(m.evidence.find((r) => r.domain === 'b.example')!.src_offset, 7);
  assert.deepEqual(
    m.quality.map((r) => [r.src_offset, r.src_offset_last, r.records, r.matched, r.sampling_rates]),
    [[7, 8, 15, 2, [100, 1000]]],
  );
  assert.deepEqual(
    m.backendTraffic.map((r) => [r.src_offset, r.flows, r.est_packets, r.est_bytes, r.unknown_rate_flows]),
    [[7, 3, 7, 10, 1]],
  );
  assert.deepEqual(m.undecodable, rows.undecodable, 'undecodable batches keep their own position');
});

test('merged rows: class and hitlist rows once per key, a single batch passes through as it is', () => {
  const batch = (offset: number): DetectorRows => {
    const b = emptyRows();
    b.evidence.push(ev(offset, {}));
    b.classes.push(
      { day: '2026-12-01', class_id: 'cam', name: 'Camera', level: 'product', parents: [], detectable: 1, hitlist_day: '2026-12-01' },
      { day: '2026-12-01', class_id: 'hub', name: 'Hub', level: 'product', parents: [], detectable: 0, hitlist_day: '2026-12-01' },
    );
    b.hitlists.push({ day: '2026-12-01', hitlist_day: '2026-12-01', version: 3, built_at: '2026-12-01 00:00:00', entries: 9, addresses: 4, classes: 1 });
    return b;
  };
  const b5 = batch(5);
  // Facts that differ in one part only stay apart.
  b5.evidence.push(ev(5, { hour: '2026-12-01 11:00:00' }), ev(5, { class_id: 'hub' }), ev(5, { line: 'l2' }), ev(5, { day: '2026-12-02' }));
  const b6 = batch(6);
  // A hitlist swapped within the group: its class rows are the ones stored, as the last inserted would be.
  b6.classes[0] = { ...b6.classes[0]!, name: 'Camera (new hitlist)', hitlist_day: '2026-12-02' };
  const m = mergeGroupRows([batch(4), b5, b6], 4);
  assert.deepEqual(
    m.classes.map((r) => [r.class_id, r.name, r.hitlist_day]),
    [
      ['cam', 'Camera (new hitlist)', '2026-12-02'],
      ['hub', 'Hub', '2026-12-01'],
    ],
  );
  assert.equal(m.hitlists.length, 1);
  assert.deepEqual(
    m.evidence.map((r) => [r.src_offset, r.flows, r.day, r.hour, r.line, r.class_id]),
    [
      [4, 3, '2026-12-01', '2026-12-01 10:00:00', 'l1', 'cam'],
      [4, 1, '2026-12-01', '2026-12-01 11:00:00', 'l1', 'cam'],
      [4, 1, '2026-12-01', '2026-12-01 10:00:00', 'l1', 'hub'],
      [4, 1, '2026-12-01', '2026-12-01 10:00:00', 'l2', 'cam'],
      [4, 1, '2026-12-02', '2026-12-01 10:00:00', 'l1', 'cam'],
    ],
  );
  const one = batch(4);
  assert.equal(mergeGroupRows([one], 4), one, 'a group of one batch stores its rows unchanged');
});
