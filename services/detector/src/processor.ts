import { formatAddress } from '@haystack/common';
import { F, type BatchView } from '@haystack/flow-core';
import type { LoadedHitlist } from '@haystack/hitlist-contract';
import { type LineMask } from './line-sets.js';
import { DAY_MS, dayText, type DetectorRows, HOUR_MS, type LineIds, ts, ts64 } from '@haystack/store';
import { LINE_STRIDE, Matcher, ScanResult, type HitlistByDay } from './matcher.js';
import { DetectionEngine, ruleThreshold, type PartitionState, type Position } from './rules.js';
import type { Attributor } from '@haystack/ixp';

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
  /** The batch's matched flows toward their backends (where the IoT data goes). */
  private readonly bt = new BackendScratch();
  private readonly days = new Map<number, string>();
  private readonly hours = new Map<number, string>();

  /**
   * IXP deployment: units attributed on a day already, so a unit is attributed once a day. By day
   * then line, not a `day|line` key: a million concatenated keys held 66 MB of rope nodes, the
   * nested sets 10 MB (the line strings are shared either way).
   */
  private readonly attributed = new Map<number, Set<string>>();
  private attributedUnits = 0;

  constructor(
    hitlists: HitlistByDay,
    private readonly mask: LineMask,
    private readonly lineIds: LineIds,
    private readonly engine: DetectionEngine,
    /** IXP deployment: ties each unit to the member network it sits behind. */
    private readonly attributor: Attributor | null = null,
  ) {
    this.matcher = new Matcher(hitlists, mask, attributor !== null);
  }

  /** Day and hour texts, formatted once each (Date formatting costs a microsecond). */
  private dayText(d: number): string {
    let t = this.days.get(d);
    if (t === undefined) {
      if (this.days.size > 64) this.days.clear();
      this.days.set(d, (t = dayText(d)));
    }
    return t;
  }

  private hourText(h: number): string {
    let t = this.hours.get(h);
    if (t === undefined) {
      if (this.hours.size > 24 * 64) this.hours.clear();
      this.hours.set(h, (t = ts(h)));
    }
    return t;
  }

  /**
   * IXP: the member the unit sits behind, from this flow (router MAC, then AS, then route table),
   * once per unit and day; what cannot be attributed is stored as member 0, 'none' (counted).
   */
  private attribute(buf: Uint8Array, dv: DataView, rec: number, unitIsSrc: boolean, day: number, line: string, start: number, rows: DetectorRows): void {
    let units = this.attributed.get(day);
    if (units?.has(line)) return;
    const a = this.attributor!.attribute(buf, dv, rec, unitIsSrc);
    // Once per unit and day (per detector process): its first flow decides, counted once.
    if (this.attributedUnits >= 1_000_000) {
      this.attributed.clear();
      this.attributedUnits = 0;
      units = undefined;
    }
    if (!units) this.attributed.set(day, (units = new Set()));
    units.add(line);
    this.attributedUnits++;
    rows.ixpUnits.push({
      day: this.dayText(day),
      line,
      member_asn: a ? a.member.asn : 0,
      member_name: a ? a.member.name : '',
      via: a ? a.via : 'none',
      first_seen: ts64(start),
    });
  }

  /**
   * One row per (day, line, address) from the batch's matched flows, an address's entries
   * (ports) summed (where the IoT data goes; the classes an address serves are the hitlist's,
   * joined at report time). Apart from process() so the per-flow loop stays small; the work here
   * is per matched flow, never per flow.
   */
  private backendRows(lineOf: string[], pos: Position, rows: DetectorRows): void {
    const bt = this.bt;
    type Row = DetectorRows['backendTraffic'][number];
    // By (day, line number) first (a number: no string built per flow), then by address.
    const byLine = new Map<number, Map<string, Row>>();
    for (let k = 0; k < bt.n; k++) {
      const hl = bt.hl[k]!;
      const day = bt.day[k]!;
      const lk = day * 1048576 + bt.line[k]!;
      let byAddr = byLine.get(lk);
      if (!byAddr) byLine.set(lk, (byAddr = new Map()));
      const address = hl.address(bt.entry[k]!);
      let r = byAddr.get(address);
      if (!r) {
        r = {
          source: pos.source,
          src_partition: pos.src_partition,
          src_offset: pos.src_offset,
          day: this.dayText(day),
          line: lineOf[bt.line[k]!]!,
          backend: address.includes(':') ? address : `::ffff:${address}`,
          hitlist_day: hl.meta.day,
          flows: 0,
          est_packets: 0,
          est_bytes: 0,
          unknown_rate_flows: 0,
        };
        byAddr.set(address, r);
        rows.backendTraffic.push(r);
      }
      r.flows++;
      r.est_packets += bt.packets[k]!;
      r.est_bytes += bt.bytes[k]!;
      r.unknown_rate_flows += bt.unknown[k]!;
    }
    bt.hl.fill(null, 0, bt.n);
  }

  process(view: BatchView, ps: PartitionState, pos: Position, rows: DetectorRows): ProcessResult {
    const res = this.matcher.scan(view, ps, this.scratch);
    const ids = this.lineIds;
    const nl = res.newLines;
    for (let i = 0; i < res.newLineCount; i++) {
      const o = i * LINE_STRIDE;
      const day = nl[o + 5]!;
      const line = ps.day(day).lineId(ids, nl[o]!, nl[o + 1]!, nl[o + 2]!, nl[o + 3]!, nl[o + 4] === 1);
      rows.lineDays.push({ day: this.dayText(day), line, first_seen: ts64(nl[o + 6]!) });
      // IXP: every active host gets its member (the share of IoT hosts per member needs the active ones).
      if (this.attributor) this.attribute(view.buf, view.dv, nl[o + 7]!, nl[o + 8] === 1, day, line, nl[o + 6]!, rows);
    }

    const buf = view.buf;
    const dv = view.dv;
    const mask = this.mask;
    // Evidence per (hour, line, domain, class): numeric keys within an hour (line numbered per
    // batch, domain and class as indices of that day's hitlist), no string built per flow.
    const agg = new Map<number, Map<number, EvidenceAgg>>();
    this.bt.n = 0;
    const lineNo = new Map<string, number>();
    const lineOf: string[] = [];
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
      let a = dv.getUint32(at);
      let b = dv.getUint32(at + 4);
      let c = dv.getUint32(at + 8);
      let d = dv.getUint32(at + 12);
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
      const isNew = (buf[rec + F.side]! & 3) === 0 && (v4 ? ds.active4.add(d) : ds.active.add(a, b, c, d));
      const line = ds.lineId(ids, a, b, c, d, v4);
      if (isNew) rows.lineDays.push({ day: this.dayText(day), line, first_seen: ts64(start) });
      if (this.attributor) this.attribute(buf, dv, rec, at === rec + F.src, day, line, start, rows);
      const hour = Math.floor(start / HOUR_MS) * HOUR_MS;
      const lastMs = end >= start ? end : start;
      let ln = lineNo.get(line);
      if (ln === undefined) {
        lineNo.set(line, (ln = lineNo.size));
        lineOf.push(line);
      }
      // The flow's traffic to its backend, kept in typed scratch arrays (no object per flow);
      // summed per (day, line, address) once per batch in backendRows().
      const bt = this.bt;
      const k = bt.n++;
      if (k === bt.day.length) bt.grow();
      bt.day[k] = day;
      bt.line[k] = ln;
      bt.entry[k] = entry;
      bt.hl[k] = hl;
      if (rate > 0) {
        bt.packets[k] = packets * rate;
        bt.bytes[k] = bytes * rate;
        bt.unknown[k] = 0;
      } else {
        bt.packets[k] = 0;
        bt.bytes[k] = 0;
        bt.unknown[k] = 1;
      }
      let inHour = agg.get(hour);
      if (!inHour) agg.set(hour, (inHour = new Map()));
      const doms = hl.entryDomains(entry);
      for (let di = 0; di < doms.length; di++) {
        const dom = doms[di]!;
        const domain = hl.domainName(dom);
        const classes = hl.domainClasses(dom);
        for (let k = 0; k < classes.length; k++) {
          const ci = classes[k]!;
          const cls = hl.meta.classes[ci]!;
          // < 2^53: line numbers < 2^20 per batch, domain and class indices < 2^16.
          const key = (ln * 65536 + dom) * 65536 + ci;
          let r = inHour.get(key);
          if (!r) {
            r = new EvidenceAgg(day, hour, line, cls.id, cls.level, domain, hl.meta.day, start, lastMs);
            inHour.set(key, r);
          }
          r.flows++;
          r.packets += packets;
          r.bytes += bytes;
          if (rate > 0) {
            r.estPackets += packets * rate;
            r.estBytes += bytes * rate;
          } else r.unknownRate++;
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
    for (const inHour of agg.values())
      for (const r of inHour.values()) {
        rows.evidence.push({
          source: pos.source,
          src_partition: pos.src_partition,
          src_offset: pos.src_offset,
          day: this.dayText(r.day),
          hour: this.hourText(r.hour),
          line: r.line,
          class_id: r.classId,
          level: r.level,
          domain: r.domain,
          hitlist_day: r.hitlistDay,
          flows: r.flows,
          sampled_packets: r.packets,
          sampled_bytes: r.bytes,
          est_packets: r.estPackets,
          est_bytes: r.estBytes,
          unknown_rate_flows: r.unknownRate,
          first_seen: ts64(r.firstMs),
          last_seen: ts64(r.lastMs),
        });
      }
    if (this.bt.n > 0) this.backendRows(lineOf, pos, rows);
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
        src_offset_last: pos.src_offset,
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
    return {
      flows: res.records,
      matched: res.matched,
      noHitlist: res.noHitlist,
      unknownRate: res.unknownRate,
      noSide: res.noSide,
      bad: res.bad,
      detHour,
      detDay,
      implied,
    };
  }
}

/** A batch's matched flows as (day, line, entry, renormalised packets and bytes): typed arrays reused per batch. */
class BackendScratch {
  n = 0;
  day = new Int32Array(1024);
  line = new Int32Array(1024);
  entry = new Int32Array(1024);
  packets = new Float64Array(1024);
  bytes = new Float64Array(1024);
  unknown = new Uint8Array(1024);
  hl: (LoadedHitlist | null)[] = new Array<LoadedHitlist | null>(1024).fill(null);

  grow(): void {
    const n = this.day.length * 2;
    const g = <T extends Int32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.day = g(this.day, (k) => new Int32Array(k));
    this.line = g(this.line, (k) => new Int32Array(k));
    this.entry = g(this.entry, (k) => new Int32Array(k));
    this.packets = g(this.packets, (k) => new Float64Array(k));
    this.bytes = g(this.bytes, (k) => new Float64Array(k));
    this.unknown = g(this.unknown, (k) => new Uint8Array(k));
    for (let i = this.hl.length; i < n; i++) this.hl.push(null);
  }
}

/** A batch's evidence for one (line, class, domain, hour) while it is summed (a fixed shape: fast property access). */
class EvidenceAgg {
  flows = 0;
  packets = 0;
  bytes = 0;
  estPackets = 0;
  estBytes = 0;
  unknownRate = 0;
  constructor(
    readonly day: number,
    readonly hour: number,
    readonly line: string,
    readonly classId: string,
    readonly level: string,
    readonly domain: string,
    readonly hitlistDay: string,
    public firstMs: number,
    public lastMs: number,
  ) {}
}
