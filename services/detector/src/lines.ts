import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatAddress, hash4 } from '@haystack/common';
import type { SubscriberMap } from './subscribers.js';

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

const DAY_MS = 86_400_000;

export function dayText(dayNumber: number): string {
  return new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
}

export interface LineIdOptions {
  /** HMAC key (config detector.lineKey); required unless raw. */
  key: string | Buffer | null;
  rotation: 'none' | 'daily';
  raw: boolean;
  ipv6PrefixLength: number;
  /** Dual-stack subscribers: their IPv6 lines take the id of their IPv4 line. */
  subscribers?: SubscriberMap | null;
}

/**
 * Line identifiers as stored: by default a pseudonym, HMAC-SHA256 over the line's masked
 * 16 bytes and prefix length, truncated to 128 bits (32 hex characters) — stable for a key,
 * unlinkable without it. With daily rotation the HMAC key of day D is HMAC(key, "line-key/D"),
 * so ids of different days cannot be joined even by someone holding one day's key. Raw mode
 * (detector.rawLineIds) stores "203.0.113.7" or "2001:db8:0:100::/56". The key never leaves
 * this object (no getter, not in toJSON/inspect).
 */
export class LineIds {
  readonly raw: boolean;
  readonly rotation: 'none' | 'daily';
  readonly prefixLength: number;
  #key: Buffer | null;
  #dayKeys = new Map<number, Buffer>();
  private readonly scratch = new Uint8Array(17);
  readonly subscribers: SubscriberMap | null;

  constructor(opts: LineIdOptions) {
    this.raw = opts.raw;
    this.rotation = opts.rotation;
    this.prefixLength = opts.ipv6PrefixLength;
    this.subscribers = opts.subscribers ?? null;
    if (!opts.raw && (opts.key === null || opts.key.length < 16)) throw new Error('line pseudonyms need a key of at least 16 bytes (detector.lineKey)');
    this.#key = opts.key === null ? null : Buffer.isBuffer(opts.key) ? Buffer.from(opts.key) : Buffer.from(opts.key, 'utf8');
  }

  private keyFor(day: number): Buffer {
    if (this.rotation === 'none') return this.#key!;
    let k = this.#dayKeys.get(day);
    if (!k) {
      k = createHmac('sha256', this.#key!)
        .update(`haystack-line-key/${dayText(day)}`)
        .digest();
      if (this.#dayKeys.size > 8) this.#dayKeys.clear();
      this.#dayKeys.set(day, k);
    }
    return k;
  }

  /**
   * Id of the line whose masked key words are (a, b, c, d), IPv4 when `v4`, on UTC day number
   * `day`. Not cached here: the day's line sets keep each line's id (DayState.lineId).
   */
  id(a: number, b: number, c: number, d: number, v4: boolean, day: number): string {
    if (!v4 && this.subscribers) {
      const v4addr = this.subscribers.ipv4For(a, b);
      if (v4addr >= 0) return this.id(0, 0, 0xffff, v4addr, true, day);
    }
    const s = this.scratch;
    s[0] = v4 ? 32 : this.prefixLength;
    for (let i = 0; i < 4; i++) {
      const w = i === 0 ? a : i === 1 ? b : i === 2 ? c : d;
      s[1 + i * 4] = w >>> 24;
      s[2 + i * 4] = (w >>> 16) & 0xff;
      s[3 + i * 4] = (w >>> 8) & 0xff;
      s[4 + i * 4] = w & 0xff;
    }
    if (this.raw) {
      const text = formatAddress(s.subarray(1));
      return v4 ? text : `${text}/${this.prefixLength}`;
    }
    return createHmac('sha256', this.keyFor(day)).update(s).digest().subarray(0, 16).toString('hex');
  }

  toJSON(): object {
    return { raw: this.raw, rotation: this.rotation, prefixLength: this.prefixLength };
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `LineIds(${JSON.stringify(this.toJSON())})`;
  }
}

/**
 * The embedded line key: created once under <stateDir>/detector/line-key (0600, 32 random
 * bytes as hex) and read back on every start, so pseudonyms stay stable across runs.
 */
export function embeddedLineKey(path: string): { key: string; created: boolean } {
  if (existsSync(path)) {
    const key = readFileSync(path, 'utf8').trim();
    if (key.length < 16) throw new Error(`line key file ${path} is too short (expected 64 hex characters); remove it to generate a new one`);
    return { key, created: false };
  }
  mkdirSync(dirname(path), { recursive: true });
  // Exclusive create: two processes starting together end up with the same key (the loser reads the winner's).
  try {
    writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return embeddedLineKey(path);
  }
  chmodSync(path, 0o600);
  return { key: readFileSync(path, 'utf8').trim(), created: true };
}
