import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '@haystack/common';
import { startRedis } from '@haystack/testkit';
import { HitlistCommandError, runBuildCommand, runDiffCommand, runShowCommand, type BuildCommandOptions } from './commands.js';
import { RulesError } from '@haystack/rules';
import { RedisHitlistStore } from '@haystack/hitlist-contract';
import { cof, repoRoot, tempDir, TEST_SOURCES, writeFile } from './test-helpers.js';

const RULES = `${TEST_SOURCES}
policy: { lookbackDays: 2 }
manufacturers:
  - { id: acme, name: Acme, source: [test] }
products:
  - { id: acme-cam, name: Acme cam, manufacturer: acme, source: [test] }
domains:
  - { domain: cam.acme.com, role: primary, ports: [tcp/443], used_by: [acme-cam], source: [test] }
  - { domain: cdn.acme.com, role: primary, ports: [tcp/443], used_by: [acme-cam], source: [test] }
`;

function options(dir: string, over: Partial<BuildCommandOptions>): BuildCommandOptions {
  return {
    day: '2024-05-10',
    pdns: [],
    certs: [],
    rulesDir: join(dir, 'rules'),
    stateDir: join(dir, 'var'),
    tmpDir: dir,
    policy: {},
    publish: true,
    activate: true,
    history: false,
    redis: { url: null, keyPrefix: 'haystack:' },
    clickhouse: { url: null, database: 'haystack', username: 'default', password: '' },
    json: false,
    log: silentLogger,
    ...over,
  };
}

test('build, show and diff through the command layer; --out files; publish to a real Redis', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(join(dir, 'rules', 'r.yaml'), RULES);
  const day1 = writeFile(join(dir, 'd1.jsonl'), [cof('cam.acme.com', 'A', '198.51.100.1', '2024-05-10'), cof('cdn.acme.com', 'A', '198.51.100.2', '2024-05-10'), '{oops'].join('\n'));
  const day2 = writeFile(join(dir, 'd2.jsonl'), [cof('cam.acme.com', 'A', '198.51.100.1', '2024-05-10', '2024-05-11'), cof('cam.acme.com', 'A', '198.51.100.7', '2024-05-11')].join('\n'));
  const redis = await startRedis();
  t.after(() => redis.stop());

  let out = '';
  await runBuildCommand(options(dir, { pdns: [day1], out: join(dir, 'out'), redis: { url: redis.url, keyPrefix: 'hs:' } }), (s) => (out += s));
  assert.match(out, /d1\.jsonl: 3 lines, 2 records, 1 skipped \(invalid JSON 1\)/);
  assert.match(out, /d1\.jsonl:3: invalid JSON/);
  assert.match(out, /published: Redis: day 2024-05-10 version 1, active/);
  assert.match(out, /churn: no hitlist for 2024-05-09/);
  // --out: the CSV holds exactly one row per address, port, transport, domain and class.
  const csv = readFileSync(join(dir, 'out', 'hitlist.csv'), 'utf8').trim().split('\n');
  assert.deepEqual(csv, [
    'address,port,transport,domain,class',
    '198.51.100.1,443,tcp,cam.acme.com,acme',
    '198.51.100.1,443,tcp,cam.acme.com,acme-cam',
    '198.51.100.2,443,tcp,cdn.acme.com,acme',
    '198.51.100.2,443,tcp,cdn.acme.com,acme-cam',
  ]);
  for (const f of ['hitlist.json', 'rules.json', 'classes.csv', 'domains.csv', 'decisions.json', 'report.json'])
    assert.ok(existsSync(join(dir, 'out', f)) && existsSync(join(dir, 'var', 'hitlist', '2024-05-10', f)), f);
  const rules = JSON.parse(readFileSync(join(dir, 'out', 'rules.json'), 'utf8'));
  assert.deepEqual(rules.rules.map((r: { class: string; level: string }) => `${r.class}:${r.level}`).sort(), ['acme-cam:product', 'acme:manufacturer']);
  const store = new RedisHitlistStore({ url: redis.url, keyPrefix: 'hs:' });
  t.after(() => store.close());
  assert.ok((await store.active())!.find('198.51.100.2', 443, 'tcp'));

  out = '';
  await runBuildCommand(options(dir, { day: '2024-05-11', pdns: [day2], redis: { url: redis.url, keyPrefix: 'hs:' }, activate: false }), (s) => (out += s));
  assert.match(out, /churn 2024-05-10 → 2024-05-11: entries \+1 −1/);
  assert.match(out, /not activated/);
  assert.equal((await store.activeDay())!.day, '2024-05-10', 'backfill does not switch');

  out = '';
  runShowCommand({ stateDir: join(dir, 'var'), day: '2024-05-11', json: false }, (s) => (out += s));
  assert.match(out, /^hitlist 2024-05-11 \(window 2024-05-10\.\.2024-05-11\), 2 rules, 2 addresses/);
  assert.match(out, /acme-cam\s+product\s+detectable\s+product\s+-\s+1\s+2/);
  out = '';
  runShowCommand({ stateDir: join(dir, 'var'), day: '2024-05-11', json: true }, (s) => (out += s));
  const shown = JSON.parse(out);
  assert.equal(shown.classes.find((c: { class: string }) => c.class === 'acme-cam').addresses, 2);
  assert.match(shown.domains.find((d: { domain: string }) => d.domain === 'cdn.acme.com').reason, /^unresolved/);

  out = '';
  const churn = runDiffCommand({ stateDir: join(dir, 'var'), from: '2024-05-10', to: '2024-05-11', json: false }, (s) => (out += s));
  assert.deepEqual(churn.domains.removed, ['cdn.acme.com']);
  assert.match(out, /domains removed: cdn\.acme\.com/);
  assert.match(out, /cam\.acme\.com {2}\+1 {2}−0 {2}1/);

  await assert.rejects(runBuildCommand(options(dir, { pdns: [join(dir, 'nope.jsonl')] }), () => {}), HitlistCommandError);
  await assert.rejects(runBuildCommand(options(dir, { day: '2024-02-30', pdns: [day1] }), () => {}), /no such date/);
  writeFile(join(dir, 'rules', 'bad.yaml'), 'products:\n  - { id: x }\n');
  await assert.rejects(runBuildCommand(options(dir, { pdns: [day1] }), () => {}), (e: unknown) => e instanceof RulesError && /bad\.yaml:2:/.test(e.message));
  assert.throws(() => runShowCommand({ stateDir: join(dir, 'var'), day: '2024-01-01', json: false }, () => {}), /no hitlist\.json in/);
});

test('the haystack binary: hitlist build (embedded, with ClickHouse history), show, diff, and rule errors', (t) => {
  const main = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');
  assert.ok(existsSync(main), `${main} missing: build packages/cli first (npx tsc -b packages/cli)`);
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(join(dir, 'rules', 'r.yaml'), RULES);
  const pdns = writeFile(join(dir, 'p.jsonl'), cof('cam.acme.com', 'A', '198.51.100.1', '2024-05-10'));
  const env = { ...process.env, HAYSTACK_STATE_DIR: join(dir, 'var'), HAYSTACK_LOG_LEVEL: 'warn' };
  const run = (...args: string[]) => spawnSync(process.execPath, [main, '--log-level', 'warn', ...args], { cwd: dir, env, encoding: 'utf8', timeout: 300_000 });

  const b = run('hitlist', 'build', '--day', '2024-05-10', '--pdns', pdns, '--out', join(dir, 'out'));
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /history: ClickHouse embedded: 2 entry rows/);
  assert.ok(existsSync(join(dir, 'var', 'chdb')));
  assert.ok(existsSync(join(dir, 'out', 'hitlist.csv')));
  const b2 = run('hitlist', 'build', '--day', '2024-05-11', '--pdns', pdns, '--no-history', '--json');
  assert.equal(b2.status, 0, b2.stderr);
  // The only record is from the 10th: the 11th's hitlist (addresses seen that day) drops it.
  assert.equal(JSON.parse(b2.stdout).churn.entries.removed, 1);

  const s = run('hitlist', 'show', '--day', '2024-05-10');
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /acme-cam\s+product\s+detectable/);
  const d = run('hitlist', 'diff', '2024-05-10', '2024-05-11', '--json');
  assert.equal(d.status, 0, d.stderr);
  assert.equal(JSON.parse(d.stdout).to, '2024-05-11');

  writeFile(join(dir, 'rules', 'r.yaml'), RULES.replace('role: primary, ports: [tcp/443], used_by: [acme-cam]', 'role: primary, ports: [tcp/443], used_by: [acme-camera]'));
  const bad = run('hitlist', 'build', '--day', '2024-05-10', '--pdns', pdns);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /rules\/r\.yaml:11:\d+: unknown class "acme-camera"/);
  const missing = run('hitlist', 'show', '--day', '2023-01-01');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no hitlist\.json in/);
});
