import { gunzipSync, gzipSync } from 'node:zlib';
import { formatAddress, hash5, parseAddress, word } from '@haystack/common';
/** The detection level a class names (the method's step 5). */
export type ClassKind = 'platform' | 'manufacturer' | 'product';

/**
 * The day's hitlist (docs/method.md, step 6): (address, port, transport) → evidence domains →
 * detection classes, plus the rules (class → level, evidence domains, threshold).
 * Domains and classes are referred to by index into the hitlist's own tables, so the
 * encoded form stays compact; their stable ids are `domains[i].name` and `classes[j].id`.
 */
export const HITLIST_FORMAT = 1;

export type Transport = 'tcp' | 'udp';
export const PROTOCOL: Record<Transport, number> = { tcp: 6, udp: 17 };
export const TRANSPORT_OF: Record<number, Transport> = { 6: 'tcp', 17: 'udp' };

export interface HitlistClass {
  id: string;
  level: ClassKind;
  name: string;
}

export interface HitlistDomain {
  name: string;
  role: 'primary' | 'support' | 'app';
  /** Indices into `classes`: the detectable classes this domain is evidence of. */
  classes: number[];
}

export interface HitlistRule {
  class: number;
  evidence: number[];
  threshold: number;
}

export interface HitlistEntry {
  address: string;
  port: number;
  transport: Transport;
  /** Indices into `domains`. */
  domains: number[];
}

export interface HitlistMeta {
  format: number;
  day: string;
  window: { from: string; to: string; days: number };
  builtAt: string;
  rulesDigest: string;
  classes: HitlistClass[];
  domains: HitlistDomain[];
  rules: HitlistRule[];
}

export interface Hitlist extends HitlistMeta {
  entries: HitlistEntry[];
}

const MAGIC = 0x4c485948; // "HYHL" little-endian

/**
 * Binary form, gzipped: magic u32, format u16, meta length u32, meta JSON (everything but
 * the entries), entry count u32, then per entry: 16 address bytes (IPv4 as ::ffff:a.b.c.d),
 * port u16, protocol u8, domain count u8, domain indices u16 each. Little-endian.
 */
export function encodeHitlist(h: Hitlist): Buffer {
  const { entries, ...meta } = h;
  const metaBuf = Buffer.from(JSON.stringify(meta), 'utf8');
  let size = 4 + 2 + 4 + metaBuf.length + 4;
  for (const e of entries) {
    if (e.domains.length > 255) throw new Error(`hitlist entry ${e.address}:${e.port}/${e.transport} has more than 255 domains`);
    size += 20 + 2 * e.domains.length;
  }
  if (h.domains.length > 0xffff) throw new Error('hitlist has more than 65535 domains');
  const b = Buffer.alloc(size);
  let o = 0;
  o = b.writeUInt32LE(MAGIC, o);
  o = b.writeUInt16LE(h.format, o);
  o = b.writeUInt32LE(metaBuf.length, o);
  o += metaBuf.copy(b, o);
  o = b.writeUInt32LE(entries.length, o);
  for (const e of entries) {
    parseAddress(e.address, b, o);
    o += 16;
    o = b.writeUInt16LE(e.port, o);
    o = b.writeUInt8(PROTOCOL[e.transport], o);
    o = b.writeUInt8(e.domains.length, o);
    for (const d of e.domains) o = b.writeUInt16LE(d, o);
  }
  return gzipSync(b, { level: 6 });
}

export class HitlistFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HitlistFormatError';
  }
}

/**
 * A hitlist loaded for matching flows. Lookups take the 16-byte address straight from a flow
 * batch (IPv4 as IPv4-mapped, see @haystack/common net.ts), the port and the IP protocol
 * number, and allocate nothing: an open-addressing hash table over (address, port, protocol)
 * keys held in typed arrays.
 *
 *   const i = hl.lookup(batchBytes, addrOffset, port, proto);   // -1: not in the hitlist
 *   if (i >= 0) for (const d of hl.entryDomains(i)) hl.domainClasses(d) ... // class indices
 *
 * Ids for output and storage: `hl.domainName(d)`, `hl.classId(c)`.
 */
export class LoadedHitlist {
  readonly meta: HitlistMeta;
  /** Version assigned by the store that published it (0 when loaded from a file). */
  readonly version: number;
  readonly size: number;
  /** Per entry: 4 address words, then (port << 8 | protocol). */
  private readonly keys: Uint32Array;
  private readonly domOff: Uint32Array;
  private readonly domIdx: Uint16Array;
  private readonly table: Int32Array;
  private readonly mask: number;
  private readonly domainClassIdx: readonly Uint16Array[];
  private readonly addressText: (string | undefined)[] = [];

  constructor(meta: HitlistMeta, keys: Uint32Array, domOff: Uint32Array, domIdx: Uint16Array, version = 0) {
    this.meta = meta;
    this.version = version;
    this.keys = keys;
    this.domOff = domOff;
    this.domIdx = domIdx;
    this.size = domOff.length - 1;
    let cap = 16;
    while (cap < this.size * 2) cap <<= 1;
    this.mask = cap - 1;
    this.table = new Int32Array(cap).fill(-1);
    for (let i = 0; i < this.size; i++) {
      const k = i * 5;
      let slot = hash5(keys[k]!, keys[k + 1]!, keys[k + 2]!, keys[k + 3]!, keys[k + 4]!) & this.mask;
      while (this.table[slot] !== -1) slot = (slot + 1) & this.mask;
      this.table[slot] = i;
    }
    this.domainClassIdx = meta.domains.map((d) => Uint16Array.from(d.classes));
  }

  get day(): string {
    return this.meta.day;
  }

  /** Entry index for the address at `buf[off..off+16)`, port and IP protocol, or -1. */
  lookup(buf: Uint8Array, off: number, port: number, protocol: number): number {
    const w0 = word(buf, off);
    const w1 = word(buf, off + 4);
    const w2 = word(buf, off + 8);
    const w3 = word(buf, off + 12);
    const w4 = ((port << 8) | protocol) >>> 0;
    let slot = hash5(w0, w1, w2, w3, w4) & this.mask;
    const keys = this.keys;
    for (;;) {
      const i = this.table[slot]!;
      if (i === -1) return -1;
      const k = i * 5;
      if (keys[k] === w0 && keys[k + 1] === w1 && keys[k + 2] === w2 && keys[k + 3] === w3 && keys[k + 4] === w4) return i;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Domain indices of an entry (a view, not a copy). */
  entryDomains(i: number): Uint16Array {
    return this.domIdx.subarray(this.domOff[i]!, this.domOff[i + 1]!);
  }

  /** Class indices a domain is evidence of. */
  domainClasses(d: number): Uint16Array {
    return this.domainClassIdx[d]!;
  }

  domainName(d: number): string {
    return this.meta.domains[d]!.name;
  }

  classId(c: number): string {
    return this.meta.classes[c]!.id;
  }

  /** Convenience for tools and tests: look up by text. */
  find(address: string, port: number, transport: Transport): { domains: string[]; classes: string[] } | null {
    const i = this.lookup(parseAddress(address), 0, port, PROTOCOL[transport]);
    if (i < 0) return null;
    const doms = [...this.entryDomains(i)];
    const cls = new Set<string>();
    for (const d of doms) for (const c of this.domainClasses(d)) cls.add(this.classId(c));
    return { domains: doms.map((d) => this.domainName(d)), classes: [...cls].sort() };
  }

  /** An entry's address as text, formatted once per entry (the detector names backends per batch). */
  address(i: number): string {
    let t = this.addressText[i];
    if (t === undefined) this.addressText[i] = t = this.entry(i).address;
    return t;
  }

  entry(i: number): HitlistEntry {
    const k = i * 5;
    const addr = new Uint8Array(16);
    for (let w = 0; w < 4; w++) {
      const v = this.keys[k + w]!;
      addr[w * 4] = v >>> 24;
      addr[w * 4 + 1] = (v >>> 16) & 0xff;
      addr[w * 4 + 2] = (v >>> 8) & 0xff;
      addr[w * 4 + 3] = v & 0xff;
    }
    const pp = this.keys[k + 4]!;
    return { address: formatAddress(addr), port: pp >>> 8, transport: TRANSPORT_OF[pp & 0xff]!, domains: [...this.entryDomains(i)] };
  }

  toHitlist(): Hitlist {
    const entries: HitlistEntry[] = [];
    for (let i = 0; i < this.size; i++) entries.push(this.entry(i));
    return { ...this.meta, entries };
  }
}

export function decodeHitlist(blob: Uint8Array, version = 0): LoadedHitlist {
  let b: Buffer;
  try {
    b = gunzipSync(blob);
  } catch (e) {
    throw new HitlistFormatError(`hitlist value is not gzip: ${(e as Error).message}`);
  }
  if (b.length < 14 || b.readUInt32LE(0) !== MAGIC) throw new HitlistFormatError('not a hitlist (bad magic)');
  const format = b.readUInt16LE(4);
  if (format !== HITLIST_FORMAT) throw new HitlistFormatError(`hitlist format ${format} is not supported (expected ${HITLIST_FORMAT})`);
  const metaLen = b.readUInt32LE(6);
  let o = 10;
  if (o + metaLen + 4 > b.length) throw new HitlistFormatError('truncated hitlist');
  const meta = JSON.parse(b.toString('utf8', o, o + metaLen)) as HitlistMeta;
  o += metaLen;
  const n = b.readUInt32LE(o);
  o += 4;
  const keys = new Uint32Array(n * 5);
  const domOff = new Uint32Array(n + 1);
  const idx: number[] = [];
  for (let i = 0; i < n; i++) {
    if (o + 20 > b.length) throw new HitlistFormatError('truncated hitlist entries');
    for (let w = 0; w < 4; w++) keys[i * 5 + w] = b.readUInt32BE(o + w * 4);
    const port = b.readUInt16LE(o + 16);
    const proto = b[o + 18]!;
    const nd = b[o + 19]!;
    keys[i * 5 + 4] = ((port << 8) | proto) >>> 0;
    o += 20;
    if (o + nd * 2 > b.length) throw new HitlistFormatError('truncated hitlist entries');
    for (let j = 0; j < nd; j++) idx.push(b.readUInt16LE(o + j * 2));
    o += nd * 2;
    domOff[i + 1] = idx.length;
  }
  return new LoadedHitlist(meta, keys, domOff, Uint16Array.from(idx), version);
}

/** Build the lookup structure directly from a hitlist object (e.g. read from hitlist.json). */
export function loadHitlist(h: Hitlist, version = 0): LoadedHitlist {
  return decodeHitlist(encodeHitlist(h), version);
}
