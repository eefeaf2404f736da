/**
 * Ingest health snapshots travel on the flow topic beside the flow batches, so exporter
 * health (sequence gaps, malformed input, missing templates, sampling) reaches the detector
 * and ClickHouse along the one data path, in order with the flows it describes.
 *
 * Format: magic "HSIH" (u32 LE), u8 version (1), then UTF-8 JSON of a HealthSnapshot.
 * Counters are deltas since the previous snapshot of the same collector, so sums over a
 * day are that day's totals, whatever restarts happened.
 */
export const HEALTH_MAGIC = 0x48495348; // "HSIH" read as u32 LE
export const HEALTH_VERSION = 1;

export interface DomainHealth {
  exporter: string;
  version: number;
  domain: number;
  /**
   * UTC day (YYYY-MM-DD) of the flows these counters describe (the day their records start), so
   * a day's report holds that day's loss whenever it was collected. Absent: the snapshot's day.
   * A snapshot spanning midnight carries one entry per day.
   */
  day?: string;
  packets: number;
  records: number;
  sequenceGaps: number;
  lost: number;
  malformed: number;
  missingTemplateSets: number;
  heldDroppedSets: number;
  unknownRateRecords: number;
  /** sFlow: samples the agent says it took but that never arrived (sample sequence gaps); absent before sFlow. */
  samplesLost?: number;
  /** sFlow: packets the agent could not sample (its own drop counter, e.g. a full sampling queue). */
  sampleDrops?: number;
  /** Rate used for records naming no sampler, at snapshot time (0 = unknown). */
  samplingRate: number;
}

/**
 * What `lost` counts for a protocol: NetFlow v9 numbers export packets, NetFlow v5 and IPFIX
 * number flow records, sFlow numbers datagrams (its samples are counted apart, `samplesLost`).
 * Losses of different units are never added together.
 */
export type LossUnit = 'packets' | 'records' | 'datagrams';

export function lossUnit(version: number): LossUnit {
  return version === 9 ? 'packets' : version === 133 ? 'datagrams' : 'records';
}

export interface HealthSnapshot {
  /** Unique per snapshot: collector id and sequence (makes storage idempotent). */
  id: string;
  collector: string;
  /** Snapshot time, Unix ms; the deltas cover (at - intervalMs, at]. */
  at: number;
  intervalMs: number;
  domains: DomainHealth[];
}

export function encodeHealth(s: HealthSnapshot): Buffer {
  const json = Buffer.from(JSON.stringify(s));
  const out = Buffer.allocUnsafe(5 + json.length);
  out.writeUInt32LE(HEALTH_MAGIC, 0);
  out.writeUInt8(HEALTH_VERSION, 4);
  json.copy(out, 5);
  return out;
}

export function isHealth(buf: Buffer): boolean {
  return buf.length >= 5 && buf.readUInt32LE(0) === HEALTH_MAGIC;
}

/** Throws with a clear message on anything that is not a version-1 snapshot. */
export function decodeHealth(buf: Buffer): HealthSnapshot {
  if (!isHealth(buf)) throw new Error('not an ingest health snapshot (bad magic)');
  const v = buf.readUInt8(4);
  if (v !== HEALTH_VERSION) throw new Error(`unsupported health snapshot version ${v}`);
  const s = JSON.parse(buf.subarray(5).toString('utf8')) as HealthSnapshot;
  if (typeof s.id !== 'string' || !Array.isArray(s.domains) || typeof s.at !== 'number') throw new Error('health snapshot lacks id, at or domains');
  return s;
}

/** One exporter (version, observation domain) as a collector counts it: what the live data-quality page shows. */
export interface ExporterCounts {
  exporter: string;
  version: number;
  domain: number;
  records: number;
  samplingRate: number;
  sequenceGaps: number;
  /** In `lostUnit`, never added across units. */
  lost: number;
  lostUnit: LossUnit;
  malformed: number;
  missingTemplateSets: number;
  samplesLost: number;
  sampleDrops: number;
}
