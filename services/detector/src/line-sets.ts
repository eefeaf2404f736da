import { hash4 } from '@haystack/common';

/**
 * Subscriber lines. A line is the subscriber-side address of a flow: an IPv4 address as is
 * (the NAT address of the home), an IPv6 address cut to the line prefix (default /56), so a
 * home's rotating privacy addresses count as one line. Keys are 4 words (the 16-byte
 * IPv4-mapped/IPv6 form, masked), compared and hashed without allocating.
 */
export class LineMask {
  readonly prefixLength: number;
  readonly m0: number;
  readonly m1: number;
  readonly m2: number;
  readonly m3: number;

  constructor(ipv6PrefixLength: number) {
    if (!Number.isInteger(ipv6PrefixLength) || ipv6PrefixLength < 1 || ipv6PrefixLength > 128)
      throw new RangeError(`IPv6 line prefix length must be 1..128, got ${ipv6PrefixLength}`);
    this.prefixLength = ipv6PrefixLength;
    const m = (i: number) => {
      const bits = Math.max(0, Math.min(32, ipv6PrefixLength - 32 * i));
      return bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
    };
    this.m0 = m(0);
    this.m1 = m(1);
    this.m2 = m(2);
    this.m3 = m(3);
  }
}

/** Big-endian word of 4 bytes at `o`. */
export { word } from '@haystack/common';

export { hash4 } from '@haystack/common';

/**
 * A set of 4-word keys (open addressing in typed arrays): which lines were already seen on a
 * day, each with an optional value (the line's id, computed once when first needed). add()
 * allocates only when the table grows.
 */
export class KeySet {
  private keys: Uint32Array;
  private used: Uint8Array;
  private vals: (string | undefined)[];
  private mask: number;
  size = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap <<= 1;
    this.keys = new Uint32Array(cap * 4);
    this.used = new Uint8Array(cap);
    this.vals = new Array<string | undefined>(cap);
    this.mask = cap - 1;
  }

  /** Slot of the key, or -1 - (the free slot where it would go). */
  private find(a: number, b: number, c: number, d: number): number {
    let slot = hash4(a, b, c, d) & this.mask;
    const keys = this.keys;
    const used = this.used;
    for (;;) {
      if (used[slot] === 0) return -1 - slot;
      const k = slot * 4;
      if (keys[k] === a && keys[k + 1] === b && keys[k + 2] === c && keys[k + 3] === d) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  private insertAt(slot: number, a: number, b: number, c: number, d: number, v: string | undefined): void {
    const k = slot * 4;
    this.keys[k] = a;
    this.keys[k + 1] = b;
    this.keys[k + 2] = c;
    this.keys[k + 3] = d;
    this.used[slot] = 1;
    this.vals[slot] = v;
    if (++this.size * 2 > this.mask + 1) this.grow();
  }

  /** True when the key was not in the set (and is now). */
  add(a: number, b: number, c: number, d: number): boolean {
    const f = this.find(a, b, c, d);
    if (f >= 0) return false;
    this.insertAt(-1 - f, a, b, c, d, undefined);
    return true;
  }

  has(a: number, b: number, c: number, d: number): boolean {
    return this.find(a, b, c, d) >= 0;
  }

  get(a: number, b: number, c: number, d: number): string | undefined {
    const f = this.find(a, b, c, d);
    return f >= 0 ? this.vals[f] : undefined;
  }

  /** Store a value for the key (adding the key when missing). */
  set(a: number, b: number, c: number, d: number, v: string): void {
    const f = this.find(a, b, c, d);
    if (f >= 0) this.vals[f] = v;
    else this.insertAt(-1 - f, a, b, c, d, v);
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldUsed = this.used;
    const oldVals = this.vals;
    const cap = (this.mask + 1) * 2;
    this.keys = new Uint32Array(cap * 4);
    this.used = new Uint8Array(cap);
    this.vals = new Array<string | undefined>(cap);
    this.mask = cap - 1;
    for (let s = 0; s < oldUsed.length; s++) {
      if (oldUsed[s] === 0) continue;
      const k = s * 4;
      const a = oldKeys[k]!;
      const b = oldKeys[k + 1]!;
      const c = oldKeys[k + 2]!;
      const d = oldKeys[k + 3]!;
      let slot = hash4(a, b, c, d) & this.mask;
      while (this.used[slot] !== 0) slot = (slot + 1) & this.mask;
      const n = slot * 4;
      this.keys[n] = a;
      this.keys[n + 1] = b;
      this.keys[n + 2] = c;
      this.keys[n + 3] = d;
      this.used[slot] = 1;
      this.vals[slot] = oldVals[s];
    }
  }
}

/**
 * A set of IPv4 lines (one 32-bit word each) with an optional value per line: 4 bytes a slot,
 * so a day's lines of a partition stay in cache far better than in the 4-word {@link KeySet}
 * (the per-flow activity check is the costliest step of the scan after the hitlist lookup).
 * 0 marks an empty slot; the address 0.0.0.0 has a slot of its own.
 */
export class V4Set {
  private table: Uint32Array;
  private vals: (string | undefined)[];
  private mask: number;
  private hasZero = false;
  private zeroVal: string | undefined;
  size = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap <<= 1;
    this.table = new Uint32Array(cap);
    this.vals = new Array<string | undefined>(cap);
    this.mask = cap - 1;
  }

  /** Slot of v (not 0), or -1 - (the free slot where it would go). */
  private find(v: number): number {
    const t = this.table;
    let slot = (Math.imul(v, 0x9e3779b1) >>> 0) & this.mask;
    for (;;) {
      const x = t[slot]!;
      if (x === v) return slot;
      if (x === 0) return -1 - slot;
      slot = (slot + 1) & this.mask;
    }
  }

  /** True when `v` was not in the set (and is now). */
  add(v: number): boolean {
    if (v === 0) {
      if (this.hasZero) return false;
      this.hasZero = true;
      this.size++;
      return true;
    }
    const f = this.find(v);
    if (f >= 0) return false;
    this.insertAt(-1 - f, v, undefined);
    return true;
  }

  get(v: number): string | undefined {
    if (v === 0) return this.zeroVal;
    const f = this.find(v);
    return f >= 0 ? this.vals[f] : undefined;
  }

  /** Store a value for v (adding v when missing). */
  set(v: number, val: string): void {
    if (v === 0) {
      if (!this.hasZero) this.size++;
      this.hasZero = true;
      this.zeroVal = val;
      return;
    }
    const f = this.find(v);
    if (f >= 0) this.vals[f] = val;
    else this.insertAt(-1 - f, v, val);
  }

  private insertAt(slot: number, v: number, val: string | undefined): void {
    this.table[slot] = v;
    this.vals[slot] = val;
    if (++this.size * 2 > this.mask + 1) this.grow();
  }

  private grow(): void {
    const old = this.table;
    const oldVals = this.vals;
    this.table = new Uint32Array(old.length * 2);
    this.vals = new Array<string | undefined>(old.length * 2);
    this.mask = this.table.length - 1;
    for (let i = 0; i < old.length; i++) {
      const v = old[i]!;
      if (v === 0) continue;
      let slot = (Math.imul(v, 0x9e3779b1) >>> 0) & this.mask;
      while (this.table[slot] !== 0) slot = (slot + 1) & this.mask;
      this.table[slot] = v;
      this.vals[slot] = oldVals[i];
    }
  }
}
