import { createRegistry, serveMetrics, type ComponentHealth, type HaystackConfig, type Logger, type MetricsServer } from '@haystack/common';
import type { ClickHouseStore } from '@haystack/clickhouse';
import {
  ClickHouseDetectorStorage,
  detectorComponent,
  hitlistStoreFromConfig,
  registerConsumerLagMetric,
  registerDetectorMetrics,
  type Detector,
  type DetectorOptions,
  type DetectorStorage,
} from '@haystack/detector';
import type { HitlistStore } from '@haystack/hitlist-contract';
import { openStore } from '@haystack/store';
import { hitlistBuilds } from '@haystack/hitlist';
import { consoleComponent, type ConsoleServer, type LiveQuality } from '@haystack/console';
import { exporterHealth, ingestComponent, registerIngestMetrics, type Ingest, type IngestStats, type ReplayOptions, type ReplayResult } from '@haystack/ingest';
import {
  CountingSink,
  KafkaFlowSink,
  KafkaFlowSource,
  createFlowTransport,
  type FlowSink,
  type FlowSource,
  type FlowSourceOptions,
  type FlowTransport,
} from '@haystack/transport';
import type { Registry } from 'prom-client';
import { Lifecycle } from './lifecycle.js';
import { pdnsComponent, registerPdnsMetrics, type PdnsService } from '@haystack/pdns-service';

export interface PipelineOptions {
  config: HaystackConfig;
  log: Logger;
  /**
   * Collect exports in this process: 'listen' binds the configured UDP ports, 'replay' binds
   * none (feed it with `replay(file)`). Omit for a detector-only member.
   */
  ingest?: 'listen' | 'replay';
  /** Run the dnstap collector too (`haystack run` when pdns.unixSocket or pdns.tcp is set). */
  pdns?: boolean;
  /** Run the detector in this process (its source: Kafka when kafka.brokers is set, else the in-process bus). */
  detect?: boolean;
  /** Use the in-process bus even when kafka.brokers is set (a replay in one process). */
  embedded?: boolean;
  /** Serve /metrics at config.metrics.listen (default: when it is set). */
  metrics?: boolean;
  /** Injected resources are used as they are and not closed by stop(): the store the detector, console and passive DNS share. */
  store?: ClickHouseStore;
  /** The detector's storage instead of one on `store` (tests that count or fail inserts). */
  detectorStorage?: DetectorStorage;
  hitlists?: HitlistStore;
  /** Where ingest publishes (default: the transport's sink; without a detector, Kafka or a counting sink). */
  sink?: FlowSink;
  /** Ingest options: persist templates (default true when listening), publish health snapshots (default true). */
  persistTemplates?: boolean;
  ingestHealth?: boolean;
  /**
   * The capture being replayed (see captureId): the detector's source id and the collector id
   * of health snapshots derive from it, so replaying the same capture again stores the same
   * rows (nothing counts twice) while another capture adds its own.
   */
  replayId?: string;
  /** Consumer options for the detector's source (timings, concurrency; default concurrency detector.concurrency, from the beginning). */
  source?: FlowSourceOptions;
  /** Serve the operator console (config.console.listen) on this process's ClickHouse store: `haystack run`. */
  console?: boolean;
  /** Extra detector options (source id, line ids, stop timeout). */
  detector?: Partial<Omit<DetectorOptions, 'config' | 'log' | 'source' | 'hitlists' | 'storage'>>;
}

/** A running Haystack process: every command and benchmark assembles its pipeline here. */
export interface Pipeline {
  readonly config: HaystackConfig;
  readonly lifecycle: Lifecycle;
  readonly registry: Registry;
  /** The parts, available once start() has returned (undefined when not part of this pipeline). */
  readonly ingest: Ingest | undefined;
  /** The collector's counters (summed over its workers): null without ingest or before it started. */
  ingestStats(): Promise<IngestStats | null>;
  readonly detector: Detector | undefined;
  readonly transport: FlowTransport | undefined;
  readonly source: FlowSource | undefined;
  readonly sink: FlowSink | undefined;
  /** The ClickHouse store of this process (the detector's, the console's, passive DNS's). */
  readonly store: ClickHouseStore | undefined;
  readonly hitlists: HitlistStore | undefined;
  /** The dnstap collector, when assembled with `pdns: true`. */
  readonly pdns: PdnsService | undefined;
  /** The operator console, when assembled with `console: true` and config.console.listen set. */
  readonly console: ConsoleServer | undefined;
  start(): Promise<void>;
  /** Stop in reverse order: ingest publishes what it holds, the bus drains into the detector, rows are stored. */
  stop(): Promise<void>;
  /** Settles when a component failed for good (e.g. a Kafka consumer its client will not restart). */
  failed(): Promise<Error>;
  /** Each component's health now, by name. */
  health(): Record<string, ComponentHealth>;
  /** Replay a capture of exporter traffic through ingest (pipelines built with ingest: 'replay'). */
  replay(file: string, opts?: Partial<ReplayOptions>): Promise<ReplayResult>;
  /**
   * Stop the replay under way after what it has read (Ctrl-C): that is published and stored
   * by stop() as usual, and the replay's result says `interrupted`.
   */
  interrupt(): void;
}

/** Positions depend on the capture and on how it is cut into batches and partitions. */
function replaySourceId(id: string, config: HaystackConfig): string {
  return `replay:${id}:p${config.detector.concurrency}:b${config.ingest.batch.maxRecords}`;
}

export function assemblePipeline(o: PipelineOptions): Pipeline {
  const { config, log } = o;
  const lifecycle = new Lifecycle(log);
  const registry = createRegistry();
  let store: ClickHouseStore | undefined = o.store;
  let hitlists: HitlistStore | undefined = o.hitlists;
  let transport: FlowTransport | undefined;
  let source: FlowSource | undefined;
  let sink: FlowSink | undefined;
  let metricsServer: MetricsServer | null = null;
  const kafkaConfig = o.embedded ? { ...config.kafka, brokers: [] } : config.kafka;
  const stopReplay = new AbortController();
  // Embedded chdb allows one data directory per process: the detector, the console and passive
  // DNS share one store, opened here when any of them needs it and none was given.
  const needsStore = (o.detect && !o.detectorStorage) || (o.console && !!config.console.listen);
  let ownStore = false;

  if (needsStore)
    lifecycle.add({
      name: 'store',
      async start() {
        if (!store) {
          store = await openStore(config);
          ownStore = true;
        }
      },
      async stop() {
        if (ownStore) await store?.close();
      },
    });

  let detectorPart: ReturnType<typeof detectorComponent> | undefined;
  if (o.detect) {
    lifecycle.add({
      name: 'hitlists',
      async start() {
        hitlists ??= hitlistStoreFromConfig(config);
      },
      async stop() {
        if (!o.hitlists) await hitlists?.close();
      },
    });
    lifecycle.add({
      name: 'transport',
      async start() {
        transport = createFlowTransport(
          { kafka: kafkaConfig },
          {
            logger: log,
            memory: { partitions: config.detector.concurrency },
            source: {
              concurrency: config.detector.concurrency,
              fromBeginning: true,
              // Recovery after a member is killed takes about this long: configurable (kafka.sessionTimeoutMs).
              sessionTimeout: config.kafka.sessionTimeoutMs,
              heartbeatInterval: Math.max(1000, Math.floor(config.kafka.sessionTimeoutMs / 3)),
              ...o.source,
            },
          },
        );
      },
      async stop() {
        await transport?.close();
      },
    });
    detectorPart = detectorComponent({
      ...(o.replayId ? { sourceId: replaySourceId(o.replayId, config) } : {}),
      ...o.detector,
      config,
      log,
      source: () => (source = transport!.createSource()),
      hitlists: () => hitlists!,
      storage: () => o.detectorStorage ?? new ClickHouseDetectorStorage(store!, config.detector.retention),
      // The in-process bus delivers what it holds before its consumer leaves (idempotent when
      // ingest's sink already drained it); Kafka keeps what is uncommitted for the next member.
      beforeStop: async () => {
        if (transport?.mode === 'memory') await transport.close();
      },
    });
    lifecycle.add(detectorPart);
  }

  let ingestPart: ReturnType<typeof ingestComponent> | undefined;
  if (o.ingest) {
    let ownSink = false;
    lifecycle.add({
      name: 'sink',
      async start() {
        if (o.sink) sink = o.sink;
        else if (transport) sink = await transport.connectSink();
        else if (kafkaConfig.brokers.length) {
          sink = await KafkaFlowSink.connect({ kafka: kafkaConfig, logger: log });
          ownSink = true;
        } else {
          sink = new CountingSink(4);
          ownSink = true;
        }
      },
      async stop() {
        // With a detector here: the bus drains into it (or Kafka flushes) before it stops.
        if (transport) await transport.close();
        else if (ownSink) await sink?.close();
      },
    });
    ingestPart = ingestComponent({
      config,
      log,
      sink: () => sink!,
      mode: o.ingest,
      ...(o.persistTemplates !== undefined ? { persistTemplates: o.persistTemplates } : {}),
      health: o.ingestHealth ?? true,
      ...(o.replayId ? { collectorId: replaySourceId(o.replayId, config) } : {}),
      logFormat: config.log.format === 'pretty' || (config.log.format === 'auto' && process.stderr.isTTY === true) ? 'pretty' : 'json',
    });
    lifecycle.add(ingestPart);
  }

  let pdnsPart: ReturnType<typeof pdnsComponent> | undefined;
  if (o.pdns) {
    pdnsPart = pdnsComponent({ config, log, store: () => store });
    lifecycle.add(pdnsPart);
  }

  let consolePart: ReturnType<typeof consoleComponent> | undefined;
  if (o.console && config.console.listen) {
    const started = Date.now();
    consolePart = consoleComponent({ config, log, store: () => store!, live: () => liveQuality(started), hitlistBuilds: hitlistBuilds(config) });
    lifecycle.add(consolePart);
  }
  /** This process's own counters for the console's data-quality page. */
  const liveQuality = async (since: number): Promise<LiveQuality> => {
    const counted = ingestPart ? await ingestPart.stats().catch(() => null) : null;
    const exporters = counted ? exporterHealth(counted) : [];
    const det = detectorPart?.detector?.stats();
    const published = counted?.publisher.records;
    const embeddedBus = !!transport?.bus;
    return {
      live: true,
      day: new Date().toISOString().slice(0, 10),
      at: new Date().toISOString(),
      since: new Date(since).toISOString(),
      recordsDecoded: exporters.reduce((s, x) => s + x.records, 0),
      exporters,
      socketDrops: ingestPart ? await ingestPart.socketDrops() : null,
      consumerLag: published !== undefined && det && embeddedBus ? Math.max(0, published - det.flowsTakenIn) : null,
      storageBacklog: det ? Math.max(0, det.flowsTakenIn - det.flows) : null,
      insertFailures: det ? det.insertFailures : null,
    };
  };

  lifecycle.add({
    name: 'metrics',
    async start() {
      const ing = ingestPart;
      if (ing)
        registerIngestMetrics(registry, {
          stats: () => ing.stats(),
          sockets: () => ing.parts?.collector.boundPorts ?? (ing.workers?.ports ?? []).map((port) => ({ port, family: 4 as const })),
        });
      const det = detectorPart?.detector;
      if (det) {
        registerDetectorMetrics(registry, () => det.stats());
        if (source instanceof KafkaFlowSource) {
          const src = source;
          registerConsumerLagMetric(registry, () => src.lag());
        }
      }
      const pdns = pdnsPart?.service;
      if (pdns) registerPdnsMetrics(registry, pdns.collector);
      const serve = o.metrics ?? !!config.metrics.listen;
      if (serve && config.metrics.listen) metricsServer = await serveMetrics(registry, config.metrics.listen, log);
    },
    async stop() {
      await metricsServer?.close();
    },
  });

  return {
    config,
    lifecycle,
    registry,
    get ingest(): Ingest | undefined {
      return ingestPart?.parts;
    },
    async ingestStats() {
      return ingestPart ? ingestPart.stats().catch(() => null) : null;
    },
    get detector(): Detector | undefined {
      return detectorPart?.detector;
    },
    get transport() {
      return transport;
    },
    get source() {
      return source;
    },
    get sink() {
      return sink;
    },
    get store() {
      return store;
    },
    get hitlists() {
      return hitlists;
    },
    get pdns(): PdnsService | undefined {
      return pdnsPart?.service;
    },
    get console(): ConsoleServer | undefined {
      return consolePart?.server;
    },
    start: () => lifecycle.start(),
    stop: () => lifecycle.stop(),
    failed: () => lifecycle.failed(),
    health: () => lifecycle.health(),
    async replay(file: string, opts: Partial<ReplayOptions> = {}): Promise<ReplayResult> {
      if (!ingestPart?.parts) throw new Error('this pipeline has no ingest: assemble it with ingest: "replay"');
      return ingestPart.replay(file, { signal: stopReplay.signal, ...opts });
    },
    interrupt() {
      stopReplay.abort();
    },
  };
}
