import { F, HEADER_SIZE, RECORD_SIZE, type BatchView } from '@haystack/flow-core';
import type { LoadedHitlist } from '@haystack/hitlist-contract';
import { parseAddress } from '@haystack/common';
import { KeySet, V4Set, type LineMask, word } from './line-sets.js';
import { DAY_MS } from '@haystack/store';

/**
 * A one-hash bit filter in front of the hitlist: bit h(last address word, port, protocol) is
 * set for every entry. Most flows go to services not in the hitlist; for them one read of a
 * small bit array (≈16 bits per entry: 128 KiB for 50k entries, in cache) replaces the full
 * lookup, and the ~6 % that pass the filter take the exact lookup. Built once per loaded
 * hitlist.
 */
export class HitlistFilter {
  readonly bits: Int32Array;
  readonly shift: number;

  constructor(hl: LoadedHitlist) {
    let k = 16;
    while (k < 26 && 1 << k < hl.size * 16) k++;
    this.bits = new Int32Array(1 << (k - 5));
    this.shift = 32 - k;
    const addr = new Uint8Array(16);
    for (let i = 0; i < hl.size; i++) {
      const e = hl.entry(i);
      parseAddress(e.address, addr);
      const h = filterHash(word(addr, 12), e.port, e.transport === 'tcp' ? 6 : 17) >>> this.shift;
      this.bits[h >>> 5]! |= 1 << (h & 31);
    }
  }

  static of(hl: LoadedHitlist): HitlistFilter {
    let f = filters.get(hl);
    if (!f) filters.set(hl, (f = new HitlistFilter(hl)));
    return f;
  }
}

const filters = new WeakMap<LoadedHitlist, HitlistFilter>();

function filterHash(lastWord: number, port: number, proto: number): number {
  return Math.imul(lastWord ^ Math.imul((port << 8) | proto, 0x85ebca6b), 0x9e3779b1) >>> 0;
}

/** Hitlist by UTC day number (HitlistSet after ensure()). */
export interface HitlistByDay {
  get(day: number): LoadedHitlist | null;
}

/** Per-day sets of lines already seen (the caller's partition state): IPv4 lines and other lines apart. */
export interface ActiveLines {
  activeSet(day: number): KeySet;
  activeV4(day: number): V4Set;
}

/** Flow starts outside [1970-01-02, 2200) are not real times (unset or garbage). */
const MIN_START = DAY_MS;
const MAX_START = 7_258_118_400_000;

/** The UTC days of a batch's valid flow start times (usually one or two). */
export function batchDays(v: BatchView, out: number[] = []): number[] {
  out.length = 0;
  const dv = v.dv;
  let last = NaN;
  for (let i = 0; i < v.count; i++) {
    const s = dv.getFloat64(HEADER_SIZE + i * RECORD_SIZE + F.start, true);
    if (!(s >= MIN_START && s < MAX_START)) continue;
    const d = Math.floor(s / DAY_MS);
    if (d === last) continue;
    last = d;
    if (!out.includes(d)) out.push(d);
  }
  return out;
}

/**
 * Quality tallies per (exporter, export version, observation domain, flow day) of one batch.
 * Few per batch (one exporter usually), so a short array scanned linearly.
 */
export class QualitySlot {
  readonly exporter = new Uint8Array(16);
  /** The exporter as 4 big-endian words, for the per-record comparison. */
  e0 = 0;
  e1 = 0;
  e2 = 0;
  e3 = 0;
  version = 0;
  domain = 0;
  day = 0;
  records = 0;
  matched = 0;
  unknownRate = 0;
  noHitlist = 0;
  noSide = 0;
  bad = 0;
  readonly rates: number[] = [];
  lastRate = -1;
}

/**
 * What scanning one batch found. Reused from batch to batch (one scan at a time: the scan is
 * synchronous), so the hot loop allocates nothing once the arrays have grown.
 */
/** Slots per new line in ScanResult.newLines. */
export const LINE_STRIDE = 9;

export class ScanResult {
  records = 0;
  matched = 0;
  noHitlist = 0;
  unknownRate = 0;
  noSide = 0;
  bad = 0;
  /** Matches: record offset, subscriber address offset, hitlist entry index; the hitlist used in `hitlists`. */
  matches = new Int32Array(3 * 256);
  matchCount = 0;
  readonly hitlists: (LoadedHitlist | null)[] = [];
  /** New lines of the day: 4 key words, IPv4 flag, day number, first start (ms), record offset, 1 if the line is the record's source. */
  newLines = new Float64Array(LINE_STRIDE * 256);
  newLineCount = 0;
  readonly slots: QualitySlot[] = [];
  slotCount = 0;

  reset(): void {
    this.records = this.matched = this.noHitlist = this.unknownRate = this.noSide = this.bad = 0;
    this.matchCount = 0;
    this.newLineCount = 0;
    this.slotCount = 0;
    this.hitlists.length = 0;
  }

  addMatch(rec: number, lineAt: number, entry: number, hl: LoadedHitlist): void {
    const i = this.matchCount * 3;
    if (i + 3 > this.matches.length) {
      const m = new Int32Array(this.matches.length * 2);
      m.set(this.matches);
      this.matches = m;
    }
    this.matches[i] = rec;
    this.matches[i + 1] = lineAt;
    this.matches[i + 2] = entry;
    this.hitlists[this.matchCount] = hl;
    this.matchCount++;
  }

  addLine(a: number, b: number, c: number, d: number, v4: boolean, day: number, start: number, rec = 0, isSrc = true): void {
    const i = this.newLineCount * LINE_STRIDE;
    if (i + LINE_STRIDE > this.newLines.length) {
      const m = new Float64Array(this.newLines.length * 2);
      m.set(this.newLines);
      this.newLines = m;
    }
    const n = this.newLines;
    n[i] = a;
    n[i + 1] = b;
    n[i + 2] = c;
    n[i + 3] = d;
    n[i + 4] = v4 ? 1 : 0;
    n[i + 5] = day;
    n[i + 6] = start;
    n[i + 7] = rec;
    n[i + 8] = isSrc ? 1 : 0;
    this.newLineCount++;
  }

  slot(buf: Uint8Array, exp: number, version: number, domain: number, day: number): QualitySlot {
    for (let s = this.slotCount - 1; s >= 0; s--) {
      const q = this.slots[s]!;
      if (q.day !== day || q.version !== version || q.domain !== domain) continue;
      const e = q.exporter;
      let same = true;
      for (let j = 15; j >= 0; j--) {
        if (e[j] !== buf[exp + j]) {
          same = false;
          break;
        }
      }
      if (same) return q;
    }
    let q = this.slots[this.slotCount];
    if (!q) this.slots.push((q = new QualitySlot()));
    this.slotCount++;
    q.exporter.set(buf.subarray(exp, exp + 16));
    q.e0 = word(buf, exp);
    q.e1 = word(buf, exp + 4);
    q.e2 = word(buf, exp + 8);
    q.e3 = word(buf, exp + 12);
    q.version = version;
    q.domain = domain;
    q.day = day;
    q.records = q.matched = q.unknownRate = q.noHitlist = q.noSide = q.bad = 0;
    q.rates.length = 0;
    q.lastRate = -1;
    return q;
  }
}

/**
 * The per-flow hot path: for each record of a batch, the line(s) it belongs to (marked active
 * for the day), the hitlist of the flow's own day (its start time's UTC day), and a lookup of
 * the non-subscriber end only, with that end's port and the protocol (subscriber side flag:
 * bit 0 source, bit 1 destination; side 0 = unknown: both ends are looked up, the other end
 * being the line; both bits = both ends are subscribers: nothing to look up). Works on the
 * batch bytes; allocates nothing per record.
 */
export class Matcher {
  constructor(
    private readonly hitlists: HitlistByDay,
    private readonly mask: LineMask,
    /**
     * IXP: no subscriber side, but every flow's client end (the higher, ephemeral port) is an
     * active host of the day, so a member's IoT hosts can be read against its active ones.
     */
    private readonly ixp = false,
  ) {}

  scan(v: BatchView, lines: ActiveLines, out: ScanResult): ScanResult {
    out.reset();
    const buf = v.buf;
    const dv = v.dv;
    const n = v.count;
    const mask = this.mask;
    const badDay = Math.floor((v.createdMs >= MIN_START && v.createdMs < MAX_START ? v.createdMs : Date.now()) / DAY_MS);
    let curDay = NaN;
    let hl: LoadedHitlist | null = null;
    let fbits: Int32Array | null = null;
    let fshift = 0;
    let active: KeySet | null = null;
    let active4: V4Set | null = null;
    let q: QualitySlot | null = null;
    let matched = 0;
    let noHitlist = 0;
    let unknownRate = 0;
    let noSide = 0;
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const o = HEADER_SIZE + i * RECORD_SIZE;
      const start = dv.getFloat64(o + F.start, true);
      const version = buf[o + F.version]!;
      const domain = dv.getUint32(o + F.domain, true);
      if (!(start >= MIN_START && start < MAX_START)) {
        // No usable time, so no window: counted against the batch's creation day.
        bad++;
        const bq = out.slot(buf, o + F.exporter, version, domain, badDay);
        bq.records++;
        bq.bad++;
        q = null;
        continue;
      }
      const day = Math.floor(start / DAY_MS);
      if (day !== curDay) {
        curDay = day;
        hl = this.hitlists.get(day);
        if (hl) {
          const f = HitlistFilter.of(hl);
          fbits = f.bits;
          fshift = f.shift;
        }
        active = lines.activeSet(day);
        active4 = lines.activeV4(day);
        q = null;
      }
      // Quality slot: the previous record's unless exporter/version/domain differ.
      const ex = o + F.exporter;
      if (
        q === null ||
        q.version !== version ||
        q.domain !== domain ||
        q.e3 !== dv.getUint32(ex + 12) ||
        q.e2 !== dv.getUint32(ex + 8) ||
        q.e1 !== dv.getUint32(ex + 4) ||
        q.e0 !== dv.getUint32(ex)
      )
        q = out.slot(buf, ex, version, domain, day);
      q.records++;
      const rate = dv.getUint32(o + F.sampling, true);
      if (rate !== q.lastRate) {
        q.lastRate = rate;
        if (!q.rates.includes(rate)) q.rates.push(rate);
      }
      if (rate === 0) {
        unknownRate++;
        q.unknownRate++;
      }
      const side = buf[o + F.side]! & 3;
      const proto = buf[o + F.proto]!;

      // Active lines: the subscriber end(s); at an IXP, the client end.
      let ends = side;
      if (side === 0) {
        noSide++;
        q.noSide++;
        if (this.ixp) ends = dv.getUint16(o + F.dstPort, true) > dv.getUint16(o + F.srcPort, true) ? 2 : 1;
      }
      if (ends !== 0) {
        for (let s = 1; s <= 2; s++) {
          if ((ends & s) === 0) continue;
          const at = o + (s === 1 ? F.src : F.dst);
          // Big-endian words (DataView reads compile to single loads).
          const c = dv.getUint32(at + 8);
          const d = dv.getUint32(at + 12);
          if (c === 0xffff && dv.getUint32(at) === 0 && dv.getUint32(at + 4) === 0) {
            if (active4!.add(d)) out.addLine(0, 0, 0xffff, d, true, day, start, o, s === 1);
            continue;
          }
          const a = (dv.getUint32(at) & mask.m0) >>> 0;
          const b = (dv.getUint32(at + 4) & mask.m1) >>> 0;
          const mc = (c & mask.m2) >>> 0;
          const md = (d & mask.m3) >>> 0;
          if (active!.add(a, b, mc, md)) out.addLine(a, b, mc, md, false, day, start, o, s === 1);
        }
      }

      if (hl === null) {
        noHitlist++;
        q.noHitlist++;
        continue;
      }
      let hit = false;
      const bits = fbits!;
      if (side === 1 || side === 0) {
        const port = dv.getUint16(o + F.dstPort, true);
        const h = filterHash(dv.getUint32(o + F.dst + 12), port, proto) >>> fshift;
        if ((bits[h >>> 5]! & (1 << (h & 31))) !== 0) {
          const e = hl.lookup(buf, o + F.dst, port, proto);
          if (e >= 0) {
            out.addMatch(o, o + F.src, e, hl);
            hit = true;
          }
        }
      }
      if (side === 2 || side === 0) {
        const port = dv.getUint16(o + F.srcPort, true);
        const h = filterHash(dv.getUint32(o + F.src + 12), port, proto) >>> fshift;
        if ((bits[h >>> 5]! & (1 << (h & 31))) !== 0) {
          const e = hl.lookup(buf, o + F.src, port, proto);
          if (e >= 0) {
            out.addMatch(o, o + F.dst, e, hl);
            hit = true;
          }
        }
      }
      if (hit) {
        matched++;
        q.matched++;
      }
    }
    out.records = n;
    out.matched = matched;
    out.noHitlist = noHitlist;
    out.unknownRate = unknownRate;
    out.noSide = noSide;
    out.bad = bad;
    return out;
  }
}
