// EXPERIMENT, not product code: the change proposed for services/ingest/src/publisher.ts
// (Publisher.add), applied here by replacing the method on the prototype so the benches can
// measure it on the real pipeline without editing files other engineers own.
//
// The profile of `haystack ingest` under load (RESULTS.md) puts about half of the collector's
// JavaScript time in Publisher.add, in two places:
//   1. PrefixSet.match, called twice per record, compares the 16-byte address byte by byte with
//      every configured prefix (an IPv4 address is ::ffff:a.b.c.d, so every IPv4 prefix costs
//      ~13 byte compares before it fails): cost grows with the number of subscriber prefixes.
//   2. Buffer#copy of each 112-byte record into its partition buffer: a call into node:buffer's
//      _copyActual (argument checks plus a new Uint8Array view) per record.
// The replacement keeps the semantics exactly (the bench checks the batches are byte-identical):
//   1. IPv4 records whose addresses are IPv4-mapped are matched as one u32 against
//      (network, mask) pairs derived from the same PrefixSet (a prefix of ≤ 96 bits that covers
//      ::ffff:0:0/96 matches every IPv4 address); anything else takes PrefixSet.contains.
//   2. Records are copied as 28 Int32 words between aligned views (Buffer.alloc'd batch and
//      staging buffers are 8-byte aligned, records sit at multiples of 16); unaligned buffers
//      fall back to Buffer#copy.
import type { PrefixSet } from '@haystack/common';
import { F, HEADER_SIZE, RECORD_SIZE, SIDE_DST, SIDE_SRC, type BatchWriter } from '@haystack/flow-core';
import { Publisher, type PublisherCounters, type PublisherOptions } from '@haystack/ingest';
import { partitionForBytes } from '@haystack/transport';

/**
 * IPv4 view of a PrefixSet, exact for IPv4-mapped addresses. A 65,536-entry table indexed by
 * the address's top 16 bits answers most lookups at once (slot inside a prefix of /16 or
 * shorter: yes; no prefix touches the slot: no); only slots that longer prefixes touch scan
 * the (network, mask) list. Cost no longer grows with the number of prefixes.
 */
export class V4Matcher {
  /** Some prefix covers all of ::ffff:0:0/96. */
  readonly all: boolean;
  readonly nets: Uint32Array;
  readonly masks: Uint32Array;
  /** Per /16: 0 no prefix, 1 scan the list, 2 inside a prefix. */
  readonly table = new Uint8Array(65536);

  constructor(set: PrefixSet) {
    const mapped = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff);
    let all = false;
    const nets: number[] = [];
    const masks: number[] = [];
    for (const p of set.prefixes) {
      const head = Math.min(p.bits, 96);
      let covers = true;
      for (let bit = 0; bit < head; bit++) {
        const i = bit >> 3;
        const m = 0x80 >> (bit & 7);
        if ((mapped[i]! & m) !== (p.bytes[i]! & m)) {
          covers = false;
          break;
        }
      }
      if (!covers) continue;
      if (p.bits <= 96) all = true;
      else {
        const mask = p.bits - 96 === 32 ? 0xffffffff : ~(0xffffffff >>> (p.bits - 96)) >>> 0;
        nets.push(((p.bytes[12]! << 24) | (p.bytes[13]! << 16) | (p.bytes[14]! << 8) | p.bytes[15]!) >>> 0);
        masks.push(mask >>> 0);
      }
    }
    this.all = all;
    this.nets = Uint32Array.from(nets);
    this.masks = Uint32Array.from(masks);
    for (let i = 0; i < nets.length; i++) {
      const first = nets[i]! >>> 16;
      const last = (nets[i]! | ~masks[i]!) >>> 16;
      const whole = (masks[i]! & 0xffff) === 0; // prefix length ≤ 16: the whole slot is inside
      for (let slot = first; slot <= last; slot++) this.table[slot] = whole ? 2 : Math.max(this.table[slot]!, 1);
    }
  }

  contains(a: number): boolean {
    if (this.all) return true;
    const t = this.table[a >>> 16]!;
    if (t !== 1) return t === 2;
    const nets = this.nets;
    const masks = this.masks;
    for (let i = 0; i < nets.length; i++) if (((a & masks[i]!) >>> 0) === nets[i]) return true;
    return false;
  }
}

/**
 * V4Matcher agrees with PrefixSet.contains on `n` random IPv4-mapped addresses and on both ends
 * of every prefix (and one past them). Returns the first disagreement, or null.
 */
export function checkV4Matcher(set: PrefixSet, n = 1_000_000, seed = 1): string | null {
  const m = new V4Matcher(set);
  const buf = new Uint8Array(16);
  buf[10] = 0xff;
  buf[11] = 0xff;
  const probe = (a: number): string | null => {
    a >>>= 0;
    buf[12] = a >>> 24;
    buf[13] = (a >>> 16) & 0xff;
    buf[14] = (a >>> 8) & 0xff;
    buf[15] = a & 0xff;
    const want = set.contains(buf, 0);
    return m.contains(a) === want ? null : `${buf.slice(12).join('.')}: PrefixSet says ${want}`;
  };
  for (let i = 0; i < m.nets.length; i++) {
    const lo = m.nets[i]!;
    const hi = (lo | ~m.masks[i]!) >>> 0;
    for (const a of [lo, hi, lo - 1, hi + 1]) {
      const bad = probe(a);
      if (bad) return bad;
    }
  }
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    // Half the probes inside the configured networks' /16s, half anywhere.
    const a = i & 1 && m.nets.length ? (m.nets[(x >>> 8) % m.nets.length]! & 0xffff0000) | (x & 0xffff) : x;
    const bad = probe(a);
    if (bad) return bad;
  }
  return null;
}

/** The Publisher's private state, as this replacement needs it. */
interface PublisherInternals {
  readonly counters: PublisherCounters;
  readonly opts: PublisherOptions;
  readonly staging: Buffer[];
  readonly counts: Uint32Array;
  readonly keyBytes: number;
  readonly lastMask: number;
  readonly key: Uint8Array;
  emit(p: number): void;
  _v4?: V4Matcher;
  _st32?: (Int32Array | null)[];
}

function isMapped(dv: DataView, off: number): boolean {
  return dv.getUint32(off, true) === 0 && dv.getUint32(off + 4, true) === 0 && dv.getUint32(off + 8, false) === 0x0000ffff;
}

const WORDS = RECORD_SIZE >> 2;

/** Drop-in body for Publisher.prototype.add. */
export function fastAdd(this: PublisherInternals, w: BatchWriter): void {
  const src = w.buf;
  const dv = w.dv;
  const subs = this.opts.subscriberPrefixes;
  const v4m = (this._v4 ??= new V4Matcher(subs));
  const st32 = (this._st32 ??= this.staging.map((b) => ((b.byteOffset & 3) === 0 ? new Int32Array(b.buffer, b.byteOffset, b.length >> 2) : null)));
  const s32 = (src.byteOffset & 3) === 0 ? new Int32Array(src.buffer, src.byteOffset, src.length >> 2) : null;
  const parts = this.staging.length;
  const max = this.opts.maxRecords;
  const counters = this.counters;
  const n = w.count;
  for (let i = 0; i < n; i++) {
    const o = HEADER_SIZE + i * RECORD_SIZE;
    const v4 = src[o + F.ipVersion] === 4;
    let s: boolean;
    let d: boolean;
    if (v4 && isMapped(dv, o + F.src) && isMapped(dv, o + F.dst)) {
      s = v4m.contains(dv.getUint32(o + F.src + 12, false));
      d = v4m.contains(dv.getUint32(o + F.dst + 12, false));
    } else {
      s = subs.contains(src, o + F.src);
      d = subs.contains(src, o + F.dst);
    }
    const side = (s ? SIDE_SRC : 0) | (d ? SIDE_DST : 0);
    src[o + F.side] = side;
    if (side === 0) counters.noSubscriber++;
    else if (side === (SIDE_SRC | SIDE_DST)) counters.bothSubscribers++;
    const at = side === SIDE_DST ? o + F.dst : o + F.src;
    let p: number;
    if (v4) p = partitionForBytes(src, at + 12, 4, parts);
    else {
      const k = this.key;
      const kb = this.keyBytes;
      for (let j = 0; j < kb; j++) k[j] = src[at + j]!;
      k[kb - 1]! &= this.lastMask;
      p = partitionForBytes(k, 0, kb, parts);
    }
    const c = this.counts[p]!;
    const dst32 = st32[p];
    if (s32 && dst32) {
      const a = o >> 2;
      const b = (c * RECORD_SIZE) >> 2;
      for (let k = 0; k < WORDS; k++) dst32[b + k] = s32[a + k]!;
    } else src.copy(this.staging[p]!, c * RECORD_SIZE, o, o + RECORD_SIZE);
    this.counts[p] = c + 1;
    if (c + 1 === max) this.emit(p);
  }
  counters.records += n;
  w.reset();
}

const original = Publisher.prototype.add;

/** Replace Publisher.prototype.add process-wide (every Publisher, including the CLI's). */
export function applyPublisherFix(): void {
  (Publisher.prototype as unknown as { add: typeof fastAdd }).add = fastAdd;
}

export function removePublisherFix(): void {
  Publisher.prototype.add = original;
}

/** Use the replacement on one instance only. */
export function patchInstance(p: Publisher): void {
  (p as unknown as { add: (w: BatchWriter) => void }).add = fastAdd.bind(p as unknown as PublisherInternals);
}
