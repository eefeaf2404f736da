import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TABLES, VIEWS } from './index.js';

/**
 * One home for the store: no table or view name is written outside packages/store. Code says
 * `${db}.${TABLES.evidence}`, so renaming a table is a change in tables.ts alone.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const names = [...Object.values(TABLES), ...Object.values(VIEWS)];

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (/\.(ts|mts|mjs|js)$/.test(name)) out.push(p);
  }
  return out;
}

test('no table or view name is written outside packages/store', () => {
  const dirs = ['packages', 'services', 'apps', 'load-test', 'scripts'].map((d) => join(root, d));
  const files = dirs.flatMap((d) => sources(d)).filter((f) => !relative(root, f).startsWith(join('packages', 'store') + '/'));
  assert.ok(files.length > 100, `found only ${files.length} source files under ${root}`);
  const word = new RegExp(`\\b(${names.join('|')})\\b`);
  const found: string[] = [];
  for (const f of files) {
    const lines = readFileSync(f, 'utf8').split('\n');
    lines.forEach((l, i) => {
      const m = word.exec(l);
      if (m) found.push(`${relative(root, f)}:${i + 1}: ${m[1]}`);
    });
  }
  assert.deepEqual(found, [], 'use TABLES / VIEWS from @haystack/store instead of these literals');
});

test('every table and view has its own name', () => {
  assert.equal(new Set(names).size, names.length);
});

test('the dashboards read only tables and views the store defines', () => {
  // JSON cannot import TABLES: every `haystack.<table>` a dashboard queries must be one of them.
  const dir = join(root, 'deploy', 'grafana', 'dashboards');
  const known = new Set<string>(names);
  const unknown: string[] = [];
  let seen = 0;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/\bhaystack\.([a-z_]+)\b/g)) {
      seen++;
      if (!known.has(m[1]!)) unknown.push(`${f}: ${m[1]}`);
    }
  }
  assert.ok(seen > 5, `${seen} table references found in the dashboards`);
  assert.deepEqual(unknown, []);
});
