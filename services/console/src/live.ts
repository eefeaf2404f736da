import type { ClickHouseStore } from '@haystack/clickhouse';
import type { ExporterCounts } from '@haystack/flow-core';
import type { GroupLag } from '@haystack/transport';
import { dayQuality } from '@haystack/store';

/**
 * Data quality as the console shows it. Live: the running process's own counters (decoder
 * per exporter/domain, kernel socket drops, the bus between ingest and detector, the storage
 * backlog), provided by whoever hosts the console (apps/pipeline). Without a live source
 * (the console as its own service), the day's stored health snapshots and flow quality.
 */
export type LiveExporter = ExporterCounts & {
  /** Stored figures: every sampling rate seen on the day (the report's list). */
  samplingRates?: number[];
  /** Stored figures: false when no health snapshot of this exporter arrived (its loss counters are unknown, not 0). */
  healthKnown?: boolean;
};

export interface LiveQuality {
  live: boolean;
  /** Day the stored figures are of (the current UTC day when live). */
  day: string;
  at: string;
  /** Live: when this process started counting. */
  since: string | null;
  recordsDecoded: number;
  exporters: LiveExporter[];
  /** Datagrams the kernel dropped on the collector's UDP sockets; null = unknown here. */
  socketDrops: number | null;
  /** Flows published by ingest and not yet taken in by a detector (embedded bus); null = unknown here (Kafka: the group's lag). */
  consumerLag: number | null;
  /** Flows a detector took in and has not stored yet. */
  storageBacklog: number | null;
  insertFailures: number | null;
  /** With Kafka: the detector group's lag on the flow topic in batches (or why it could not be read); absent on the embedded bus. */
  kafka?: GroupLag | { error: string };
}

export type LiveSource = () => Promise<LiveQuality>;

/**
 * The day's figures from storage: @haystack/store's dayQuality, the same query the report uses, so
 * both show one set of numbers (records: what the detector received; losses: ingest's health).
 */
export async function storedQuality(ch: ClickHouseStore, day: string, now = new Date()): Promise<LiveQuality> {
  const d = await dayQuality(ch, day);
  const exporters: LiveExporter[] = d.exporters.map((x) => ({
    exporter: x.exporter,
    version: x.version,
    domain: x.observationDomain,
    records: x.records,
    samplingRate: x.samplingRates.at(-1) ?? 0,
    samplingRates: x.samplingRates,
    sequenceGaps: x.sequenceGaps ?? 0,
    lost: x.lost ?? 0,
    lostUnit: x.lostUnit,
    malformed: x.malformed ?? 0,
    missingTemplateSets: x.missingTemplateSets ?? 0,
    samplesLost: x.samplesLost ?? 0,
    sampleDrops: x.sampleDrops ?? 0,
    healthKnown: x.sequenceGaps !== null,
  }));
  return {
    live: false,
    day,
    at: now.toISOString(),
    since: null,
    recordsDecoded: d.flowsTotal,
    exporters,
    socketDrops: null,
    consumerLag: null,
    storageBacklog: null,
    insertFailures: null,
  };
}
