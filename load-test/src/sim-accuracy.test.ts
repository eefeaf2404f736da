import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { computeMetrics, renderMarkdown, renderPlots, runAccuracy, type MetricsInput } from './sim/accuracy.js';
import type { TruthRow } from '@haystack/simulator';
import { rulesDir, tempDir } from '@haystack/simulator/test-support';

const H = 3_600_000;
const T0 = Date.parse('2026-11-20T00:00:00Z');
const row = (line: string, cls: string, level: TruthRow['level'], first = T0): TruthRow => ({
  subscriber: 0,
  family: 4,
  line,
  class: cls,
  level,
  firstActiveMs: first,
  units: 1,
});

test('accuracy metrics: recall by horizon with censoring, false positives, undetectable classes', () => {
  const truth = [
    row('100.64.0.1', 'cam', 'product'), // detected after 30 min
    row('100.64.0.2', 'cam', 'product'), // detected after 5 h
    row('100.64.0.3', 'cam', 'product'), // never
    row('100.64.0.4', 'cam', 'product', T0 + 40 * H), // first active 40 h in: observed 8 h only
    row('100.64.0.1', 'acme', 'manufacturer'),
    row('100.64.0.5', 'lamp', 'product'), // a class the hitlist cannot detect
  ];
  const first = new Map([
    ['hour\t100.64.0.1\tcam', { at: T0 + 0.5 * H }],
    ['day\t100.64.0.1\tcam', { at: T0 + 0.7 * H }],
    ['day\t100.64.0.2\tcam', { at: T0 + 5 * H }],
    ['hour\t100.64.0.4\tcam', { at: T0 + 41 * H }],
    ['day\t100.64.0.1\tacme', { at: T0 + 30 * H }],
    ['hour\t100.64.0.9\tcam', { at: T0 + 2 * H }], // false positive, explained by a stray
    ['day\t100.64.0.8\tacme', { at: T0 + 3 * H }], // false positive
    ['day\t100.64.0.7\tlamp', { at: T0 + 3 * H }], // not a detectable class: ignored
  ]);
  const inp: MetricsInput = {
    truth,
    first,
    detectable: new Map([
      ['cam', 'product'],
      ['acme', 'manufacturer'],
    ]),
    lineIdentities: 10,
    endMs: T0 + 48 * H,
    strayPairs: new Set(['100.64.0.9\tcam']),
  };
  const any = computeMetrics(inp, 'any');
  const p = any.levels.find((l) => l.level === 'product')!;
  assert.deepEqual([p.positives, p.detectable, p.detectedEver], [5, 4, 3]);
  assert.deepEqual(
    p.recall.map((x) => [x.hours, x.eligible, x.detected]),
    [
      [1, 4, 2], // 0.1 (30 min) and 0.4 (1 h after its first activity)
      [6, 4, 3],
      [24, 3, 2], // 0.4 observed for 8 h only: not eligible
    ],
  );
  assert.deepEqual([p.falsePositives, p.falsePositivesStray, p.negatives], [1, 1, 10 * 1 - 4]);
  const m = any.levels.find((l) => l.level === 'manufacturer')!;
  assert.deepEqual([m.detectable, m.recall[2]!.detected, m.falsePositives, m.negatives], [1, 0, 1, 9]);
  assert.equal(m.precision, 1 / 2);
  // Windows separately: the hour window alone misses 0.2.
  const hour = computeMetrics(inp, 'hour').levels.find((l) => l.level === 'product')!;
  assert.equal(hour.detectedEver, 2);
  const cls = any.classes.find((c) => c.class === 'lamp')!;
  assert.deepEqual([cls.detectable, cls.recall24], [false, null]);
});

test('accuracy harness: a simulated day through ingest, hitlist and detector, for two thresholds', async () => {
  const t = tempDir();
  try {
    const res = await runAccuracy({ lines: 150, days: 1, samplings: [100], thresholds: [1, 2], seed: 2, out: t.dir, rulesDir, exporters: 2 });
    assert.equal(res.results.length, 2);
    const [a, b] = res.results as [(typeof res.results)[0], (typeof res.results)[0]];
    for (const r of [a, b]) {
      // Every exported record reached the detector, with a subscriber side and a sampling rate.
      assert.equal(r.detector.flows, r.records);
      assert.equal(r.detector.noSide, 0);
      assert.equal(r.detector.unknownSampling, 0);
      assert.equal(r.detector.noHitlist, 0);
      assert.ok(r.detector.matched > 100);
    }
    const recall24 = (r: typeof a) => r.metrics.any.levels.reduce((s, m) => s + m.recall[2]!.detected, 0);
    const fps = (r: typeof a) => r.metrics.any.levels.reduce((s, m) => s + m.falsePositives, 0);
    assert.ok(recall24(a) > 0, 'nothing detected at threshold 1');
    // A higher threshold never detects more, nor produces more false positives.
    assert.ok(recall24(b) <= recall24(a));
    assert.ok(fps(b) <= fps(a));
    const md = renderMarkdown(res);
    assert.match(md, /\| 1:100 \| 1 \| product \|/);
    const files = renderPlots(res, t.dir);
    for (const f of files) assert.ok(readdirSync(t.dir).includes(f));
  } finally {
    t.cleanup();
  }
});
