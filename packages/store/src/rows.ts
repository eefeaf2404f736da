/**
 * Rows the detector writes to ClickHouse (see schema.ts). Every table is keyed so that a
 * batch delivered again after a crash writes rows with the same key: they collapse instead of
 * counting twice. Times are UTC text ('YYYY-MM-DD hh:mm:ss[.sss]'), which both chdb and a
 * server parse the same way for DateTime/DateTime64 columns declared with 'UTC'.
 */
export type Window = 'hour' | 'day';

/** Where a row came from: the flow source, partition and offset of the batch. */
export interface SourcePosition {
  source: string;
  src_partition: number;
  src_offset: number;
}

/** Evidence of one batch for one (line, class, domain, hour). */
export interface EvidenceRow extends SourcePosition {
  day: string;
  hour: string;
  line: string;
  class_id: string;
  level: string;
  domain: string;
  hitlist_day: string;
  flows: number;
  /** Packets and bytes as exported (sampled: not multiplied by the sampling rate). */
  sampled_packets: number;
  sampled_bytes: number;
  /** Σ packets × rate over the flows with a known rate: the renormalised estimate, computed once here. */
  est_packets: number;
  est_bytes: number;
  /** Flows with sampling rate 0 (unknown): in sampled_* but not in est_*. */
  unknown_rate_flows: number;
  first_seen: string;
  last_seen: string;
}

export interface DetectionRow extends SourcePosition {
  day: string;
  window: Window;
  window_start: string;
  class_id: string;
  level: string;
  /** The class whose rule fired: class_id itself, or the product a manufacturer/platform is implied by. */
  via: string;
  line: string;
  /** Distinct evidence domains of `via` in the window when it fired. */
  domains: number;
  detected_at: string;
  hitlist_day: string;
}

/** A line with at least one flow on a day (the report's active lines). */
export interface LineDayRow {
  day: string;
  line: string;
  first_seen: string;
}

/** Per batch, exporter, export version, observation domain and flow day. */
export interface QualityRow extends SourcePosition {
  /** The last batch the row covers (src_offset: the first; several when the detector grouped batches). */
  src_offset_last: number;
  day: string;
  exporter: string;
  version: number;
  observation_domain: number;
  records: number;
  matched: number;
  unknown_rate: number;
  no_hitlist: number;
  no_side: number;
  bad_records: number;
  sampling_rates: number[];
}

export interface UndecodableRow extends SourcePosition {
  day: string;
  received_at: string;
  bytes: number;
  reason: string;
}

/** One exporter/domain of an ingest health snapshot (flow-core health.ts), keyed by the snapshot's unique id. */
export interface HealthRow {
  day: string;
  at: string;
  snapshot_id: string;
  collector: string;
  exporter: string;
  version: number;
  observation_domain: number;
  packets: number;
  records: number;
  sequence_gaps: number;
  lost: number;
  malformed: number;
  missing_template_sets: number;
  held_dropped_sets: number;
  unknown_rate_records: number;
  sampling_rate: number;
  samples_lost: number;
  sample_drops: number;
}

/** What the detector knew about a class on a flow day: for the report's names, levels and parents. */
export interface ClassRow {
  day: string;
  class_id: string;
  name: string;
  level: string;
  parents: string[];
  /** 1: a rule of the day's hitlist detects it; 0: known from the dictionary only. */
  detectable: number;
  hitlist_day: string;
}

/** The hitlist that served a flow day. */
export interface HitlistRow {
  day: string;
  hitlist_day: string;
  version: number;
  built_at: string;
  entries: number;
  addresses: number;
  classes: number;
}

/** IXP deployment: the member a unit (host) was attributed to on a day. */
export interface IxpUnitRow {
  day: string;
  line: string;
  member_asn: number;
  member_name: string;
  via: string;
  first_seen: string;
}

/** One batch's traffic from one line to one hitlist address (a backend); the classes it serves are the hitlist's (hitlist_day). */
export interface BackendTrafficRow extends SourcePosition {
  day: string;
  line: string;
  /** The hitlist address as 16-byte text (IPv4 as ::ffff:a.b.c.d). */
  backend: string;
  hitlist_day: string;
  flows: number;
  est_packets: number;
  est_bytes: number;
  unknown_rate_flows: number;
}

export interface DetectorRows {
  detections: DetectionRow[];
  evidence: EvidenceRow[];
  lineDays: LineDayRow[];
  quality: QualityRow[];
  undecodable: UndecodableRow[];
  health: HealthRow[];
  classes: ClassRow[];
  hitlists: HitlistRow[];
  ixpUnits: IxpUnitRow[];
  backendTraffic: BackendTrafficRow[];
}

export function emptyRows(): DetectorRows {
  return { detections: [], evidence: [], lineDays: [], quality: [], undecodable: [], health: [], classes: [], hitlists: [], ixpUnits: [], backendTraffic: [] };
}

/** Append every row of `src` to `dst`, table by table. */
export function appendRows(dst: DetectorRows, src: DetectorRows): void {
  for (const k of Object.keys(dst) as (keyof DetectorRows)[]) {
    const from = src[k] as unknown[];
    if (from.length === 0) continue;
    const to = dst[k] as unknown[];
    for (const r of from) to.push(r);
  }
}

export function rowCount(r: DetectorRows): number {
  let n = 0;
  for (const k of Object.keys(r) as (keyof DetectorRows)[]) n += r[k].length;
  return n;
}
