import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ACME_RULES as RULES, cof, repoRoot, tempDir, writeFile } from '@haystack/hitlist/test-helpers';

test('the haystack binary: hitlist build (embedded, with ClickHouse history), show, diff, and rule errors', (t) => {
  const main = join(repoRoot, 'apps', 'cli', 'dist', 'main.js');
  assert.ok(existsSync(main), `${main} missing: build the CLI first (npx tsc -b apps/cli)`);
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(join(dir, 'rules', 'r.yaml'), RULES);
  const pdns = writeFile(join(dir, 'p.jsonl'), cof('cam.acme.com', 'A', '198.51.100.1', '2024-05-10'));
  const env = { ...process.env, HAYSTACK_STATE_DIR: join(dir, 'var'), HAYSTACK_LOG_LEVEL: 'warn' };
  const run = (...args: string[]) => spawnSync(process.execPath, [main, '--log-level', 'warn', ...args], { cwd: dir, env, encoding: 'utf8', timeout: 300_000 });

  const b = run('hitlist', 'build', '--rules', join(dir, 'rules'), '--day', '2024-05-10', '--pdns', pdns, '--out', join(dir, 'out'));
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /history: ClickHouse embedded: 2 entry rows/);
  assert.ok(existsSync(join(dir, 'var', 'chdb')));
  assert.ok(existsSync(join(dir, 'out', 'hitlist.csv')));
  // The 11th would have no entries: refused against the 10th (policy maxShrink) unless forced.
  const refused = run('hitlist', 'build', '--rules', join(dir, 'rules'), '--day', '2024-05-11', '--pdns', pdns, '--no-history');
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /refusing to replace the hitlist: 0 entries against 1 in the hitlist of 2024-05-10/);
  assert.ok(!existsSync(join(dir, 'var', 'hitlist', '2024-05-11')), 'nothing written for a refused build');
  const b2 = run('hitlist', 'build', '--rules', join(dir, 'rules'), '--day', '2024-05-11', '--pdns', pdns, '--no-history', '--json', '--force');
  assert.equal(b2.status, 0, b2.stderr);
  // The only record is from the 10th: the 11th's hitlist (addresses seen that day) drops it.
  assert.equal(JSON.parse(b2.stdout).churn.entries.removed, 1);

  const s = run('hitlist', 'show', '--day', '2024-05-10');
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /acme-cam\s+product\s+detectable/);
  const d = run('hitlist', 'diff', '2024-05-10', '2024-05-11', '--json');
  assert.equal(d.status, 0, d.stderr);
  assert.equal(JSON.parse(d.stdout).to, '2024-05-11');

  writeFile(
    join(dir, 'rules', 'r.yaml'),
    RULES.replace('role: primary, ports: [tcp/443], used_by: [acme-cam]', 'role: primary, ports: [tcp/443], used_by: [acme-camera]'),
  );
  const bad = run('hitlist', 'build', '--rules', join(dir, 'rules'), '--day', '2024-05-10', '--pdns', pdns);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /rules\/r\.yaml:11:\d+: unknown class "acme-camera"/);
  const missing = run('hitlist', 'show', '--day', '2023-01-01');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no hitlist\.json in/);
});
