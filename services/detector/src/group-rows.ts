import type { BackendTrafficRow, DetectorRows, EvidenceRow, QualityRow } from '@haystack/store';

/**
 * The rows of a group of consecutive batches of one partition (batch-groups.ts), merged into
 * one row per fact: evidence per (day, hour, line, class, domain), backend traffic per (day,
 * line, address), flow quality per (day, exporter, version, observation domain), each keyed by
 * the group's first offset. Sums add up, first/last seen widen, the newest hitlist day wins.
 * The other tables are keyed by their fact already (detections, active lines, classes, ...) or
 * by their own batch (undecodable batches) and pass through. `rows` is not modified.
 */
export function mergeGroupRows(rows: DetectorRows, firstOffset: number): DetectorRows {
  return {
    ...rows,
    evidence: mergeEvidence(rows.evidence, firstOffset),
    backendTraffic: mergeBackend(rows.backendTraffic, firstOffset),
    quality: mergeQuality(rows.quality, firstOffset),
  };
}

// Times and dates are fixed-width UTC text: their order is the text's order.
const later = (a: string, b: string) => (b > a ? b : a);
const earlier = (a: string, b: string) => (b < a ? b : a);

function mergeEvidence(rows: EvidenceRow[], offset: number): EvidenceRow[] {
  const by = new Map<string, EvidenceRow>();
  for (const r of rows) {
    const key = `${r.day}\t${r.hour}\t${r.line}\t${r.class_id}\t${r.domain}`;
    const m = by.get(key);
    if (!m) {
      by.set(key, { ...r, src_offset: offset });
      continue;
    }
    m.flows += r.flows;
    m.sampled_packets += r.sampled_packets;
    m.sampled_bytes += r.sampled_bytes;
    m.est_packets += r.est_packets;
    m.est_bytes += r.est_bytes;
    m.unknown_rate_flows += r.unknown_rate_flows;
    m.first_seen = earlier(m.first_seen, r.first_seen);
    m.last_seen = later(m.last_seen, r.last_seen);
    m.hitlist_day = later(m.hitlist_day, r.hitlist_day);
  }
  return [...by.values()];
}

function mergeBackend(rows: BackendTrafficRow[], offset: number): BackendTrafficRow[] {
  const by = new Map<string, BackendTrafficRow>();
  for (const r of rows) {
    const key = `${r.day}\t${r.line}\t${r.backend}`;
    const m = by.get(key);
    if (!m) {
      by.set(key, { ...r, src_offset: offset });
      continue;
    }
    m.flows += r.flows;
    m.est_packets += r.est_packets;
    m.est_bytes += r.est_bytes;
    m.unknown_rate_flows += r.unknown_rate_flows;
    m.hitlist_day = later(m.hitlist_day, r.hitlist_day);
  }
  return [...by.values()];
}

function mergeQuality(rows: QualityRow[], offset: number): QualityRow[] {
  const by = new Map<string, QualityRow>();
  for (const r of rows) {
    const key = `${r.day}\t${r.exporter}\t${r.version}\t${r.observation_domain}`;
    const m = by.get(key);
    if (!m) {
      by.set(key, { ...r, src_offset: offset, sampling_rates: [...r.sampling_rates] });
      continue;
    }
    m.records += r.records;
    m.matched += r.matched;
    m.unknown_rate += r.unknown_rate;
    m.no_hitlist += r.no_hitlist;
    m.no_side += r.no_side;
    m.bad_records += r.bad_records;
    if (r.src_offset_last > m.src_offset_last) m.src_offset_last = r.src_offset_last;
    for (const rate of r.sampling_rates) if (!m.sampling_rates.includes(rate)) m.sampling_rates.push(rate);
  }
  const out = [...by.values()];
  for (const r of out) r.sampling_rates.sort((x, y) => x - y);
  return out;
}
