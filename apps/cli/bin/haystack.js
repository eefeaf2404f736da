#!/usr/bin/env node
// The `haystack` command. This file is committed (dist/ is not) so that npm links the command at
// install time, before the `prepare` script has built dist/.
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Haystack runs on Node.js 24 LTS. `npm ci` installs it beside the project (the `node` package, a
// dev dependency), so npm scripts and `npx haystack` use it even where the machine's own Node is
// older; a direct `node apps/cli/bin/haystack.js` on an older Node is sent to that one too.
const NODE_MAJOR = 24;
function nodeToRun() {
  if (Number(process.versions.node.split('.')[0]) >= NODE_MAJOR) return process.execPath;
  try {
    const bundled = join(dirname(createRequire(import.meta.url).resolve('node/package.json')), 'bin', 'node');
    if (existsSync(bundled)) return bundled;
  } catch {
    /* not installed: said below */
  }
  process.stderr.write(
    `haystack: needs Node.js ${NODE_MAJOR} or later, this is ${process.version}: run \`npm ci\` in the Haystack checkout (it installs Node ${NODE_MAJOR} beside the project) or install Node ${NODE_MAJOR}\n`,
  );
  process.exit(1);
}
const nodeBin = nodeToRun();

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('haystack: not built yet: run `npm run build` in the Haystack checkout\n');
  process.exit(1);
}

// Commands that move flows allocate a fresh batch buffer (hundreds of KiB) per batch. glibc
// serves allocations that size with mmap by default, so every batch pays page faults for fresh
// memory: measured 3-4x slower on the collector path (load-test/RESULTS.md, "malloc"). These
// tunables keep such buffers on the heap. glibc reads them at process start, hence the re-exec;
// an operator who sets them (or runs the Docker image, which does) is left alone.
const FLOW_COMMANDS = new Set(['ingest', 'run', 'replay', 'detect', 'demo', 'pdns']);
// The command: the first argument that is neither an option nor the value of -c/--config/--log-level.
const args = process.argv.slice(2);
let command;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '-c' || a === '--config' || a === '--log-level') i++;
  else if (!a.startsWith('-')) {
    command = a;
    break;
  }
}
const tuneMalloc = process.platform === 'linux' && FLOW_COMMANDS.has(command ?? '') && process.env.MALLOC_MMAP_THRESHOLD_ === undefined;
if (tuneMalloc || nodeBin !== process.execPath) {
  const env = tuneMalloc ? { ...process.env, MALLOC_MMAP_THRESHOLD_: '33554432', MALLOC_TRIM_THRESHOLD_: '268435456' } : process.env;
  const child = spawn(nodeBin, [...process.execArgv, fileURLToPath(main), ...args], { env, stdio: 'inherit' });
  child.on('error', (e) => {
    process.stderr.write(`haystack: could not start: ${e.message}\n`);
    process.exit(1);
  });
  // Signals sent to this pid (kill, supervisors) are passed on, SIGINT too. Ctrl-C reaches the
  // whole process group, so the child may get SIGINT twice at once: every command treats a
  // repeat within 5 s as the same request.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1)));
} else {
  await import(main.href);
}
