import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigError, PrefixSet, type HaystackConfig, type Logger } from '@haystack/common';
import { SamplingConfig } from '@haystack/decoders';
import type { FlowSink } from '@haystack/transport';
import { Collector } from './collector.js';
import { FlowDecoder } from '@haystack/decoders';
import { Publisher } from './publisher.js';
import { FileTemplateStore, RedisTemplateStore, type TemplateStore } from './template-store.js';
import { HealthReporter } from './health.js';
import { batchReceiveAvailable } from '@haystack/udp-receive';

export interface Ingest {
  decoder: FlowDecoder;
  publisher: Publisher;
  collector: Collector;
  templateStore: TemplateStore | null;
}

export function samplingFromConfig(cfg: HaystackConfig): SamplingConfig {
  return new SamplingConfig(cfg.ingest.sampling.exporters, cfg.ingest.sampling.defaultRate);
}

/** Build the ingest pipeline from configuration, publishing to `sink`. */
export async function createIngest(
  cfg: HaystackConfig,
  log: Logger,
  sink: FlowSink,
  opts: {
    ports?: number[];
    /** Fed by replay(), not sockets: batches wait for the sink instead of being dropped when it lags. */
    replay?: boolean;
    persistTemplates?: boolean;
    health?: boolean;
    collectorId?: string;
    /** A worker of several: its own template store (shared through the process) and shared ports. */
    worker?: { templateStore: TemplateStore | null; reusePort: boolean };
  } = {},
): Promise<Ingest> {
  const decoder = new FlowDecoder({
    sampling: samplingFromConfig(cfg),
    onError: (err, exporter, packet) =>
      log.error({ err, exporter, packetHex: Buffer.from(packet).toString('hex').slice(0, 4096) }, 'decoder fault (a bug): packet dropped'),
  });
  const publisher = new Publisher({
    sink,
    // IXP: no subscriber lines; a host (either end) is keyed by the client end of its flows.
    subscriberPrefixes: new PrefixSet(cfg.deployment === 'ixp' ? [] : cfg.ingest.subscriberPrefixes),
    ipv6LinePrefixLength: cfg.deployment === 'ixp' ? cfg.ixp.hostPrefixLength6 : cfg.ingest.ipv6LinePrefixLength,
    maxRecords: cfg.ingest.batch.maxRecords,
    clientKey: cfg.deployment === 'ixp',
    backpressure: opts.replay ? 'wait' : 'drop',
    log,
  });
  let templateStore: TemplateStore | null = null;
  const persist = opts.persistTemplates ?? true;
  if (opts.worker) {
    templateStore = opts.worker.templateStore;
  } else if (persist && cfg.ingest.templates.persist === 'file') {
    templateStore = new FileTemplateStore(cfg.ingest.templates.path ?? join(cfg.stateDir, 'templates.json'));
  } else if (persist && cfg.ingest.templates.persist === 'redis') {
    if (!cfg.redis.url) throw new Error('ingest.templates.persist is "redis" but redis.url is not set');
    const { Redis } = await import('ioredis');
    const redis = new Redis(cfg.redis.url, { lazyConnect: false, maxRetriesPerRequest: 3 });
    templateStore = new RedisTemplateStore(redis, `${cfg.redis.keyPrefix}ingest:templates`, cfg.ingest.name ?? hostname(), () => redis.duplicate());
  }
  const collector = new Collector({
    decoder,
    publisher,
    log,
    bind: cfg.ingest.bind,
    ports: opts.ports ?? [cfg.ingest.netflowPort, cfg.ingest.ipfixPort, ...(cfg.ingest.sflowPort === null ? [] : [cfg.ingest.sflowPort])],
    receiveBufferBytes: cfg.ingest.receiveBufferBytes,
    reusePort: opts.worker?.reusePort ?? false,
    receive: cfg.ingest.receive,
    allowExporters: cfg.ingest.allowExporters,
    maxDelayMs: cfg.ingest.batch.maxDelayMs,
    templateStore,
    templateFlushMs: cfg.ingest.templates.flushIntervalMs,
    health: opts.health === false ? null : new HealthReporter(decoder, sink, opts.collectorId),
    healthIntervalMs: cfg.ingest.healthIntervalMs,
  });
  return { decoder, publisher, collector, templateStore };
}

/** `ingest.receive: batch` where the recvmmsg addon is not built: refused in one line, before any worker starts. */
export function checkReceive(cfg: HaystackConfig): void {
  const batch = batchReceiveAvailable();
  if (cfg.ingest.receive === 'batch' && !batch.available) throw new ConfigError(`ingest.receive is "batch" but ${batch.why}; set it to auto or dgram`);
}
