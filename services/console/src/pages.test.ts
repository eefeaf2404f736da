import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ttdPage, type PageContext } from './pages.js';
import type { TimeToDetection } from './queries.js';

const ctx: PageContext = { path: '/time-to-detection', who: null, lookupEnabled: false, refreshSeconds: undefined, unit: 'line', day: undefined };
const cls = (histogram: number[]) => ({
  classId: 'acme-cam',
  name: 'Acme camera',
  level: 'product' as const,
  detectedHourly: histogram.reduce((a, b) => a + b, 0),
  minutes: { p25: 0, p50: 0, p75: 0, p90: 0, max: 0 },
  histogram,
  dailyOnly: 0,
});

test('the time-to-detection page says why its histogram is one bar, and only then', () => {
  const one: TimeToDetection = { from: '2026-11-14', to: '2026-11-20', classes: [cls([12, 0, 0, 0, 0, 0, 0, 0, 0])] };
  assert.match(ttdPage(ctx, one), /id="ttd-one-bar">One bar: every hourly detection in this range came within 5m of its first evidence/);
  const two: TimeToDetection = { ...one, classes: [cls([12, 3, 0, 0, 0, 0, 0, 0, 0])] };
  assert.doesNotMatch(ttdPage(ctx, two), /ttd-one-bar/);
  const none: TimeToDetection = { ...one, classes: [] };
  assert.doesNotMatch(ttdPage(ctx, none), /ttd-one-bar/);
});
