// What `haystack ingest` runs (apps/cli/src/commands/ingest.ts: the same assembled pipeline; without
// Kafka it publishes to a counting sink, ingest metrics served over HTTP), as a standalone script, so the
// collector bench does not depend on the rest of the CLI (other commands' modules load with it,
// and the checkout is shared with engineers changing them). Same config sources (file via
// $HAYSTACK_CONFIG, HAYSTACK_* environment), same log lines.
//
//   node load-test/dist/ingest-child.js [--netflow-port P] [--ipfix-port P] [--bind A]
import { createLogger, loadConfig } from '@haystack/common';
import { assemblePipeline } from '@haystack/pipeline';
import { arg } from './stats.js';

const port = (name: string) => (arg(name) !== undefined ? Number(arg(name)) : undefined);
const netflowPort = port('--netflow-port');
const ipfixPort = port('--ipfix-port');
const sflowPort = port('--sflow-port');
const bind = arg('--bind');
const config = loadConfig({
  file: process.env.HAYSTACK_CONFIG,
  overrides: {
    ingest: {
      ...(netflowPort !== undefined && { netflowPort }),
      ...(ipfixPort !== undefined && { ipfixPort }),
      ...(sflowPort !== undefined && { sflowPort }),
      ...(bind && { bind }),
    },
  },
});
const log = createLogger({ level: config.log.level });
const p = assemblePipeline({ config, log, ingest: 'listen' });
await p.start();
await new Promise<void>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
log.info('stopping collector');
await p.stop();
