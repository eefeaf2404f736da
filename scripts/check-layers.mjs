#!/usr/bin/env node
// The house's floors: libraries (packages/*) import only libraries; a service (services/*)
// imports libraries, never another service; only apps (apps/*, load-test/) assemble services.
// Read from each workspace's runtime dependencies, which sync-workspaces.mjs derives from the
// imports of its non-test sources (tests may use services as devDependencies).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const floorOf = (ws) => (ws.startsWith('packages/') ? 'library' : ws.startsWith('services/') ? 'service' : 'app');
const byName = new Map();
for (const ws of pkg.workspaces) {
  const p = JSON.parse(readFileSync(join(root, ws, 'package.json'), 'utf8'));
  byName.set(p.name, { ws, floor: floorOf(ws), deps: Object.keys(p.dependencies ?? {}) });
}
const problems = [];
for (const [name, w] of byName) {
  for (const dep of w.deps) {
    const d = byName.get(dep);
    if (!d) continue;
    if (w.floor === 'library' && d.floor !== 'library') problems.push(`${w.ws} (library) depends on ${d.ws} (${d.floor})`);
    if (w.floor === 'service' && d.floor !== 'library')
      problems.push(`${w.ws} (service) depends on ${d.ws} (${d.floor}): pass it in from the composition root (apps/pipeline)`);
  }
  void name;
}
if (problems.length) {
  console.error(`check-layers: ${problems.length} arrow(s) against the floors:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-layers: ${byName.size} workspaces, no library imports a service, no service imports another`);
