import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '@haystack/common';
import { dayNumber, dayOf, ts, ts64 } from './days.js';

test('ts64 writes what Date#toISOString writes (UTC, milliseconds truncated), across hours, days and years', () => {
  const rnd = seededRandom(3);
  const edges = [
    0,
    86_400_000 - 1,
    86_400_000,
    Date.UTC(2026, 11, 31, 23, 59, 59, 999),
    Date.UTC(2027, 0, 1),
    Date.UTC(2024, 1, 29, 12, 0, 0, 5),
    1_700_000_000_123.75,
  ];
  const samples = [...edges, ...Array.from({ length: 20_000 }, () => Math.floor(rnd() * 4_102_444_800_000) + rnd())];
  for (const ms of samples) assert.equal(ts64(ms), new Date(ms).toISOString().replace('T', ' ').slice(0, 23), String(ms));
  assert.throws(() => ts64(NaN), /not a time/);
  assert.equal(ts(Date.UTC(2026, 2, 10, 10)), '2026-03-10 10:00:00');
  assert.equal(dayOf(Date.UTC(2026, 2, 10, 23, 59, 59, 999)), '2026-03-10');
  assert.equal(dayNumber('2026-03-11') * 86_400_000, Date.UTC(2026, 2, 11));
  assert.throws(() => dayNumber('2026-02-30'), /invalid day/);
});
