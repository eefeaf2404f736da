import { formatAddress } from '@haystack/common';
import { F, type BatchView } from '@haystack/flow-core';
import { type LineIds, type LineMask, dayText, word } from './lines.js';
import { Matcher, ScanResult, type HitlistByDay } from './matcher.js';
import { DAY_MS, HOUR_MS, ts, ts64, type DetectorRows, type EvidenceRow } from './rows.js';
import { DetectionEngine, ruleThreshold, type PartitionState, type Position } from './rules.js';

export interface ProcessResult {
  flows: number;
  matched: number;
  noHitlist: number;
  unknownRate: number;
  noSide: number;
  bad: number;
  /** Direct detections by window, and rows implied by them. */
  detHour: number;
  detDay: number;
  implied: number;
}

/**
 * One batch, without storage: the hot scan (matcher.ts), then for the few matched flows the
 * line ids, evidence rows aggregated per (line, class, domain, hour) and the detections the
 * partition's state now meets; new active lines; quality rows. Appends to `rows`.
 */
export class BatchProcessor {
  private readonly matcher: Matcher;
  private readonly scratch = new ScanResult();

  constructor(
    hitlists: HitlistByDay,
    private readonly mask: LineMask,
    private readonly lineIds: LineIds,
    private readonly engine: DetectionEngine,
  ) {
    this.matcher = new Matcher(hitlists, mask);
  }

  process(view: BatchView, ps: PartitionState, pos: Position, rows: DetectorRows): ProcessResult {
    const res = this.matcher.scan(view, ps, this.scratch);
    const ids = this.lineIds;
    const nl = res.newLines;
    for (let i = 0; i < res.newLineCount; i++) {
      const o = i * 7;
      const day = nl[o + 5]!;
      rows.lineDays.push({ day: dayText(day), line: ids.id(nl[o]!, nl[o + 1]!, nl[o + 2]!, nl[o + 3]!, nl[o + 4] === 1, day), first_seen: ts64(nl[o + 6]!) });
    }

    const buf = view.buf;
    const dv = view.dv;
    const mask = this.mask;
    const agg = new Map<string, EvidenceRow & { firstMs: number; lastMs: number }>();
    const before = rows.detections.length;
    let detHour = 0;
    let detDay = 0;
    for (let i = 0; i < res.matchCount; i++) {
      const rec = res.matches[i * 3]!;
      const at = res.matches[i * 3 + 1]!;
      const entry = res.matches[i * 3 + 2]!;
      const hl = res.hitlists[i]!;
      const start = dv.getFloat64(rec + F.start, true);
      const end = dv.getFloat64(rec + F.end, true);
      const packets = dv.getFloat64(rec + F.packets, true);
      const bytes = dv.getFloat64(rec + F.bytes, true);
      const rate = dv.getUint32(rec + F.sampling, true);
      let a = word(buf, at);
      let b = word(buf, at + 4);
      let c = word(buf, at + 8);
      let d = word(buf, at + 12);
      const v4 = a === 0 && b === 0 && c === 0xffff;
      if (!v4) {
        a = (a & mask.m0) >>> 0;
        b = (b & mask.m1) >>> 0;
        c = (c & mask.m2) >>> 0;
        d = (d & mask.m3) >>> 0;
      }
      const day = Math.floor(start / DAY_MS);
      const ds = ps.day(day);
      // Side unknown: the end that is not the service is the line; it had no activity mark yet.
      if ((buf[rec + F.side]! & 3) === 0 && ds.active.add(a, b, c, d)) rows.lineDays.push({ day: dayText(day), line: ids.id(a, b, c, d, v4, day), first_seen: ts64(start) });
      const line = ids.id(a, b, c, d, v4, day);
      const hour = Math.floor(start / HOUR_MS) * HOUR_MS;
      const lastMs = end >= start ? end : start;
      for (const dom of hl.entryDomains(entry)) {
        const domain = hl.domainName(dom);
        for (const ci of hl.domainClasses(dom)) {
          const cls = hl.meta.classes[ci]!;
          const key = `${line}\t${cls.id}\t${domain}\t${hour}`;
          let r = agg.get(key);
          if (!r) {
            r = {
              ...pos,
              day: dayText(day),
              hour: ts(hour),
              line,
              class_id: cls.id,
              level: cls.level,
              domain,
              hitlist_day: hl.meta.day,
              flows: 0,
              sampled_packets: 0,
              sampled_bytes: 0,
              est_packets: 0,
              est_bytes: 0,
              unknown_rate_flows: 0,
              first_seen: '',
              last_seen: '',
              firstMs: start,
              lastMs,
            };
            agg.set(key, r);
          }
          r.flows++;
          r.sampled_packets += packets;
          r.sampled_bytes += bytes;
          if (rate > 0) {
            r.est_packets += packets * rate;
            r.est_bytes += bytes * rate;
          } else r.unknown_rate_flows++;
          if (start < r.firstMs) r.firstMs = start;
          if (lastMs > r.lastMs) r.lastMs = lastMs;
          this.engine.add(
            ds,
            { line, classId: cls.id, level: cls.level, domain, at: start, hitlistDay: hl.meta.day, ruleThreshold: ruleThreshold(hl, cls.id) },
            pos,
            rows.detections,
          );
        }
      }
    }
    for (const r of agg.values()) {
      const { firstMs, lastMs, ...row } = r;
      row.first_seen = ts64(firstMs);
      row.last_seen = ts64(lastMs);
      rows.evidence.push(row);
    }
    let implied = 0;
    for (let k = before; k < rows.detections.length; k++) {
      const dr = rows.detections[k]!;
      if (dr.via !== dr.class_id) implied++;
      else if (dr.window === 'hour') detHour++;
      else detDay++;
    }
    for (let s = 0; s < res.slotCount; s++) {
      const q = res.slots[s]!;
      rows.quality.push({
        ...pos,
        day: dayText(q.day),
        exporter: formatAddress(q.exporter),
        version: q.version,
        observation_domain: q.domain,
        records: q.records,
        matched: q.matched,
        unknown_rate: q.unknownRate,
        no_hitlist: q.noHitlist,
        no_side: q.noSide,
        bad_records: q.bad,
        sampling_rates: [...q.rates].sort((x, y) => x - y),
      });
    }
    return { flows: res.records, matched: res.matched, noHitlist: res.noHitlist, unknownRate: res.unknownRate, noSide: res.noSide, bad: res.bad, detHour, detDay, implied };
  }
}
