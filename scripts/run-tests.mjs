#!/usr/bin/env node
// Runs every compiled test (dist/**/*.test.js) of every workspace with node's test runner.
// Usage: node scripts/run-tests.mjs [substring filter...]
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(root, 'package.json'), 'utf8')));
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = [];
for (const ws of pkg.workspaces) {
  const dist = join(root, ws, 'dist');
  if (existsSync(dist)) walk(dist, files);
}
const selected = files
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (selected.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// The Node that npm ci installed beside the project (Node 24), also when this script was started
// by an older one.
const local = join(root, 'node_modules', '.bin', 'node');
const nodeBin = existsSync(local) ? local : process.execPath;
const res = spawnSync(nodeBin, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...selected], { cwd: root, stdio: 'inherit' });
process.exit(res.status ?? 1);
