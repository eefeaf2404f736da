#!/usr/bin/env node
// The console API's OpenAPI response schemas, generated from its TypeScript response types
// (services/console/src/api-types.ts) so the document cannot drift from what the code returns.
// Usage: node scripts/gen-api-schemas.mjs [--check]   (--check: exit 1 when the file is stale)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGenerator } from 'ts-json-schema-generator';

const root = new URL('..', import.meta.url).pathname;
const source = join(root, 'services/console/src/api-types.ts');
const out = join(root, 'services/console/src/api-schemas.json');
const schema = createGenerator({
  path: source,
  tsconfig: join(root, 'services/console/tsconfig.json'),
  type: '*',
  expose: 'export',
  topRef: true,
  jsDoc: 'extended',
  additionalProperties: false,
  skipTypeCheck: true,
  sortProps: true,
}).createSchema('*');

// One named schema per definition, referenced as "Name#" (Fastify's shared schemas; OpenAPI components).
const idOf = (ref) => decodeURIComponent(ref.replace('#/definitions/', '')).replace(/[^A-Za-z0-9_.-]/g, '_');
const rewrite = (node) => {
  if (Array.isArray(node)) return node.map(rewrite);
  if (node && typeof node === 'object') {
    const o = {};
    for (const [k, v] of Object.entries(node)) o[k] = k === '$ref' && typeof v === 'string' ? `${idOf(v)}#` : rewrite(v);
    return o;
  }
  return node;
};
const defs = {};
for (const [name, def] of Object.entries(schema.definitions ?? {}).sort(([a], [b]) => a.localeCompare(b))) defs[idOf(`#/definitions/${name}`)] = rewrite(def);
const text = `${JSON.stringify(defs, null, 2)}\n`;

if (process.argv.includes('--check')) {
  let old = '';
  try {
    old = readFileSync(out, 'utf8');
  } catch {
    // missing: stale
  }
  if (old !== text) {
    console.error(`gen-api-schemas: ${out} is not what api-types.ts describes: run node scripts/gen-api-schemas.mjs`);
    process.exit(1);
  }
  console.log(`gen-api-schemas: ${Object.keys(defs).length} schemas, current`);
} else {
  writeFileSync(out, text);
  console.log(`gen-api-schemas: wrote ${Object.keys(defs).length} schemas to ${out}`);
}
