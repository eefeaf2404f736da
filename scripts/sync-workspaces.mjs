#!/usr/bin/env node
// Keeps each workspace's @haystack/* dependencies and tsconfig project references equal to
// what its sources import: imports from tests (*.test.ts, test-*.ts) and the fuzzer become
// devDependencies. Run after moving code between workspaces; `--check` only reports (CI).
import { readFileSync, writeFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const check = process.argv.includes('--check');
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const byName = new Map();
for (const ws of rootPkg.workspaces) byName.set(JSON.parse(readFileSync(join(root, ws, 'package.json'), 'utf8')).name, ws);

// Tests, test helpers and the fuzzer (a developer tool) may only use devDependencies.
const isTestFile = (f) => /\.test\.ts$|(^|\/)test-[^/]*\.ts$|\/test\/|\/fuzz\/|-fixture\.ts$/.test(f);
function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (n.endsWith('.ts') && !n.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

let drift = 0;
for (const ws of rootPkg.workspaces) {
  const pkgPath = join(root, ws, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
  const prod = new Set();
  const dev = new Set();
  for (const f of walk(join(root, ws, 'src'))) {
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/(?:from|import\()\s*'(@haystack\/[\w-]+)/g)) {
      if (m[1] === pkg.name || !byName.has(m[1])) continue;
      (isTestFile(relative(join(root, ws), f)) ? dev : prod).add(m[1]);
    }
  }
  for (const d of prod) dev.delete(d);
  const want = (set) => Object.fromEntries([...set].sort().map((n) => [n, '0.1.0']));
  const keepExternal = (deps = {}) =>
    Object.fromEntries(Object.entries(deps).filter(([n]) => !n.startsWith('@haystack/') && n !== 'netflow-v9-parser' && n !== 'ipfix-parser'));
  const deps = { ...want(prod), ...keepExternal(pkg.dependencies) };
  const devDeps = { ...want(dev), ...keepExternal(pkg.devDependencies) };
  const refs = [...new Set([...prod, ...dev])].sort().map((n) => ({ path: relative(join(root, ws), join(root, byName.get(n))) }));
  const tsPath = join(root, ws, 'tsconfig.json');
  const ts = JSON.parse(readFileSync(tsPath, 'utf8'));
  const next = { ...pkg, dependencies: deps, devDependencies: devDeps };
  if (!Object.keys(devDeps).length) delete next.devDependencies;
  if (!Object.keys(deps).length) delete next.dependencies;
  const nextTs = { ...ts, references: refs };
  const changed = JSON.stringify(next) !== JSON.stringify(pkg) || JSON.stringify(nextTs.references) !== JSON.stringify(ts.references ?? []);
  if (!changed) continue;
  drift++;
  if (check) console.error(`${ws}: @haystack dependencies or tsconfig references differ from its imports (run node scripts/sync-workspaces.mjs)`);
  else {
    writeFileSync(pkgPath, `${JSON.stringify(next, null, 2)}\n`);
    writeFileSync(tsPath, `${JSON.stringify(nextTs, null, 2)}\n`);
    console.log(`updated ${ws}`);
  }
}
if (check && drift) process.exit(1);
