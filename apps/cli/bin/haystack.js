#!/usr/bin/env node
// The `haystack` command. This file is committed (dist/ is not) so that npm links the command at
// install time, before the `prepare` script has built dist/.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('haystack: not built yet: run `npm run build` in the Haystack checkout\n');
  process.exit(1);
}
await import(main.href);
