import { formatAddress, parseAddress, PrefixSet } from '@haystack/common';
import type { Rng } from './rng.js';

/** IPv4 addresses are plain unsigned 32-bit numbers inside the simulator. */
export function v4ToText(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

export function v4FromText(t: string): number {
  const p = t.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export interface V4Prefix {
  base: number;
  bits: number;
  size: number;
}

export function v4Prefix(text: string): V4Prefix {
  const [a, b] = text.split('/');
  const bits = Number(b);
  if (!a || !Number.isInteger(bits) || bits < 8 || bits > 30 || a.includes(':')) throw new Error(`not an IPv4 prefix between /8 and /30: ${text}`);
  const size = 2 ** (32 - bits);
  const base = v4FromText(a);
  if (base % size !== 0) throw new Error(`prefix ${text} has host bits set`);
  return { base, bits, size };
}

/**
 * Every IPv6 address the simulator uses (device addresses inside line prefixes, service
 * addresses) lives in one byte table; records refer to them by index, so a flow record stays
 * a handful of numbers.
 */
export class V6Table {
  bytes = new Uint8Array(16 * 1024);
  count = 0;
  private readonly byText = new Map<string, number>();

  add(addr: Uint8Array): number {
    if ((this.count + 1) * 16 > this.bytes.length) {
      const next = new Uint8Array(this.bytes.length * 2);
      next.set(this.bytes);
      this.bytes = next;
    }
    this.bytes.set(addr.subarray(0, 16), this.count * 16);
    return this.count++;
  }

  /** Service addresses are few and reused: keep one index per text. */
  intern(text: string): number {
    let i = this.byText.get(text);
    if (i === undefined) {
      i = this.add(parseAddress(text));
      this.byText.set(text, i);
    }
    return i;
  }

  text(i: number): string {
    return formatAddress(this.bytes, i * 16);
  }
}

/** Address pools for services: random addresses inside realistic ranges, never twice. */
export class AddressSpace {
  private readonly used4 = new Set<number>();
  private readonly used6 = new Set<string>();
  private readonly forbidden: PrefixSet;

  /** `forbidden`: the subscriber prefixes (and anything else services must stay out of). */
  constructor(forbidden: readonly string[]) {
    this.forbidden = new PrefixSet(forbidden);
  }

  private clash(text: string): boolean {
    return this.forbidden.match(parseAddress(text)) >= 0;
  }

  /** A fresh IPv4 address in `prefix` (text), avoiding .0/.255 and subscriber space. */
  v4(r: Rng, prefix: string): number {
    const p = v4Prefix(prefix);
    for (let tries = 0; tries < 10_000; tries++) {
      const a = (p.base + r.int(p.size)) >>> 0;
      const last = a & 255;
      if (last === 0 || last === 255 || this.used4.has(a)) continue;
      if (this.clash(v4ToText(a))) throw new Error(`service range ${prefix} overlaps the subscriber prefixes`);
      this.used4.add(a);
      return a;
    }
    throw new Error(`address pool ${prefix} exhausted`);
  }

  /** Mark an address as taken (e.g. handed back by churn and reused deliberately). */
  reserve4(a: number): void {
    this.used4.add(a);
  }

  /** A fresh IPv6 address inside a /32 given as its first two groups ("2a05:d014"). */
  v6(r: Rng, head: string): string {
    for (;;) {
      const g = Array.from({ length: 6 }, () => r.int(0x10000).toString(16));
      const t = formatAddress(parseAddress(`${head}:${g.join(':')}`));
      if (this.used6.has(t)) continue;
      if (this.clash(t)) throw new Error(`service range ${head}::/32 overlaps the subscriber prefixes`);
      this.used6.add(t);
      return t;
    }
  }
}
