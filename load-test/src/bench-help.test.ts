import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = dirname(fileURLToPath(import.meta.url));

// Several benchmarks run for half an hour on their defaults: --help must print their usage and
// leave at once, never start a run.
for (const script of [
  'bench-collector.js',
  'bench-console.js',
  'bench-decode.js',
  'bench-e2e.js',
  'bench-insert.js',
  'bench-pdns.js',
  'profile-top.js',
  'sim/bench-generator.js',
  'sim/bench-ixp-accuracy.js',
]) {
  test(`${script} --help prints its usage and exits`, () => {
    const r = spawnSync(process.execPath, [join(dist, script), '--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /node load-test\/dist\/|usage:/);
    assert.ok(r.stdout.length < 5_000, 'usage only, no benchmark output');
  });
}
