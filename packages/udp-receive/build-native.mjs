#!/usr/bin/env node
// Compiles native/udp_batch.c (the collector's recvmmsg receive) into build/udp_batch.node.
// Part of `npm run build`. Node-API is ABI-stable: one build serves every Node version since 12.
// Headers come with the Node that runs this (the registry's `node` package ships them), else
// the system's. No C compiler, or not Linux: one line, and the collector uses node:dgram.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'native', 'udp_batch.c');
const out = join(here, 'build', 'udp_batch.node');
const say = (m) => process.stderr.write(`udp-receive: ${m}; the collector will receive with node:dgram (slower)\n`);

if (process.platform !== 'linux') process.exit(0);
if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs && statSync(out).mtimeMs >= statSync(fileURLToPath(import.meta.url)).mtimeMs)
  process.exit(0);

// The headers of the Node that runs this: beside its binary (a tarball or image install), in the
// registry's node-<platform>-<arch> package (npm ci leaves it under node_modules/node), or the
// system's. uv.h may also be a system header (Debian's nodejs uses the system libuv).
const arch = `node-${process.platform}-${process.arch}`;
const candidates = [
  join(dirname(dirname(realpathSync(process.execPath))), 'include', 'node'),
  join(here, '..', '..', 'node_modules', 'node', 'node_modules', arch, 'include', 'node'),
  join(here, '..', '..', 'node_modules', arch, 'include', 'node'),
  '/usr/local/include/node',
  '/usr/include/node',
];
const include = candidates.find((d) => existsSync(join(d, 'node_api.h')));
if (!include) {
  say(`no Node-API headers (looked in ${candidates.join(', ')})`);
  process.exit(0);
}
const cc = process.env.CC || 'cc';
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
try {
  execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-shared', '-fPIC', '-fvisibility=hidden', '-isystem', include, src, '-o', tmp], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
} catch (err) {
  const why =
    err.code === 'ENOENT'
      ? `no C compiler (${cc}; apt-get install gcc libc6-dev)`
      : `${cc} failed: ${
          String(err.stderr ?? err.message)
            .trim()
            .split('\n')[0]
        }`;
  say(why);
  process.exit(0);
}
renameSync(tmp, out);
