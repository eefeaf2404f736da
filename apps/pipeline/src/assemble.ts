import { createRegistry, serveMetrics, type HaystackConfig, type Logger, type MetricsServer } from '@haystack/common';
import type { ClickHouseStore } from '@haystack/clickhouse';
import {
  createDetector,
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
import { lossUnit } from '@haystack/flow-core';
import { createConsole, type ConsoleServer, type LiveExporter, type LiveQuality } from '@haystack/console';
import { createIngest, registerIngestMetrics, replayCapture, socketDrops, type Ingest, type ReplayOptions, type ReplayResult } from '@haystack/ingest';
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
import { createPdnsService, openPdnsClickHouse, registerPdnsMetrics, type PdnsService } from '@haystack/pdns-service';

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
  /** Injected resources are used as they are and not closed by stop(). */
  storage?: ClickHouseStore | DetectorStorage;
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
  readonly detector: Detector | undefined;
  readonly transport: FlowTransport | undefined;
  readonly source: FlowSource | undefined;
  readonly sink: FlowSink | undefined;
  readonly storage: ClickHouseStore | DetectorStorage | undefined;
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
  let storage: ClickHouseStore | DetectorStorage | undefined = o.storage;
  let hitlists: HitlistStore | undefined = o.hitlists;
  let transport: FlowTransport | undefined;
  let detector: Detector | undefined;
  let source: FlowSource | undefined;
  let sink: FlowSink | undefined;
  let ingest: Ingest | undefined;
  let metricsServer: MetricsServer | null = null;
  let failure: ((e: Error) => void) | undefined;
  const detectorFailed = new Promise<Error>((resolve) => (failure = resolve));
  const kafkaConfig = o.embedded ? { ...config.kafka, brokers: [] } : config.kafka;
  const stopReplay = new AbortController();

  if (o.detect) {
    lifecycle.add({
      name: 'storage',
      async start() {
        storage ??= await openStore(config);
      },
      async stop() {
        if (!o.storage && storage && 'close' in storage) await (storage as ClickHouseStore).close();
      },
    });
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
    lifecycle.add({
      name: 'detector',
      async start() {
        source = transport!.createSource();
        const replaySource = o.replayId ? { sourceId: replaySourceId(o.replayId, config) } : {};
        detector = createDetector({ ...replaySource, ...o.detector, config, log, source, hitlists: hitlists!, storage: storage! });
        await detector.start();
        void detector.failed().then((e) => failure?.(e));
      },
      async stop() {
        // The in-process bus delivers what it holds before its consumer leaves (idempotent when
        // ingest's sink already drained it); Kafka keeps what is uncommitted for the next member.
        if (transport?.mode === 'memory') await transport.close();
        await detector?.stop();
      },
      failed: () => detectorFailed,
    });
  }

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
    lifecycle.add({
      name: 'ingest',
      async start() {
        const listen = o.ingest === 'listen';
        ingest = await createIngest(config, log, sink!, {
          ...(listen ? {} : { ports: [] }),
          persistTemplates: o.persistTemplates ?? listen,
          health: o.ingestHealth ?? true,
          ...(o.replayId ? { collectorId: replaySourceId(o.replayId, config) } : {}),
        });
        if (listen) await ingest.collector.start();
      },
      async stop() {
        if (o.ingest === 'listen') await ingest?.collector.stop();
        else await ingest?.publisher.drain();
      },
    });
  }

  let pdns: PdnsService | undefined;
  if (o.pdns) {
    let ownCh: ClickHouseStore | undefined;
    lifecycle.add({
      name: 'pdns',
      async start() {
        // Embedded chdb allows one data directory per process: share the detector's when it is open.
        // Only a ClickHouse store is shared (a test may pass another DetectorStorage).
        const shared = storage && 'command' in storage && 'insert' in storage ? (storage as ClickHouseStore) : undefined;
        const ch = shared ?? (ownCh = await openPdnsClickHouse(config));
        pdns = await createPdnsService({ config, log, ch });
        await pdns.start();
      },
      async stop() {
        await pdns?.stop();
        await ownCh?.close();
      },
    });
  }

  let consoleServer: ConsoleServer | undefined;
  if (o.console && config.console.listen) {
    const started = Date.now();
    let ownStore: ClickHouseStore | undefined;
    lifecycle.add({
      name: 'console',
      async start() {
        // The detector's store when there is one (embedded chdb: one process per data directory).
        const store = storage && 'query' in storage ? (storage as ClickHouseStore) : (ownStore = await openStore(config));
        consoleServer = await createConsole({ config, log, store, live: () => liveQuality(started), hitlistBuilds: hitlistBuilds(config) });
        await consoleServer.start();
      },
      async stop() {
        await consoleServer?.stop();
        await ownStore?.close();
      },
    });
  }
  /** This process's own counters for the console's data-quality page. */
  const liveQuality = async (since: number): Promise<LiveQuality> => {
    const exporters: LiveExporter[] = [];
    let socket: number | null = null;
    if (ingest) {
      for (const d of ingest.decoder.registry.all()) {
        const c = d.counters;
        exporters.push({
          exporter: d.exporterText,
          version: d.version,
          domain: d.domain,
          records: c.records,
          samplingRate: d.shownRate,
          sequenceGaps: c.sequenceGaps,
          lost: c.lost,
          lostUnit: lossUnit(d.version),
          malformed: c.malformedPackets + c.malformedSets + c.malformedRecords,
          missingTemplateSets: c.missingTemplateSets,
          samplesLost: c.samplesLost,
          sampleDrops: c.sampleDrops,
        });
      }
      socket = 0;
      for (const s of ingest.collector.boundPorts) socket += await socketDrops(s.port);
    }
    exporters.sort((a, b) => a.exporter.localeCompare(b.exporter) || a.version - b.version || a.domain - b.domain);
    const det = detector?.stats();
    const embeddedBus = !!transport?.bus;
    return {
      live: true,
      day: new Date().toISOString().slice(0, 10),
      at: new Date().toISOString(),
      since: new Date(since).toISOString(),
      recordsDecoded: exporters.reduce((s, x) => s + x.records, 0),
      exporters,
      socketDrops: socket,
      consumerLag: ingest && det && embeddedBus ? Math.max(0, ingest.publisher.counters.records - det.flowsTakenIn) : null,
      storageBacklog: det ? Math.max(0, det.flowsTakenIn - det.flows) : null,
      insertFailures: det ? det.insertFailures : null,
    };
  };

  lifecycle.add({
    name: 'metrics',
    async start() {
      if (ingest) {
        const ing = ingest;
        registerIngestMetrics(registry, {
          decoder: ing.decoder,
          publisher: ing.publisher,
          sockets: () => ing.collector.boundPorts,
          refused: () => ing.collector.refused,
        });
      }
      if (detector) {
        const det = detector;
        registerDetectorMetrics(registry, () => det.stats());
        if (source instanceof KafkaFlowSource) {
          const src = source;
          registerConsumerLagMetric(registry, () => src.lag());
        }
      }
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
    get ingest() {
      return ingest;
    },
    get detector() {
      return detector;
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
    get storage() {
      return storage;
    },
    get hitlists() {
      return hitlists;
    },
    get pdns() {
      return pdns;
    },
    get console() {
      return consoleServer;
    },
    start: () => lifecycle.start(),
    stop: () => lifecycle.stop(),
    failed: () => lifecycle.failed(),
    async replay(file, opts = {}) {
      if (!ingest) throw new Error('this pipeline has no ingest: assemble it with ingest: "replay"');
      return replayCapture(file, ingest.collector, ingest.publisher, { pace: 'full', signal: stopReplay.signal, ...opts });
    },
    interrupt() {
      stopReplay.abort();
    },
  };
}
