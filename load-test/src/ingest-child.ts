// What `haystack ingest` runs (packages/cli/src/commands/ingest.ts, without Kafka: createIngest
// publishing to a counting sink, ingest metrics served over HTTP), as a standalone script, so the
// collector bench does not depend on the rest of the CLI (other commands' modules load with it,
// and the checkout is shared with engineers changing them). Same config sources (file via
// $HAYSTACK_CONFIG, HAYSTACK_* environment), same log lines.
//
//   node load-test/dist/ingest-child.js [--netflow-port P] [--ipfix-port P] [--bind A]
import { createLogger, createRegistry, loadConfig, serveMetrics } from '@haystack/common';
import { createIngest, registerIngestMetrics } from '@haystack/ingest';
import { CountingSink } from './sinks.js';
import { arg } from './stats.js';

const port = (name: string) => (arg(name) !== undefined ? Number(arg(name)) : undefined);
const netflowPort = port('--netflow-port');
const ipfixPort = port('--ipfix-port');
const bind = arg('--bind');
const config = loadConfig({
  file: process.env.HAYSTACK_CONFIG,
  overrides: { ingest: { ...(netflowPort !== undefined && { netflowPort }), ...(ipfixPort !== undefined && { ipfixPort }), ...(bind && { bind }) } },
});
const log = createLogger({ level: config.log.level });
// The CLI's sinkFor(): a CountingSink with 4 partitions when no Kafka brokers are configured.
if (config.kafka.brokers.length) throw new Error('ingest-child counts records in-process; unset kafka.brokers');
const sink = new CountingSink(4);
const ing = await createIngest(config, log, sink);
const reg = createRegistry();
registerIngestMetrics(reg, { decoder: ing.decoder, publisher: ing.publisher, sockets: () => ing.collector.boundPorts, refused: () => ing.collector.refused });
const metrics = config.metrics.listen ? await serveMetrics(reg, config.metrics.listen, log) : null;
await ing.collector.start();
await new Promise<void>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
log.info('stopping collector');
await ing.collector.stop();
await sink.close();
await metrics?.close();
