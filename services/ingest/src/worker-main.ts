/**
 * One ingest worker thread: a whole collector (sockets shared with the other workers through
 * SO_REUSEPORT, decoder, publisher, health) whose batches go to Kafka through its own producer, or
 * to the main thread's sink (the in-process bus, a counting sink), and whose
 * templates are shared with the other workers. Started by IngestWorkers (workers.ts).
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { createLogger, type HaystackConfig } from '@haystack/common';
import { createIngest, type Ingest } from './service.js';
import { KafkaFlowSink, type FlowSink } from '@haystack/transport';
import { ThreadSink } from './thread-sink.js';
import { RedisTemplateStore, type TemplateStore } from './template-store.js';
import { HubRedisClient } from './worker-templates.js';
import { readIngestStats } from './ingest-stats.js';

export interface WorkerInit {
  index: number;
  config: HaystackConfig;
  ports: number[];
  partitions: number;
  /** This worker's name among collectors (claims, checkpoint key). */
  name: string;
  collectorId: string;
  health: boolean;
  log: { level: HaystackConfig['log']['level']; format: 'json' | 'pretty' };
  /** Templates shared through the main thread's hub, or through Redis (persist: redis). */
  templates: 'hub' | 'redis';
  sinkPort: MessagePort;
  /**
   * Publish to Kafka from this worker (its own producer: compression and produce calls on this
   * worker's core, not all on the main thread's). Otherwise batches go to the main thread's sink.
   */
  ownKafkaSink: boolean;
  hubPort: MessagePort;
}

/** Control messages between the main thread and a worker. */
export type ToWorker = { t: 'stats'; id: number } | { t: 'stop' } | { t: 'bind'; ports: number[] };
export type FromWorker =
  | { t: 'ready' }
  | { t: 'started'; ports: number[] }
  | { t: 'start-failed'; error: string; code?: string; address?: string; port?: number; syscall?: string }
  | { t: 'stats'; id: number; stats: ReturnType<typeof readIngestStats> }
  | { t: 'stopped'; stats: ReturnType<typeof readIngestStats> };

const init = workerData as WorkerInit;
const port = parentPort!;
const cfg = init.config;
const log = createLogger({ level: init.log.level, format: init.log.format }).child({ worker: init.index });

async function templateStore(): Promise<TemplateStore> {
  const key = `${cfg.redis.keyPrefix}ingest:templates`;
  if (init.templates === 'redis') {
    const { Redis } = await import('ioredis');
    const redis = new Redis(cfg.redis.url!, { lazyConnect: false, maxRetriesPerRequest: 3 });
    return new RedisTemplateStore(redis, key, init.name, () => redis.duplicate());
  }
  const client = new HubRedisClient(init.hubPort);
  return new RedisTemplateStore(client, key, init.name, () => client.subscriber());
}

let ingest: Ingest | undefined;
let sink: FlowSink | undefined;
const stats = () => readIngestStats(ingest!.decoder, ingest!.publisher, ingest!.collector);

let bindNow: ((ports: number[]) => void) | null = null;
port.on('message', (m: ToWorker) => {
  if (m.t === 'stats') port.postMessage({ t: 'stats', id: m.id, stats: stats() } satisfies FromWorker);
  else if (m.t === 'stop') void stop();
  else if (m.t === 'bind') bindNow?.(m.ports);
});

/** Ready to receive: say so, and bind when the main thread says (the workers in turn). */
function awaitBind(): Promise<number[]> {
  return new Promise<number[]>((resolve) => {
    bindNow = resolve;
    port.postMessage({ t: 'ready' } satisfies FromWorker);
  });
}

async function stop(): Promise<void> {
  try {
    await ingest?.collector.stop();
    await ingest?.templateStore?.close().catch((err: unknown) => log.warn({ err }, 'could not close the template store'));
    // After the collector's last publish round: what it staged is acknowledged by then.
    if (init.ownKafkaSink) await sink?.close().catch((err: unknown) => log.warn({ err }, 'could not close the Kafka producer'));
  } catch (err) {
    log.error({ err }, 'worker did not stop cleanly');
  }
  port.postMessage({ t: 'stopped', stats: stats() } satisfies FromWorker);
  init.sinkPort.close();
  init.hubPort.close();
  port.close();
}

// Not a top-level await: a worker stopped before it binds would end with it unsettled (Node warns).
async function main(): Promise<void> {
  let store: TemplateStore | undefined;
  try {
    store = await templateStore();
    sink = init.ownKafkaSink ? await KafkaFlowSink.connect({ kafka: cfg.kafka, logger: log }) : new ThreadSink(init.sinkPort, init.partitions);
    if (sink.partitions !== init.partitions)
      throw new Error(`the flow topic has ${sink.partitions} partitions for this worker, ${init.partitions} for the process`);
    ingest = await createIngest(cfg, log, sink, {
      ports: init.ports,
      health: init.health,
      collectorId: init.collectorId,
      worker: { templateStore: store, reusePort: true },
    });
    const ports = await ingest.collector.start(awaitBind);
    port.postMessage({ t: 'started', ports } satisfies FromWorker);
  } catch (e) {
    // Release what was opened (a socket already bound, a Redis connection) before saying so.
    await ingest?.collector.stop().catch(() => undefined);
    await store?.close().catch(() => undefined);
    if (init.ownKafkaSink) await sink?.close().catch(() => undefined);
    const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
    port.postMessage({
      t: 'start-failed',
      error: err.message,
      ...(err.code ? { code: err.code } : {}),
      ...(err.address ? { address: err.address } : {}),
      ...(err.port !== undefined ? { port: err.port } : {}),
      ...(err.syscall ? { syscall: err.syscall } : {}),
    } satisfies FromWorker);
    port.close();
    init.sinkPort.close();
    init.hubPort.close();
  }
}

void main();
