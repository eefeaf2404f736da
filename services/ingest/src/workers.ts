import { hostname } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import { ConfigError, type HaystackConfig, type Logger } from '@haystack/common';
import { KafkaFlowSink, type FlowSink } from '@haystack/transport';
import { sumIngestStats, type IngestStats } from './ingest-stats.js';
import { relayToSink } from './thread-sink.js';
import { udpPortSockets } from './metrics.js';
import { TemplateHub } from './worker-templates.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-main.js';
import { checkReceive } from './service.js';

export interface IngestWorkersOptions {
  config: HaystackConfig;
  log: Logger;
  sink: FlowSink;
  workers: number;
  health: boolean;
  /** Health snapshots name each worker `<collectorId>-w<i>`. */
  collectorId?: string;
  /** Pretty or JSON log lines, as the main thread writes them. */
  logFormat: 'json' | 'pretty';
}

interface Running {
  worker: Worker;
  exited: Promise<number>;
  last: IngestStats | null;
  /** stats() asks waiting for their answer (answered with the last counters if it exits). */
  asks: Map<number, (s: IngestStats) => void>;
  stopped: (() => void) | null;
}

/** How long a worker may take to stop (publish, checkpoint) before it is terminated. */
const STOP_TIMEOUT_MS = 15_000;

/** The error a worker's failure to bind or start is reported with (the CLI turns it into one line). */
export class WorkerStartError extends Error {
  readonly code?: string;
  readonly address?: string;
  readonly port?: number;
  readonly syscall?: string;
  constructor(message: string, o: { code?: string; address?: string; port?: number; syscall?: string } = {}) {
    super(message);
    this.name = 'WorkerStartError';
    Object.assign(this, o);
  }
}

/**
 * `ingest.workers` collectors in one process, a thread each. Each binds the collector ports with
 * SO_REUSEPORT; the kernel then hands every datagram of one exporter (source address and port) to
 * one worker. They bind one after the other, so a restart with the same number of workers gives
 * each exporter the same worker again (its checkpoint is there). With Kafka each worker publishes
 * through its own producer (compression is the costliest step per batch: on one thread it would
 * cap every worker together); otherwise this thread publishes their batches to the process's sink; templates are shared through a hub here (or Redis), so an
 * exporter that changes its source port, and lands on another worker, is decoded at once.
 */
export class IngestWorkers {
  private readonly running: Running[] = [];
  private readonly hub: TemplateHub | null;
  private boundPorts: number[] = [];
  private stopping = false;
  private failure: ((e: Error) => void) | null = null;
  private readonly failedPromise: Promise<Error>;
  private statsId = 1;
  private final: IngestStats | null = null;

  private constructor(private readonly o: IngestWorkersOptions) {
    this.failedPromise = new Promise((resolve) => (this.failure = resolve));
    const t = o.config.ingest.templates;
    if (t.persist === 'redis' && !o.config.redis.url) throw new ConfigError('ingest.templates.persist is "redis" but redis.url is not set');
    checkReceive(o.config);
    if (t.persist === 'redis') this.hub = null;
    else {
      const path = t.path ?? join(o.config.stateDir, 'templates.json');
      const base = path.replace(/\.json$/, '');
      const checkpoints = new Map<string, string>();
      for (let i = 0; i < o.workers; i++) checkpoints.set(this.workerName(i), `${base}.w${i}.checkpoint.json`);
      this.hub = new TemplateHub({ key: `${o.config.redis.keyPrefix}ingest:templates`, file: t.persist === 'file' ? { path, checkpoints } : null });
    }
  }

  private workerName(i: number): string {
    return `${this.o.config.ingest.name ?? hostname()}-w${i}`;
  }

  static async start(o: IngestWorkersOptions): Promise<IngestWorkers> {
    const w = new IngestWorkers(o);
    try {
      if (w.hub) {
        const { templates, inherited } = await w.hub.load();
        if (templates > 0) o.log.info({ templates, workers: o.workers }, 'restored exporter templates for the workers');
        if (inherited) o.log.info('the single collector checkpoint goes to worker 0 (its unpublished health, its exporters there)');
      }
      // All workers get ready (threads, templates, checkpoints) at once; then they bind one after
      // the other, within milliseconds: worker 0 resolves port 0 to a real port the others then
      // share, the kernel's choice of worker for an exporter is the same after a restart (same
      // boot, same count), and the first workers hear the others' exporters only for that moment.
      const binds = await Promise.all(Array.from({ length: o.workers }, (_, i) => w.startOne(i)));
      let ports = w.portsToBind();
      for (let i = 0; i < o.workers; i++) {
        ports = await binds[i]!(ports);
        if (i > 0) continue;
        w.boundPorts = ports;
        // SO_REUSEPORT lets a second collector of the same user bind the ports too and take half
        // the datagrams without an error: worker 0 checks it is alone before the others join.
        for (const p of ports) {
          const n = (await udpPortSockets(p))?.sockets ?? null;
          if (n !== null && n > 1)
            throw new WorkerStartError(`port ${p} is shared with another process`, {
              code: 'EADDRINUSE',
              address: o.config.ingest.bind,
              port: p,
              syscall: 'bind',
            });
        }
      }
    } catch (e) {
      await w.stop().catch(() => undefined);
      throw e;
    }
    o.log.info({ workers: o.workers, ports: w.boundPorts }, 'collector workers listening (SO_REUSEPORT)');
    return w;
  }

  private portsToBind(): number[] {
    const c = this.o.config.ingest;
    return [c.netflowPort, c.ipfixPort, ...(c.sflowPort === null ? [] : [c.sflowPort])];
  }

  /** Start worker `index`; resolves once it is ready to bind, with the function that binds it. */
  private startOne(index: number): Promise<(ports: number[]) => Promise<number[]>> {
    const sink = new MessageChannel();
    const hub = new MessageChannel();
    relayToSink(sink.port1, () => this.o.sink);
    if (this.hub) this.hub.serve(hub.port1);
    const cfg = this.o.config;
    const init: WorkerInit = {
      index,
      config: cfg,
      ports: [],
      partitions: this.o.sink.partitions,
      name: this.workerName(index),
      collectorId: `${this.o.collectorId ?? `${hostname()}:${process.pid}:${Date.now().toString(36)}`}-w${index}`,
      health: this.o.health,
      log: { level: this.o.log.level as HaystackConfig['log']['level'], format: this.o.logFormat },
      templates: this.hub ? 'hub' : 'redis',
      sinkPort: sink.port2,
      ownKafkaSink: this.o.sink instanceof KafkaFlowSink,
      hubPort: hub.port2,
    };
    const worker = new Worker(new URL('./worker-main.js', import.meta.url), { workerData: init, transferList: [sink.port2, hub.port2] });
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const r: Running = { worker, exited, last: null, asks: new Map(), stopped: null };
    this.running.push(r);
    // One listener for the worker's whole life: stats answers and its stop.
    worker.on('message', (m: FromWorker) => {
      if (m.t === 'stats') {
        r.last = m.stats;
        r.asks.get(m.id)?.(m.stats);
        r.asks.delete(m.id);
      } else if (m.t === 'stopped') {
        r.last = m.stats;
        r.stopped?.();
      }
    });
    void exited.then((code) => {
      sink.port1.close();
      hub.port1.close();
      for (const answer of r.asks.values()) answer(r.last ?? sumIngestStats([]));
      r.asks.clear();
      r.stopped?.();
      if (!this.stopping) this.failure?.(new Error(`ingest worker ${index} exited unexpectedly (code ${code})`));
    });
    worker.on('error', (err) => {
      this.o.log.error({ err, worker: index }, 'ingest worker failed');
      if (!this.stopping) this.failure?.(err);
    });
    // The worker's answers while starting: ready, then started (or start-failed at either step).
    let step: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | null = null;
    const next = () => new Promise<FromWorker>((resolve, reject) => (step = { resolve, reject }));
    const onMessage = (m: FromWorker) => {
      if (m.t === 'ready' || m.t === 'started') step?.resolve(m);
      else if (m.t === 'start-failed') {
        worker.off('message', onMessage);
        // It released what it had opened; make sure the thread ends.
        setTimeout(() => void worker.terminate(), 1000).unref();
        step?.reject(new WorkerStartError(m.error, m));
      }
    };
    worker.on('message', onMessage);
    void exited.then((code) => step?.reject(new Error(`ingest worker ${index} exited while starting (code ${code})`)));
    const ready = next();
    return ready.then(() => async (ports: number[]) => {
      const started = next();
      worker.postMessage({ t: 'bind', ports } satisfies ToWorker);
      const m = await started;
      worker.off('message', onMessage);
      return m.t === 'started' ? m.ports : [];
    });
  }

  /** The ports the workers share, as worker 0 bound them. */
  get ports(): number[] {
    return this.boundPorts;
  }

  get workers(): number {
    return this.running.length;
  }

  failed(): Promise<Error> {
    return this.failedPromise;
  }

  /** Every worker's counters now, summed (the last ones a stopped worker sent). */
  async stats(): Promise<IngestStats> {
    if (this.final) return this.final;
    return sumIngestStats(await this.perWorker());
  }

  /** Each worker's own counters (which exporters the kernel gave it). */
  perWorker(): Promise<IngestStats[]> {
    return Promise.all(this.running.map((r) => (this.final ? Promise.resolve(r.last ?? sumIngestStats([])) : this.ask(r))));
  }

  /** The counters as of the last stats() (for readers that cannot wait). */
  lastStats(): IngestStats {
    return this.final ?? sumIngestStats(this.running.map((r) => r.last).filter((s): s is IngestStats => s !== null));
  }

  private ask(r: Running): Promise<IngestStats> {
    if (r.worker.threadId === -1) return Promise.resolve(r.last ?? sumIngestStats([]));
    const id = this.statsId++;
    return new Promise<IngestStats>((resolve) => {
      r.asks.set(id, resolve);
      r.worker.postMessage({ t: 'stats', id } satisfies ToWorker);
    });
  }

  /** Stop every worker (each publishes what it staged, its last health and checkpoint), then the hub's files. */
  async stop(): Promise<IngestStats> {
    this.stopping = true;
    await Promise.all(
      this.running.map(async (r) => {
        if (r.worker.threadId === -1) return;
        const stopped = new Promise<void>((resolve) => (r.stopped = resolve));
        r.worker.postMessage({ t: 'stop' } satisfies ToWorker);
        // A worker that does not stop in time (or after it said so) must not hold the process.
        const t = setTimeout(() => {
          this.o.log.warn({ worker: r.worker.threadId }, 'an ingest worker did not stop in time: terminated');
          void r.worker.terminate();
        }, STOP_TIMEOUT_MS);
        await stopped;
        clearTimeout(t);
        const t2 = setTimeout(() => void r.worker.terminate(), 5000);
        await r.exited;
        clearTimeout(t2);
      }),
    );
    await this.hub?.flush();
    this.final = sumIngestStats(this.running.map((r) => r.last).filter((s): s is IngestStats => s !== null));
    return this.final;
  }
}

/**
 * The number of workers `ingest.workers` asks for on this machine. Several need SO_REUSEPORT
 * with the kernel spreading datagrams (Linux): elsewhere 'auto' is one, and more is refused.
 */
export function workerCount(cfg: HaystackConfig, cores: number, platform: string = process.platform): number {
  const w = cfg.ingest.workers;
  if (platform !== 'linux') {
    if (w === 'auto' || w === 1) return 1;
    throw new ConfigError(`ingest.workers: ${w} needs Linux (SO_REUSEPORT spreading datagrams); this is ${platform}: set it to 1 or auto`);
  }
  return w === 'auto' ? Math.max(1, cores) : w;
}
