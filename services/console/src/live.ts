import type { ClickHouseStore } from '@haystack/clickhouse';
import { lossUnit, type ExporterCounts } from '@haystack/flow-core';
import type { GroupLag } from '@haystack/transport';
import { TABLES, TolerantReader } from '@haystack/store';

/**
 * Data quality as the console shows it. Live: the running process's own counters (decoder
 * per exporter/domain, kernel socket drops, the bus between ingest and detector, the storage
 * backlog), provided by whoever hosts the console (apps/pipeline). Without a live source
 * (the console as its own service), the day's stored health snapshots and flow quality.
 */
export type LiveExporter = ExporterCounts;

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

const num = (x: unknown): number => {
  const n = Number(x ?? 0);
  return Number.isFinite(n) ? n : 0;
};

/** The day's figures from storage: health snapshots (sums of their deltas) and the detector's flow quality. */
export async function storedQuality(ch: ClickHouseStore, day: string, now = new Date()): Promise<LiveQuality> {
  const db = ch.database;
  const q = new TolerantReader(ch);
  const health = await q.all<Record<string, string>>(
    `SELECT exporter, version, observation_domain AS domain, sum(records) AS records, argMax(sampling_rate, at) AS rate, sum(sequence_gaps) AS gaps, sum(lost) AS lost,
            sum(malformed) AS malformed, sum(missing_template_sets) AS missing, sum(samples_lost) AS samples_lost, sum(sample_drops) AS sample_drops
     FROM ${db}.${TABLES.ingestHealth} FINAL WHERE day = {d:Date} GROUP BY exporter, version, observation_domain ORDER BY exporter, version, domain`,
    { d: day },
  );
  const exporters: LiveExporter[] = health.map((h) => ({
    exporter: h.exporter!,
    version: num(h.version),
    domain: num(h.domain),
    records: num(h.records),
    samplingRate: num(h.rate),
    sequenceGaps: num(h.gaps),
    lost: num(h.lost),
    lostUnit: lossUnit(num(h.version)),
    malformed: num(h.malformed),
    missingTemplateSets: num(h.missing),
    samplesLost: num(h.samples_lost),
    sampleDrops: num(h.sample_drops),
  }));
  return {
    live: false,
    day,
    at: now.toISOString(),
    since: null,
    recordsDecoded: exporters.reduce((s, x) => s + x.records, 0),
    exporters,
    socketDrops: null,
    consumerLag: null,
    storageBacklog: null,
    insertFailures: null,
  };
}
