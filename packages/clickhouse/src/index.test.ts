import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClickHouseBusyError, ClickHouseQueryError, openClickHouse, statusLockHolder } from './index.js';

// One chdb data directory per process: every test in this file shares one.
const dir = mkdtempSync(join(tmpdir(), 'haystack-ch-test-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('embedded ClickHouse (chdb) through @clickhouse/client: DDL, typed inserts, parameterised queries, typed errors', async () => {
  const ch = await openClickHouse({ dataDir: join(dir, 'chdb'), database: 'hs_test' });
  try {
    assert.equal(ch.mode, 'embedded');
    await ch.ensureDatabase();
    await ch.command(
      `CREATE TABLE IF NOT EXISTS hs_test.t (day Date, address IPv6, port UInt16, tags Array(String), kind LowCardinality(String), at DateTime64(3, 'UTC'))
       ENGINE = MergeTree PARTITION BY toYYYYMMDD(day) ORDER BY (day, address)`,
    );
    function* rows() {
      for (let i = 0; i < 2500; i++)
        yield {
          day: '2024-05-10',
          address: `::ffff:10.0.${i >> 8}.${i & 255}`,
          port: 443,
          tags: ['a', String(i)],
          kind: i % 2 ? 'odd' : 'even',
          at: '2024-05-10 01:02:03.004',
        };
    }
    assert.equal(await ch.insert('t', rows(), { batchRows: 1000 }), 2500);
    await ch.insert('t', [{ day: '2024-05-11', address: '2001:db8::1', port: 8883, tags: [], kind: 'v6', at: '2024-05-11 00:00:00.000' }]);
    const got = await ch.query<{ n: string; a: string }>(
      `SELECT count() AS n, any(IPv6NumToString(address)) AS a FROM hs_test.t WHERE day = {day:Date} AND kind = {k:String}`,
      { day: '2024-05-11', k: 'v6' },
    );
    assert.deepEqual(got, [{ n: '1', a: '2001:db8::1' }]);
    const v4 = await ch.query<{ a: string }>(`SELECT IPv6NumToString(address) AS a FROM hs_test.t WHERE port = 443 ORDER BY address LIMIT 1`);
    assert.equal(v4[0]!.a, '::ffff:10.0.0.0');
    // Dropping a day's partition replaces a day cheaply.
    await ch.command(`ALTER TABLE hs_test.t DROP PARTITION {p:UInt32}`, { p: 20240510 });
    assert.deepEqual(await ch.query(`SELECT count() AS n FROM hs_test.t`), [{ n: '1' }]);
    await assert.rejects(
      ch.query('SELECT * FROM hs_test.nope'),
      (e: unknown) => e instanceof ClickHouseQueryError && e.code === '60' && e.type === 'UNKNOWN_TABLE',
    );
    await assert.rejects(ch.insert('bad name', []), /invalid table name/);
  } finally {
    await ch.close();
  }
  // Reopened, the data is still there (persistent data directory).
  const again = await openClickHouse({ dataDir: join(dir, 'chdb'), database: 'hs_test' });
  try {
    assert.deepEqual(await again.query(`SELECT count() AS n FROM hs_test.t`), [{ n: '1' }]);
  } finally {
    await again.close();
  }
});

test('a second process on the same data directory gets a clear busy error', async () => {
  const ch = await openClickHouse({ dataDir: join(dir, 'chdb'), database: 'hs_test' });
  try {
    await ch.query('SELECT 1');
    const mod = fileURLToPath(new URL('./index.js', import.meta.url));
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(mod)});
         try { const c = await m.openClickHouse({ dataDir: ${JSON.stringify(join(dir, 'chdb'))}, database: 'hs_test' }); await c.query('SELECT 1'); console.log('OPENED'); await c.close(); }
         catch (e) { console.log(e.name + ': ' + e.message); }`,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    // The holder is named (read from the kernel's lock table), and chdb is never asked, so prints nothing of its own.
    assert.match(
      child.stdout,
      new RegExp(`ClickHouseBusyError: embedded ClickHouse data directory .* is in use by another process \\(pid ${process.pid}\\)`),
      child.stdout + child.stderr,
    );
    assert.doesNotMatch(child.stderr, /DB::Exception/);
    assert.equal(statusLockHolder(join(dir, 'chdb')), null, 'this process holds it: no other holder');
  } finally {
    await ch.close();
  }
  // In this process, a second directory is refused while the first is open.
  const a = await openClickHouse({ dataDir: join(dir, 'chdb'), database: 'hs_test' });
  try {
    await assert.rejects(openClickHouse({ dataDir: join(dir, 'other'), database: 'hs_test' }), ClickHouseBusyError);
  } finally {
    await a.close();
  }
});

test('invalid database names are refused before anything opens', async () => {
  await assert.rejects(openClickHouse({ dataDir: join(dir, 'chdb'), database: 'x; DROP' }), /invalid ClickHouse database name/);
  await assert.rejects(openClickHouse({ database: 'ok' }), /needs a data directory/);
});
