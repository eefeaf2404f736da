/**
 * The operator's own resolver as the only passive DNS: a real unbound sends dnstap to
 * `haystack pdns serve`; the tuples land in embedded ClickHouse; `haystack hitlist build
 * --pdns-store` builds the day's hitlist from them alone. Importing a dnstap file twice stores it once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ACME_RULES as RULES, repoRoot, tempDir, writeFile } from '@haystack/hitlist/test-helpers';
import { DnstapFileWriter } from '@haystack/pdns';
import { startUnbound } from '@haystack/testkit/unbound';

const main = join(repoRoot, 'apps', 'cli', 'dist', 'main.js');

test('a hitlist built only from an unbound resolver’s dnstap holds the dedicated addresses; an import twice is stored once', async (t) => {
  const { dir, cleanup } = tempDir('hs-pdns-cli-');
  t.after(cleanup);
  writeFile(join(dir, 'rules', 'r.yaml'), RULES);
  const env = { ...process.env, HAYSTACK_STATE_DIR: join(dir, 'var'), HAYSTACK_LOG_LEVEL: 'warn', HAYSTACK_METRICS__LISTEN: 'null' };
  const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 300_000 });
  const sock = join(dir, 'dnstap.sock');

  const serve = spawn(process.execPath, [main, 'pdns', 'serve', '--unix', sock], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  serve.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => serve.on('exit', (code) => r(code)));
  for (let i = 0; !existsSync(sock); i++) {
    if (i > 300 || serve.exitCode !== null) throw new Error(`pdns serve did not listen: ${err}`);
    await sleep(50);
  }
  const u = await startUnbound({
    dnstap: { unixSocket: sock },
    zones: ['acme.com.', 'example.org.'],
    localData: [
      'cam.acme.com. 300 IN A 198.51.100.1',
      'cdn.acme.com. 300 IN A 198.51.100.2',
      // A name outside the dictionary on cdn's address: cdn.acme.com is not dedicated.
      'www.example.org. 300 IN A 198.51.100.2',
    ],
  });
  try {
    assert.equal(await u.query('cam.acme.com', 'A'), '198.51.100.1');
    await u.query('cdn.acme.com', 'A');
    await u.query('www.example.org', 'A');
    await sleep(1600); // unbound sends dnstap on a 1 s timer and drops its queue when stopped
  } finally {
    await u.stop();
  }
  serve.kill('SIGTERM');
  assert.equal(await exited, 0, err);

  const day = new Date().toISOString().slice(0, 10);
  const status = run('pdns', 'status', '--json');
  assert.equal(status.status, 0, status.stderr);
  const days = JSON.parse(status.stdout) as { day: string; tuples: number }[];
  assert.ok((days.find((d) => d.day === day)?.tuples ?? 0) >= 3, status.stdout);

  const b = run('hitlist', 'build', '--rules', join(dir, 'rules'), '--day', day, '--pdns-store', '--no-history');
  assert.equal(b.status, 0, b.stderr);
  const hl = JSON.parse(readFileSync(join(dir, 'var', 'hitlist', day, 'hitlist.json'), 'utf8')) as {
    entries: { address: string; port: number; transport: string }[];
  };
  assert.deepEqual(
    hl.entries.map((e) => `${e.address} ${e.transport}/${e.port}`),
    ['198.51.100.1 tcp/443'],
    'cam.acme.com is dedicated; cdn.acme.com shares its address with www.example.org',
  );

  // A dnstap file imported twice: its tuples are replaced, not added.
  const file = join(dir, 'feed.fstrm');
  const w = DnstapFileWriter.create(file);
  for (let i = 0; i < 3; i++)
    await w.response(Date.parse(`${day}T10:00:0${i}Z`), 'cam.acme.com', 'A', [{ name: 'cam.acme.com', type: 'A', data: '198.51.100.9' }]);
  await w.close();
  const first = run('pdns', 'import', file);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /3 frames, 3 responses, 3 answers → 1 tuples/);
  const after1 = JSON.parse(run('pdns', 'status', '--json').stdout) as { day: string; tuples: number }[];
  assert.equal(run('pdns', 'import', file).status, 0);
  const after2 = JSON.parse(run('pdns', 'status', '--json').stdout) as { day: string; tuples: number }[];
  assert.deepEqual(after2, after1);
  assert.equal(after1.find((d) => d.day === day)!.tuples, days.find((d) => d.day === day)!.tuples + 1);

  const bad = run('pdns', 'import', join(dir, 'rules', 'r.yaml'));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^haystack: .*r\.yaml: .*not a dnstap file\n$/);
});

test('the simulator’s DNS world as a resolver feed (simulate --dnstap, pdns import) builds the same hitlist as its COF file', (t) => {
  const { dir, cleanup } = tempDir('hs-pdns-sim-');
  t.after(cleanup);
  const env = (state: string) => ({ ...process.env, HAYSTACK_STATE_DIR: join(dir, state), HAYSTACK_LOG__LEVEL: 'warn', HAYSTACK_METRICS__LISTEN: 'null' });
  const run = (state: string, ...args: string[]) =>
    spawnSync(process.execPath, [main, ...args], { cwd: dir, env: env(state), encoding: 'utf8', timeout: 300_000 });
  const sim = run('a', 'simulate', '--out', join(dir, 'sim'), '--lines', '300', '--hours', '1', '--dnstap');
  assert.equal(sim.status, 0, sim.stderr);
  const day = '2026-11-20'; // the simulator's default first day
  const fromCof = run('a', 'hitlist', 'build', '--day', day, '--pdns', join(dir, 'sim', 'pdns.jsonl'), '--no-history');
  assert.equal(fromCof.status, 0, fromCof.stderr);
  const imported = run('b', 'pdns', 'import', join(dir, 'sim', 'pdns.dnstap'));
  assert.equal(imported.status, 0, imported.stderr);
  const fromDnstap = run('b', 'hitlist', 'build', '--day', day, '--pdns-store', '--no-history');
  assert.equal(fromDnstap.status, 0, fromDnstap.stderr);
  const entries = (state: string) =>
    (
      JSON.parse(readFileSync(join(dir, state, 'hitlist', day, 'hitlist.json'), 'utf8')) as { entries: { address: string; port: number; transport: string }[] }
    ).entries
      .map((e) => `${e.address} ${e.transport}/${e.port}`)
      .sort();
  const a = entries('a');
  assert.ok(a.length > 50, `${a.length} entries`);
  assert.deepEqual(entries('b'), a);
});
