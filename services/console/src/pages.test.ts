import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupPage, trendsPage, ttdPage, type PageContext } from './pages.js';
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

test('at an IXP the pages speak of hosts, not lines: lookup, trends, time to detection and the navigation', () => {
  const ixp: PageContext = { ...ctx, path: '/lookup', lookupEnabled: true, unit: 'host' };
  const lookup = lookupPage(ixp, { query: '192.0.2.7', from: '2026-11-20', to: '2026-11-20' }, { lines: 1, results: [], raw: false });
  assert.match(lookup, /<h1>Host lookup<\/h1>/);
  assert.match(lookup, /a host behind a member network/);
  assert.match(lookup, /1 host\(s\) searched, 0 detection\(s\)\. Hosts are shown as their pseudonyms/);
  assert.match(lookup, /<a href="\/lookup" class="here">Host lookup<\/a>/);
  const trends = trendsPage(ixp, { from: '2026-11-19', to: '2026-11-20', days: ['2026-11-19', '2026-11-20'], activeLines: [3, 4], classes: [] });
  assert.match(trends, /Active hosts per day/);
  assert.match(ttdPage(ixp, { from: '2026-11-20', to: '2026-11-20', classes: [cls([1, 0, 0, 0, 0, 0, 0, 0, 0])] }), /Hosts by time to detection/);
  for (const html of [lookup, trends]) assert.doesNotMatch(html.replace(/<nav[^]*?<\/nav>/, ''), /\bsubscriber lines?\b|\bLines?\b(?! lookup)/);
  // And an ISP's keeps its lines.
  assert.match(lookupPage({ ...ixp, unit: 'line' }, { query: '', from: '2026-11-20', to: '2026-11-20' }), /<h1>Line lookup<\/h1>/);
});
