import {
  appendRows,
  emptyRows,
  type BackendTrafficRow,
  type ClassRow,
  type DetectorRows,
  type EvidenceRow,
  type HitlistRow,
  type QualityRow,
} from '@haystack/store';

/**
 * The rows of a group of consecutive batches of one partition (batch-groups.ts), merged into
 * one row per fact as each batch is added: evidence per (day, hour, line, class, domain),
 * backend traffic per (day, line, address), flow quality per (day, exporter, version,
 * observation domain), each keyed by the group's first offset; sums add up, first/last seen
 * widen, the newest hitlist day wins. Class and hitlist rows (the same for every batch of a
 * day until the first group is stored) are kept once per key, the last one. The other tables
 * are keyed by their fact already (detections, active lines, ...) or by their own batch
 * (undecodable batches) and pass through.
 *
 * Merging as batches arrive, not when the group closes, lets a batch's own rows die young
 * instead of being held (and promoted by the garbage collector) until up to 16 batches are in.
 * A group of one batch keeps that batch's rows as they are: no key is built unless a second
 * batch comes. Rows passed in are not modified.
 */
export class GroupRows {
  private single: DetectorRows | null = null;
  private merged: DetectorRows | null = null;
  private evidence = new Map<string, EvidenceRow>();
  private backend = new Map<string, BackendTrafficRow>();
  private quality = new Map<string, QualityRow>();
  private classes = new Map<string, ClassRow>();
  private hitlists = new Map<string, HitlistRow>();
  /** The group's distinct key parts (lines, domains, hours, ...) numbered, for short flat keys. */
  private readonly ids = new Map<string, number>();

  constructor(private readonly firstOffset: number) {}

  private id(s: string): number {
    let i = this.ids.get(s);
    if (i === undefined) this.ids.set(s, (i = this.ids.size));
    return i;
  }

  /**
   * A fact's key as one flat string of its parts' numbers. A template literal of the parts
   * themselves is a rope of ~8 heap objects per key, held as long as the group: in a heap
   * snapshot of bench-e2e they were 1.49M of the detector's 1.86M strings (48 of 281 MB).
   */
  private key(a: string, b: string, c: string, d = '', e = ''): string {
    const i = this.id(a);
    const j = this.id(b);
    const k = this.id(c);
    const l = this.id(d);
    const m = this.id(e);
    return String.fromCharCode(i & 0xffff, i >>> 16, j & 0xffff, j >>> 16, k & 0xffff, k >>> 16, l & 0xffff, l >>> 16, m & 0xffff, m >>> 16);
  }

  add(rows: DetectorRows): void {
    if (this.merged === null && this.single === null) {
      this.single = rows;
      return;
    }
    if (this.merged === null) {
      this.merged = emptyRows();
      this.merge(this.single!);
      this.single = null;
    }
    this.merge(rows);
  }

  /** The group's rows (the one batch's own when it holds one). */
  rows(): DetectorRows {
    if (this.merged === null) return this.single ?? emptyRows();
    const quality = [...this.quality.values()];
    for (const r of quality) r.sampling_rates.sort((x, y) => x - y); // the group's own copies (addQuality)
    return {
      ...this.merged,
      evidence: [...this.evidence.values()],
      backendTraffic: [...this.backend.values()],
      quality,
      classes: [...this.classes.values()],
      hitlists: [...this.hitlists.values()],
    };
  }

  private merge(rows: DetectorRows): void {
    const { evidence, backendTraffic, quality, classes, hitlists, ...rest } = rows;
    appendRows(this.merged!, { ...emptyRows(), ...rest });
    for (const r of evidence) this.addEvidence(r);
    for (const r of backendTraffic) this.addBackend(r);
    for (const r of quality) this.addQuality(r);
    // The last row of a key wins, as it would in storage (ReplacingMergeTree without a version
    // keeps the last inserted): a hitlist swapped within the group names the classes its way.
    for (const r of classes) this.classes.set(`${r.day}\t${r.class_id}`, r);
    for (const r of hitlists) {
      const key = `${r.day}\t${r.hitlist_day}\t${r.version}\t${r.built_at}`;
      if (!this.hitlists.has(key)) this.hitlists.set(key, r);
    }
  }

  private addEvidence(r: EvidenceRow): void {
    const key = this.key(r.day, r.hour, r.line, r.class_id, r.domain);
    const m = this.evidence.get(key);
    if (!m) {
      this.evidence.set(key, { ...r, src_offset: this.firstOffset });
      return;
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

  private addBackend(r: BackendTrafficRow): void {
    const key = this.key(r.day, r.line, r.backend);
    const m = this.backend.get(key);
    if (!m) {
      this.backend.set(key, { ...r, src_offset: this.firstOffset });
      return;
    }
    m.flows += r.flows;
    m.est_packets += r.est_packets;
    m.est_bytes += r.est_bytes;
    m.unknown_rate_flows += r.unknown_rate_flows;
    m.hitlist_day = later(m.hitlist_day, r.hitlist_day);
  }

  private addQuality(r: QualityRow): void {
    const key = `${r.day}\t${r.exporter}\t${r.version}\t${r.observation_domain}`;
    const m = this.quality.get(key);
    if (!m) {
      this.quality.set(key, { ...r, src_offset: this.firstOffset, sampling_rates: [...r.sampling_rates] });
      return;
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
}

// Times and dates are fixed-width UTC text: their order is the text's order.
const later = (a: string, b: string) => (b > a ? b : a);
const earlier = (a: string, b: string) => (b < a ? b : a);

/** The rows of several batches merged as one group starting at `firstOffset` (tests; the detector adds batch by batch). */
export function mergeGroupRows(batches: readonly DetectorRows[], firstOffset: number): DetectorRows {
  const g = new GroupRows(firstOffset);
  for (const b of batches) g.add(b);
  return g.rows();
}
