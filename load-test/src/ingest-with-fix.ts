// EXPERIMENT: `haystack ingest` with the Publisher.add change of experiments/fast-publisher.ts
// applied. Same arguments and environment as packages/cli/dist/main.js; the CLI's modules are
// the very ones this process patched (one module instance per file), so the only difference
// from the real service is that one method.
//
//   node load-test/dist/ingest-with-fix.js ingest --netflow-port 0 --ipfix-port 0 --bind 127.0.0.1
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { applyPublisherFix } from './experiments/fast-publisher.js';
import { LOAD_TEST_DIR } from './corpus.js';

applyPublisherFix();
await import(pathToFileURL(join(LOAD_TEST_DIR, '..', 'packages', 'cli', 'dist', 'main.js')).href);
