import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { formatAddress, type HaystackConfig, type Logger } from '@haystack/common';
import { dayText } from './days.js';
import { SubscriberMap } from './subscribers.js';

/**
 * Line pseudonyms: what the store keeps of a subscriber line (or, at an IXP, a host) instead of
 * its address. The detector writes them and the console's lookup derives the same ones, so both
 * take them from here, derived from the configuration the same way.
 */

/** A refused line-key configuration: one clear line and exit 2, never a stack trace. */
export class LineKeyError extends Error {
  readonly userFacing = true;
  readonly exitCode = 2;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LineKeyError';
  }
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

/**
 * The line-id key for this deployment: detector.lineKey when set; with Kafka (distributed)
 * it must be set (every detector replica must derive the same pseudonyms, and a generated key
 * on one machine would not be shared); embedded, one is generated once into
 * <stateDir>/detector/line-key. Raw line ids need no key.
 */
export function resolveLineKey(config: HaystackConfig, log?: Logger): string | null {
  const d = config.detector;
  if (d.rawLineIds) return null;
  if (d.lineKey) return d.lineKey;
  if (config.kafka.brokers.length > 0)
    throw new LineKeyError(
      'detector.lineKey is not set: with Kafka (distributed mode) every detector needs the same line key. ' +
        'Set HAYSTACK_DETECTOR__LINE_KEY (at least 16 characters, e.g. `openssl rand -hex 32`), or detector.rawLineIds: true to store raw addresses.',
    );
  const path = join(config.stateDir, 'detector', 'line-key');
  const { key, created } = embeddedLineKey(path);
  if (created) log?.info({ path }, 'generated the embedded line key (keep this file: line pseudonyms depend on it)');
  return key;
}

/** The unit prefix for IPv6: the host's /64 (configurable) at an IXP, the subscriber line's prefix at an ISP. */
export function ipv6UnitPrefix(cfg: HaystackConfig): number {
  return cfg.deployment === 'ixp' ? cfg.ixp.hostPrefixLength6 : (cfg.detector.ipv6LinePrefixLength ?? cfg.ingest.ipv6LinePrefixLength);
}

/** Line ids exactly as the detector derives them (key, rotation, raw mode, dual-stack map): the console's lookup uses the same. */
export function lineIdsFromConfig(cfg: HaystackConfig, log: Logger): LineIds {
  const d = cfg.detector;
  const prefix = ipv6UnitPrefix(cfg);
  return new LineIds({
    key: resolveLineKey(cfg, log),
    rotation: d.lineKeyRotation,
    raw: d.rawLineIds,
    ipv6PrefixLength: prefix,
    subscribers: d.subscriberMap ? loadSubscriberMap(d.subscriberMap, prefix, log) : null,
  });
}

function loadSubscriberMap(path: string, prefix: number, log: Logger): SubscriberMap {
  let m: SubscriberMap;
  try {
    m = new SubscriberMap(path, prefix);
  } catch (e) {
    throw new LineKeyError(`detector.subscriberMap: ${(e as Error).message}`, { cause: e });
  }
  log.info({ path, subscribers: m.size, skipped: m.skipped }, 'dual-stack subscriber map loaded');
  if (m.skipped) log.warn({ path, skipped: m.skipped }, 'subscriber map rows skipped as invalid (expected "ipv4,ipv6-prefix")');
  return m;
}
