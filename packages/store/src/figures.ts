import type { ClickHouseStore } from '@haystack/clickhouse';
import { lossUnit, type LossUnit } from '@haystack/flow-core';
import { TolerantReader } from './reader.js';
import { partialReplays } from './replayed.js';
import { TABLES } from './tables.js';

/**
 * The figures shown in more than one place (the report in every format, the console's pages and
 * its JSON API), each computed by one query here so that two places never disagree on the same
 * day: active and detected lines, a day's data quality per exporter, and the size of the
 * hitlist that served a day. Readers format them; they never count again.
 */

const num = (x: unknown): number => {
  const n = Number(x ?? 0);
  return Number.isFinite(n) ? n : 0;
};

/** Lines with at least one flow, per day (uniqExact on the base table: a redelivered row cannot inflate it). */
export async function activeLines(ch: ClickHouseStore, days: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>(days.map((d) => [d, 0]));
  if (days.length === 0) return out;
  for (const r of await new TolerantReader(ch).all<{ d: string; n: string }>(
    `SELECT toString(day) AS d, uniqExact(line) AS n FROM ${ch.database}.${TABLES.lineDays} WHERE day IN {s:Array(Date)} GROUP BY day`,
    { s: days },
  ))
    out.set(r.d, num(r.n));
  return out;
}

/**
 * Lines detected per class, per day: the daily window; a day stored by a deployment running
 * hourly windows only counts the union of its hours instead.
 */
export async function detectedLines(ch: ClickHouseStore, days: readonly string[]): Promise<Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>(days.map((d) => [d, new Map()]));
  if (days.length === 0) return out;
  const q = new TolerantReader(ch);
  const db = ch.database;
  const rows = await q.all<{ d: string; class_id: string; daily: string; any: string }>(
    `SELECT toString(day) AS d, class_id, uniqExactIf(line, window = 'day') AS daily, uniqExact(line) AS any
     FROM ${db}.${TABLES.detections} WHERE day IN {s:Array(Date)} GROUP BY day, class_id`,
    { s: days },
  );
  const hasDaily = new Set(rows.filter((r) => num(r.daily) > 0).map((r) => r.d));
  for (const r of rows) {
    const n = hasDaily.has(r.d) ? num(r.daily) : num(r.any);
    if (n > 0) out.get(r.d)!.set(r.class_id, n);
  }
  return out;
}

/** One exporter (observation domain) on one day: what the detector received and what ingest's health snapshots said. */
export interface ExporterQuality {
  exporter: string;
  version: number;
  observationDomain: number;
  /** Flow records received by the detector from this exporter on the day. */
  records: number;
  /** Distinct sampling rates seen (0 = unknown). */
  samplingRates: number[];
  /** From the ingest health snapshots, when available (null otherwise). */
  sequenceGaps: number | null;
  /** Lost between exporter and collector, in `lostUnit` (never added across units). */
  lost: number | null;
  /** What the protocol's sequence numbers count: packets (NetFlow v9), records (v5, IPFIX), datagrams (sFlow). */
  lostUnit: LossUnit;
  malformed: number | null;
  missingTemplateSets: number | null;
  /** sFlow: samples lost between agent and collector (sample sequence gaps), and packets the agent could not sample. Null: no snapshot. */
  samplesLost: number | null;
  sampleDrops: number | null;
}

export interface DayQuality {
  exporters: ExporterQuality[];
  /** Flow records the detector received on the day (the sum of the exporters' records). */
  flowsTotal: number;
  flowsMatched: number;
  undecodableBatches: number;
  unknownSamplingFlows: number;
  /** Replays of the day that were interrupted and not completed since. */
  partialReplays: { file: string; bytesRead: number; totalBytes: number }[];
}

/**
 * A day's data quality: records per exporter from the detector's flow quality (complete: every
 * stored batch), loss and decode counters from ingest's health snapshots (null where none
 * arrived), both read with FINAL so a redelivered batch counts once.
 */
export async function dayQuality(ch: ClickHouseStore, day: string): Promise<DayQuality> {
  const q = new TolerantReader(ch);
  const db = ch.database;
  const flows = await q.all<{
    exporter: string;
    version: number | string;
    observation_domain: number | string;
    records: string;
    matched: string;
    unknown: string;
    rates: (number | string)[];
  }>(
    `SELECT exporter, version, observation_domain, sum(records) AS records, sum(matched) AS matched, sum(unknown_rate) AS unknown,
            arraySort(groupUniqArrayArray(sampling_rates)) AS rates
     FROM ${db}.${TABLES.flowQuality} FINAL WHERE day = {d:Date}
     GROUP BY exporter, version, observation_domain`,
    { d: day },
  );
  const health = await q.all<{
    exporter: string;
    version: number | string;
    observation_domain: number | string;
    gaps: string;
    lost: string;
    malformed: string;
    missing: string;
    samples_lost: string;
    sample_drops: string;
    rate: string;
  }>(
    `SELECT exporter, version, observation_domain, sum(sequence_gaps) AS gaps, sum(lost) AS lost, sum(malformed) AS malformed, sum(missing_template_sets) AS missing,
            sum(samples_lost) AS samples_lost, sum(sample_drops) AS sample_drops, argMax(sampling_rate, at) AS rate
     FROM ${db}.${TABLES.ingestHealth} FINAL WHERE day = {d:Date}
     GROUP BY exporter, version, observation_domain`,
    { d: day },
  );
  const key = (e: { exporter: string; version: number | string; observation_domain: number | string }) =>
    `${e.exporter}|${Number(e.version)}|${Number(e.observation_domain)}`;
  const blank = (e: { exporter: string; version: number | string; observation_domain: number | string }): ExporterQuality => ({
    exporter: e.exporter,
    version: Number(e.version),
    observationDomain: Number(e.observation_domain),
    records: 0,
    samplingRates: [],
    sequenceGaps: null,
    lost: null,
    lostUnit: lossUnit(Number(e.version)),
    malformed: null,
    missingTemplateSets: null,
    samplesLost: null,
    sampleDrops: null,
  });
  const byKey = new Map<string, ExporterQuality>();
  let flowsTotal = 0;
  let flowsMatched = 0;
  let unknownSamplingFlows = 0;
  for (const f of flows) {
    flowsTotal += num(f.records);
    flowsMatched += num(f.matched);
    unknownSamplingFlows += num(f.unknown);
    byKey.set(key(f), { ...blank(f), records: num(f.records), samplingRates: f.rates.map(Number) });
  }
  for (const h of health) {
    let e = byKey.get(key(h));
    // Health without flows: the exporter's records never reached the detector that day.
    if (!e) byKey.set(key(h), (e = { ...blank(h), samplingRates: num(h.rate) > 0 ? [num(h.rate)] : [] }));
    e.sequenceGaps = num(h.gaps);
    e.lost = num(h.lost);
    e.malformed = num(h.malformed);
    e.missingTemplateSets = num(h.missing);
    e.samplesLost = num(h.samples_lost);
    e.sampleDrops = num(h.sample_drops);
  }
  const undecodable = num((await q.one<{ n: string }>(`SELECT count() AS n FROM ${db}.${TABLES.undecodable} FINAL WHERE day = {d:Date}`, { d: day }))?.n);
  const exporters = [...byKey.values()].sort(
    (a, b) => a.exporter.localeCompare(b.exporter) || a.version - b.version || a.observationDomain - b.observationDomain,
  );
  const partial = (await partialReplays(ch, day)).map((r) => ({ file: r.file, bytesRead: r.bytesRead, totalBytes: r.totalBytes }));
  return { exporters, flowsTotal, flowsMatched, undecodableBatches: undecodable, unknownSamplingFlows, partialReplays: partial };
}

/** The size of the hitlist that served a day: the latest build on or before it. */
export interface HitlistFigures {
  /** The built day; null when no hitlist history is in this database. */
  day: string | null;
  builtAt: string | null;
  /** Distinct dedicated service addresses. */
  addresses: number;
  /** Distinct (address, port, transport) entries: what the detector matches flows against. */
  entries: number;
  /** Per class the entries are evidence for: distinct addresses and entries (an address two of its domains share counts once). */
  perClass: Map<string, { addresses: number; entries: number }>;
}

/** The hitlist build that served `day` (the latest on or before it), and its size. */
export async function hitlistFigures(ch: ClickHouseStore, day: string): Promise<HitlistFigures> {
  const q = new TolerantReader(ch);
  const db = ch.database;
  const built = await q.one<{ d: string; at: string }>(
    `SELECT toString(max(day)) AS d, toString(argMax(built_at, day)) AS at FROM ${db}.${TABLES.hitlistBuilds} WHERE day <= {d:Date} HAVING count() > 0`,
    { d: day },
  );
  if (!built?.d) return { day: null, builtAt: null, addresses: 0, entries: 0, perClass: new Map() };
  const h = built.d;
  const [size] = await q.all<{ addresses: string; entries: string }>(
    `SELECT uniqExact(address) AS addresses, uniqExact(address, port, transport) AS entries FROM ${db}.${TABLES.hitlistEntries} WHERE day = {h:Date}`,
    { h },
  );
  const perClass = new Map<string, { addresses: number; entries: number }>();
  for (const r of await q.all<{ class_id: string; addresses: string; entries: string }>(
    `SELECT class_id, uniqExact(address) AS addresses, uniqExact(address, port, transport) AS entries FROM ${db}.${TABLES.hitlistEntries}
     WHERE day = {h:Date} GROUP BY class_id`,
    { h },
  ))
    perClass.set(r.class_id, { addresses: num(r.addresses), entries: num(r.entries) });
  return { day: h, builtAt: built.at, addresses: num(size?.addresses), entries: num(size?.entries), perClass };
}
