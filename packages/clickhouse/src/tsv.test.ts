import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openClickHouse } from './index.js';
import { toTabSeparated, tsvValue, TsvValueError } from './tsv.js';

test('TabSeparated values: escapes, numbers, NULL, arrays; unsupported values are refused', () => {
  assert.equal(tsvValue('plain'), 'plain');
  assert.equal(tsvValue('a\tb\nc\\d\re\0f'), 'a\\tb\\nc\\\\d\\re\\0f');
  assert.equal(tsvValue(1.5), '1.5');
  assert.equal(tsvValue(NaN), 'nan');
  assert.equal(tsvValue(-Infinity), '-inf');
  assert.equal(tsvValue(12345678901234567890n), '12345678901234567890');
  assert.equal(tsvValue(true), '1');
  assert.equal(tsvValue(null), '\\N');
  assert.equal(tsvValue(undefined), '\\N');
  assert.equal(tsvValue(["it's", 'x\ty', 3]), "['it\\'s','x\\ty',3]");
  assert.throws(() => tsvValue({ a: 1 }), TsvValueError);
  assert.throws(() => tsvValue(new Date(0)), TsvValueError);
  const { columns, body } = toTabSeparated([
    { a: 1, b: 'x' },
    { b: 'y', c: true },
  ]);
  assert.deepEqual(columns, ['a', 'b', 'c']);
  assert.equal(body.toString(), '1\tx\t\\N\n\\N\ty\t1\n');
  assert.equal(toTabSeparated([]).body.length, 0);
});

test('TabSeparated body: byte for byte the values joined, past the first buffer and across number forms', () => {
  const numbers = [0, 7, 9, 10, 99, 100, 4294967295, 4294967296, 2 ** 53, -1, -0, 1.5, 1e-7, 1e21, NaN, Infinity];
  const rows = Array.from({ length: 5000 }, (_, i) => ({
    id: i,
    n: numbers[i % numbers.length],
    s: i % 7 === 0 ? `long ✓ ${'x\t'.repeat(i)}` : `v${i}`,
    a: i % 3 ? [i, "a'b"] : null,
  }));
  const { columns, body } = toTabSeparated(rows);
  assert.deepEqual(columns, ['id', 'n', 's', 'a']);
  const expected = rows.map((r) => columns.map((c) => tsvValue(r[c as keyof typeof r])).join('\t')).join('\n') + '\n';
  assert.ok(body.length > 1 << 20, 'the body outgrew its first buffer');
  assert.equal(body.toString(), expected);
  assert.equal(toTabSeparated([{}, {}]).body.toString(), '\n\n', 'rows without columns are empty lines');
});

test('embedded inserts through a TabSeparated file read back exactly what JSON inserts would; odd values fall back to JSON; no files left behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'haystack-ch-tsv-'));
  // What a killed process left behind is cleared when the data directory is opened again.
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // a process that has exited
  mkdirSync(join(dir, 'chdb', '.inserts', `${dead}-1`), { recursive: true });
  writeFileSync(join(dir, 'chdb', '.inserts', `${dead}-1`, '7.tsv'), 'left by a killed process');
  const ch = await openClickHouse({ dataDir: join(dir, 'chdb'), database: 'hs_tsv' });
  assert.deepEqual(readdirSync(join(dir, 'chdb', '.inserts')), [`${process.pid}-${readdirSync(join(dir, 'chdb', '.inserts'))[0]!.split('-')[1]}`]);
  try {
    await ch.ensureDatabase();
    await ch.command(
      `CREATE TABLE hs_tsv.t (id UInt64, s String, lc LowCardinality(String), tags Array(String), rates Array(UInt32), f Float64, n Nullable(UInt32), d UInt32 DEFAULT 7, at DateTime64(3, 'UTC'), day Date, ok Bool, m Map(String, UInt32))
       ENGINE = MergeTree ORDER BY id`,
    );
    const nasty = ['tab\there', 'new\nline', 'back\\slash', "quote'd", 'crlf\r\n', 'ünïcødé ✓', '', '\\N'];
    const rows = nasty.map((s, i) => ({
      id: i,
      s,
      lc: s,
      tags: [s, "it's", ''],
      rates: [i, 100],
      f: i / 3,
      n: i % 2 ? null : i,
      at: '2026-11-20 10:01:02.123',
      day: '2026-11-20',
      ok: i % 2 === 0,
    }));
    assert.equal(await ch.insert('t', rows), rows.length);
    // A value TabSeparated cannot carry here (an object, for the Map): that batch goes as JSON.
    assert.equal(
      await ch.insert('t', [
        { id: 100, s: 'json', lc: 'json', tags: [], rates: [], f: 0, n: null, at: '2026-11-20 00:00:00.000', day: '2026-11-20', ok: true, d: 9, m: { a: 1 } },
      ]),
      1,
    );
    const got = await ch.query<{
      id: string;
      s: string;
      lc: string;
      tags: string[];
      rates: number[];
      f: number;
      n: number | null;
      d: number;
      at: string;
      ok: boolean;
    }>(`SELECT id, s, lc, tags, rates, f, n, d, toString(at) AS at, ok FROM hs_tsv.t ORDER BY id`);
    assert.equal(got.length, rows.length + 1);
    for (const [i, r] of rows.entries()) {
      const g = got[i]!;
      assert.equal(g.s, r.s, `string ${JSON.stringify(r.s)}`);
      assert.equal(g.lc, r.s);
      assert.deepEqual(g.tags, r.tags);
      assert.deepEqual(g.rates, r.rates);
      assert.ok(Math.abs(g.f - r.f) < 1e-12);
      assert.equal(g.n, r.n);
      assert.equal(g.d, 7, 'a column not given takes its default');
      assert.equal(g.at, '2026-11-20 10:01:02.123');
      assert.equal(g.ok, r.ok);
    }
    assert.equal(got[rows.length]!.d, 9);
    assert.deepEqual(await ch.query(`SELECT m['a'] AS a FROM hs_tsv.t WHERE id = 100`), [{ a: 1 }]);
    await assert.rejects(ch.insert('t', [{ id: 1, no_such_column: 1 }]), /no_such_column/);
    await assert.rejects(ch.insert('t', [{ 'bad column': 1 }]), /invalid column name/);
    // A large insert, then a small one into the same reused memory: nothing of the first is left in the second.
    await ch.command(`CREATE TABLE hs_tsv.u (id UInt32, s String) ENGINE = MergeTree ORDER BY id`);
    await ch.insert(
      'u',
      Array.from({ length: 20_000 }, (_, i) => ({ id: i, s: `first ${'y'.repeat(i % 300)}` })),
    );
    await ch.insert('u', [{ id: 1_000_000, s: 'second' }]);
    assert.deepEqual(await ch.query(`SELECT count() AS n, countIf(s = 'second') AS second FROM hs_tsv.u`), [{ n: '20001', second: '1' }]);
    await ch.close();
    assert.deepEqual(readdirSync(join(dir, 'chdb', '.inserts')), [], 'the insert directory is removed at close');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
