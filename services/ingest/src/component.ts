import { availableParallelism } from 'node:os';
import type { Component, ComponentHealth, HaystackConfig, Later, Logger } from '@haystack/common';
import type { ExporterCounts } from '@haystack/flow-core';
import type { FlowSink } from '@haystack/transport';
import { replayCapture, type ReplayOptions, type ReplayResult } from './replay.js';
import { createIngest, type Ingest } from './service.js';
import { socketDrops } from './metrics.js';
import { exporterHealth, readIngestStats, type IngestStats } from './ingest-stats.js';
import { IngestWorkers, workerCount } from './workers.js';

/** One exporter (version, observation domain) as this collector counts it since it started. */
export type ExporterHealth = ExporterCounts;

export interface IngestComponentOptions {
  config: HaystackConfig;
  log: Logger;
  /** Where flow batches go; there once the sink before it has started. */
  sink: Later<FlowSink>;
  /** 'listen' binds the configured UDP ports; 'replay' binds none (feed it with replay()). */
  mode: 'listen' | 'replay';
  persistTemplates?: boolean;
  /** Publish health snapshots beside the flows (default true). */
  health?: boolean;
  collectorId?: string;
  /** Log lines of worker threads: as the process writes them. */
  logFormat?: 'json' | 'pretty';
}

export interface IngestComponent extends Component {
  /** Decoder, publisher and collector, once started (one collector: replays, or `ingest.workers: 1`). */
  readonly parts: Ingest | undefined;
  /** The collector threads, when `ingest.workers` is more than one. */
  readonly workers: IngestWorkers | undefined;
  /** Every counter of the collector (or the sum over its workers) now. */
  stats(): Promise<IngestStats>;
  /** Replay a capture through the collector (mode 'replay'); an aborted `signal` stops it after what it has read. */
  replay(file: string, opts?: Partial<ReplayOptions>): Promise<ReplayResult>;
  /** Every exporter's counters now, sorted. */
  exporters(): ExporterHealth[];
  /** Datagrams the kernel dropped on the bound sockets (0 when none are bound). */
  socketDrops(): Promise<number>;
}

/** The collector as a component: decode, publish, health beside the flows, templates kept across restarts. */
export function ingestComponent(o: IngestComponentOptions): IngestComponent {
  let ingest: Ingest | undefined;
  let workers: IngestWorkers | undefined;
  const one = (i: Ingest) => readIngestStats(i.decoder, i.publisher, i.collector);
  const exporters = (): ExporterHealth[] => {
    if (workers) return exporterHealth(workers.lastStats());
    return ingest ? exporterHealth(one(ingest)) : [];
  };
  const ports = (): number[] => workers?.ports ?? ingest?.collector.boundPorts.map((b) => b.port) ?? [];
  return {
    name: 'ingest',
    get parts() {
      return ingest;
    },
    get workers() {
      return workers;
    },
    async start() {
      const listen = o.mode === 'listen';
      const n = listen ? workerCount(o.config, availableParallelism()) : 1;
      if (n > 1) {
        workers = await IngestWorkers.start({
          config: o.config,
          log: o.log,
          sink: o.sink(),
          workers: n,
          health: o.health ?? true,
          ...(o.collectorId ? { collectorId: o.collectorId } : {}),
          logFormat: o.logFormat ?? 'json',
        });
        return;
      }
      ingest = await createIngest(o.config, o.log, o.sink(), {
        ...(listen ? {} : { ports: [], replay: true }),
        persistTemplates: o.persistTemplates ?? listen,
        health: o.health ?? true,
        ...(o.collectorId ? { collectorId: o.collectorId } : {}),
      });
      if (listen) await ingest.collector.start();
    },
    async stop() {
      if (workers) {
        await workers.stop();
        return;
      }
      if (o.mode === 'listen') await ingest?.collector.stop();
      else await ingest?.publisher.drain();
      // After the collector's last save: a Redis store's connections would keep the process alive.
      await ingest?.templateStore?.close().catch((err: unknown) => o.log.warn({ err }, 'could not close the template store'));
    },
    failed() {
      // Only worker threads can fail on their own; one collector's faults are logged and counted.
      return workers ? workers.failed() : new Promise<Error>(() => undefined);
    },
    health(): ComponentHealth {
      const p = workers ? workers.lastStats().publisher : ingest?.publisher.counters;
      return {
        ok: !!ingest || !!workers,
        detail: {
          mode: o.mode,
          workers: workers?.workers ?? (ingest ? 1 : 0),
          exporters: workers ? workers.lastStats().domains.length : (ingest?.decoder.registry.size ?? 0),
          // Handed to the sink: the publisher's records count what it took in, drops included.
          recordsPublished: p ? p.records - p.droppedBackpressure : 0,
          droppedBackpressure: p?.droppedBackpressure ?? 0,
          publishErrors: p?.publishErrors ?? 0,
          ports: ports(),
        },
      };
    },
    async stats() {
      if (workers) return workers.stats();
      if (!ingest) throw new Error('ingest is not started');
      return one(ingest);
    },
    replay(file, opts = {}) {
      if (!ingest) return Promise.reject(new Error('ingest is not started'));
      return replayCapture(file, ingest.collector, ingest.publisher, { pace: 'full', ...opts });
    },
    exporters,
    async socketDrops() {
      // Every socket of a port counts (the workers share each port): once per port.
      let n = 0;
      for (const p of new Set(ports())) n += await socketDrops(p);
      return n;
    },
  };
}
