import type { Component, ComponentHealth, HaystackConfig, Later, Logger } from '@haystack/common';
import { lossUnit, type ExporterCounts } from '@haystack/flow-core';
import type { FlowSink } from '@haystack/transport';
import { replayCapture, type ReplayOptions, type ReplayResult } from './replay.js';
import { createIngest, type Ingest } from './service.js';
import { socketDrops } from './metrics.js';

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
}

export interface IngestComponent extends Component {
  /** Decoder, publisher and collector, once started. */
  readonly parts: Ingest | undefined;
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
  const exporters = (): ExporterHealth[] => {
    if (!ingest) return [];
    const out: ExporterHealth[] = [];
    for (const d of ingest.decoder.registry.all()) {
      const c = d.counters;
      out.push({
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
    return out.sort((a, b) => a.exporter.localeCompare(b.exporter) || a.version - b.version || a.domain - b.domain);
  };
  return {
    name: 'ingest',
    get parts() {
      return ingest;
    },
    async start() {
      const listen = o.mode === 'listen';
      ingest = await createIngest(o.config, o.log, o.sink(), {
        ...(listen ? {} : { ports: [] }),
        persistTemplates: o.persistTemplates ?? listen,
        health: o.health ?? true,
        ...(o.collectorId ? { collectorId: o.collectorId } : {}),
      });
      if (listen) await ingest.collector.start();
    },
    async stop() {
      if (o.mode === 'listen') await ingest?.collector.stop();
      else await ingest?.publisher.drain();
      // After the collector's last save: a Redis store's connections would keep the process alive.
      await ingest?.templateStore?.close().catch((err: unknown) => o.log.warn({ err }, 'could not close the template store'));
    },
    health(): ComponentHealth {
      const p = ingest?.publisher.counters;
      return {
        ok: !!ingest,
        detail: {
          mode: o.mode,
          exporters: ingest?.decoder.registry.size ?? 0,
          recordsPublished: p?.records ?? 0,
          droppedBackpressure: p?.droppedBackpressure ?? 0,
          publishErrors: p?.publishErrors ?? 0,
          ports: ingest?.collector.boundPorts.map((b) => b.port) ?? [],
        },
      };
    },
    replay(file, opts = {}) {
      if (!ingest) return Promise.reject(new Error('ingest is not started'));
      return replayCapture(file, ingest.collector, ingest.publisher, { pace: 'full', ...opts });
    },
    exporters,
    async socketDrops() {
      let n = 0;
      for (const s of ingest?.collector.boundPorts ?? []) n += await socketDrops(s.port);
      return n;
    },
  };
}
