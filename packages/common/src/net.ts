import { isIP } from 'node:net';
import IPCIDR from 'ip-cidr';

/**
 * Addresses everywhere in Haystack are 16 bytes: IPv6 as is, IPv4 as IPv4-mapped
 * (::ffff:a.b.c.d), so one column and one comparison serve both families.
 */
export const V4_MAPPED_PREFIX = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff);

export function isV4Mapped(b: Uint8Array, off = 0): boolean {
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) return false;
  return b[off + 10] === 0xff && b[off + 11] === 0xff;
}

/** Parse an IPv4 or IPv6 literal into 16 bytes written at `out[off..off+16)`. Throws on bad input. */
export function parseAddress(text: string, out: Uint8Array = new Uint8Array(16), off = 0): Uint8Array {
  const fam = isIP(text);
  if (fam === 4) {
    out.set(V4_MAPPED_PREFIX, off);
    const parts = text.split('.');
    for (let i = 0; i < 4; i++) out[off + 12 + i] = Number(parts[i]);
    return out;
  }
  if (fam !== 6) throw new Error(`not an IP address: ${JSON.stringify(text)}`);
  let s = text;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  // Embedded dotted quad at the end (::ffff:1.2.3.4).
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) > 0) {
    const q = s
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    tail = [(q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!];
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups: number[] = [];
  for (const g of h) groups.push(parseInt(g, 16));
  if (rest !== undefined) for (let i = h.length + r.length; i < 8; i++) groups.push(0);
  for (const g of r) groups.push(parseInt(g, 16));
  if (tail.length) {
    groups[6] = tail[0]!;
    groups[7] = tail[1]!;
  }
  for (let i = 0; i < 8; i++) {
    out[off + 2 * i] = (groups[i]! >> 8) & 0xff;
    out[off + 2 * i + 1] = groups[i]! & 0xff;
  }
  return out;
}

/** Format 16 address bytes: dotted quad for IPv4-mapped, RFC 5952 text for IPv6. */
export function formatAddress(b: Uint8Array, off = 0): string {
  if (isV4Mapped(b, off)) return `${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  // Longest run of zero groups (length >= 2) becomes "::".
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export interface Prefix {
  /** 16 bytes, host bits zeroed. */
  readonly bytes: Uint8Array;
  /** Prefix length in the 128-bit space (an IPv4 /24 is 120). */
  readonly bits: number;
  readonly text: string;
}

/** Parse "a.b.c.d/n", "x::/n" or a bare address (a host prefix). Validated with ip-cidr. */
export function parsePrefix(text: string): Prefix {
  const t = text.trim();
  const cidrText = t.includes('/') ? t : `${t}/${isIP(t) === 4 ? 32 : 128}`;
  if (!IPCIDR.isValidCIDR(cidrText)) throw new Error(`not a valid CIDR prefix: ${JSON.stringify(text)}`);
  const cidr = new IPCIDR(cidrText);
  const [addr, lenText] = cidrText.split('/') as [string, string];
  const v4 = isIP(addr) === 4;
  const bits = Number(lenText) + (v4 ? 96 : 0);
  const bytes = parseAddress(cidr.start<string>());
  return { bytes: maskBytes(bytes, bits), bits, text: cidrText };
}

function maskBytes(b: Uint8Array, bits: number): Uint8Array {
  const out = Uint8Array.from(b);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i]! &= keep === 8 ? 0xff : (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

/**
 * A set of prefixes matched against 16-byte addresses in a buffer, without allocating.
 * Longest match wins. Linear in the number of prefixes: operators configure tens, not thousands.
 */
export class PrefixSet {
  readonly prefixes: readonly Prefix[];
  private readonly flat: Uint8Array;
  private readonly bits: Int32Array;
  // IPv4 fast path (the per-record case at ingest): a prefix covering all of ::ffff:0:0/96,
  // or a 65,536-entry table by the top 16 bits (0 none, 1 scan the (net, mask) list, 2 inside),
  // so the cost does not grow with the number of prefixes.
  private readonly v4All: boolean;
  private readonly v4Nets: Uint32Array;
  private readonly v4Masks: Uint32Array;
  private readonly v4Table = new Uint8Array(65536);

  constructor(prefixes: Iterable<string | Prefix>) {
    const list = [...prefixes].map((p) => (typeof p === 'string' ? parsePrefix(p) : p));
    list.sort((a, b) => b.bits - a.bits);
    this.prefixes = list;
    this.flat = new Uint8Array(list.length * 16);
    this.bits = new Int32Array(list.length);
    list.forEach((p, i) => {
      this.flat.set(p.bytes, i * 16);
      this.bits[i] = p.bits;
    });
    let all = false;
    const nets: number[] = [];
    const masks: number[] = [];
    for (const p of list) {
      // Does the prefix's first min(bits, 96) bits agree with ::ffff:0:0/96?
      let covers = true;
      for (let bit = 0; bit < Math.min(p.bits, 96) && covers; bit++) {
        const m = 0x80 >> (bit & 7);
        if ((V4_MAPPED_PREFIX[bit >> 3]! & m) !== (p.bytes[bit >> 3]! & m)) covers = false;
      }
      if (!covers) continue;
      if (p.bits <= 96) all = true;
      else {
        const len = p.bits - 96;
        nets.push(((p.bytes[12]! << 24) | (p.bytes[13]! << 16) | (p.bytes[14]! << 8) | p.bytes[15]!) >>> 0);
        masks.push(len === 32 ? 0xffffffff : ~(0xffffffff >>> len) >>> 0);
      }
    }
    this.v4All = all;
    this.v4Nets = Uint32Array.from(nets);
    this.v4Masks = Uint32Array.from(masks);
    for (let i = 0; i < nets.length; i++) {
      const whole = (masks[i]! & 0xffff) === 0; // a /16 or shorter covers its whole slots
      for (let slot = nets[i]! >>> 16, last = (nets[i]! | ~masks[i]!) >>> 16; slot <= last; slot++)
        this.v4Table[slot] = whole ? 2 : Math.max(this.v4Table[slot]!, 1);
    }
  }

  /** Is the IPv4 address (as an unsigned 32-bit number) inside any prefix? */
  containsV4(a: number): boolean {
    if (this.v4All) return true;
    const t = this.v4Table[a >>> 16]!;
    if (t !== 1) return t === 2;
    const nets = this.v4Nets;
    const masks = this.v4Masks;
    for (let i = 0; i < nets.length; i++) if ((a & masks[i]!) >>> 0 === nets[i]) return true;
    return false;
  }

  get size(): number {
    return this.prefixes.length;
  }

  /** Index of the longest prefix containing the address at `buf[off..off+16)`, or -1. */
  match(buf: Uint8Array, off = 0): number {
    const n = this.bits.length;
    outer: for (let p = 0; p < n; p++) {
      const bits = this.bits[p]!;
      const base = p * 16;
      const full = bits >> 3;
      for (let i = 0; i < full; i++) if (buf[off + i] !== this.flat[base + i]) continue outer;
      const rem = bits & 7;
      if (rem) {
        const mask = (0xff << (8 - rem)) & 0xff;
        if ((buf[off + full]! & mask) !== this.flat[base + full]) continue outer;
      }
      return p;
    }
    return -1;
  }

  contains(buf: Uint8Array, off = 0): boolean {
    if (buf[off + 10] === 0xff && buf[off + 11] === 0xff && isV4Mapped(buf, off))
      return this.containsV4(((buf[off + 12]! << 24) | (buf[off + 13]! << 16) | (buf[off + 14]! << 8) | buf[off + 15]!) >>> 0);
    return this.match(buf, off) >= 0;
  }

  containsText(addr: string): boolean {
    return this.match(parseAddress(addr)) >= 0;
  }
}
