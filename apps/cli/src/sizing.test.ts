import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sizing, UNITS } from './sizing.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const main = join(root, 'apps', 'cli', 'dist', 'main.js');

test('docs/sizing.md: every worked example is what `haystack sizing` prints today', () => {
  const doc = readFileSync(join(root, 'docs', 'sizing.md'), 'utf8');
  const blocks = [...doc.matchAll(/```\n\$ haystack sizing ([^\n]+)\n([^]*?)```/g)];
  assert.equal(blocks.length, 3);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('HAYSTACK_')) env[k] = v;
  for (const [, args, printed] of blocks) {
    const r = spawnSync(process.execPath, [main, 'sizing', ...args!.split(' ')], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, printed, `haystack sizing ${args}`);
  }
});

test('sizing scales with lines and sampling, takes a measured traffic per line, and cites a figure for every unit', () => {
  const base = { lines: 100_000, exporters: 4, sampling: 1000, evidenceDays: 35, detectionDays: 400, flowsPerLineDay: null };
  const a = sizing(base);
  const b = sizing({ ...base, lines: 1_000_000 });
  assert.ok(Math.abs(b.flowsPerDay / a.flowsPerDay - 10) < 1e-9);
  assert.ok(Math.abs(b.clickhouse.diskForRetention / a.clickhouse.diskForRetention - 10) < 1e-6);
  // The two measured rates are reproduced exactly; 10× sparser sampling gives 4.9× fewer flows, not 10×.
  assert.equal(Math.round(sizing({ ...base, sampling: 100 }).flowsPerDay / base.lines), Math.round(UNITS.flowsPerLineDayAt100));
  assert.equal(Math.round(a.flowsPerDay / base.lines), Math.round(UNITS.flowsPerLineDayAt1000));
  const own = sizing({ ...base, flowsPerLineDay: 1000 });
  assert.equal(own.flowsPerDay, 100_000_000);
  assert.equal(own.kafka.bytesPerDay, 100_000_000 * UNITS.kafkaBytesPerFlow);
  assert.ok(own.kafka.partitions >= 16);
  // A bad option is one line and exit 2, not a stack trace.
  const r = spawnSync(process.execPath, [main, 'sizing', '--lines', 'many'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});
