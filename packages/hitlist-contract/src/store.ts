import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import { decodeHitlist, encodeHitlist, type Hitlist, type LoadedHitlist } from './format.js';

/**
 * Where detectors get the hitlist. One compact versioned value per day (the gzipped binary
 * of hitlist.ts), an "active day" pointer switched atomically with the value's version, and
 * a notification on every switch so detectors load the new day and swap without a gap
 * (they keep matching with the old one until the new one is loaded: {@link ActiveHitlist}).
 *
 * - {@link MemoryHitlistStore}: embedded default, in this process.
 * - {@link RedisHitlistStore}: ioredis. Keys: `<prefix>hitlist:day:<day>` (hash: blob,
 *   version, builtAt), `<prefix>hitlist:active` ("<day> <version> <seq>"), counters
 *   `<prefix>hitlist:version` and `<prefix>hitlist:switch`; channel `<prefix>hitlist:swap`
 *   (the new pointer). Storing, switching and
 *   notifying happen in one Lua script, so no reader sees a pointer to a missing value.
 */
export interface ActivePointer {
  day: string;
  /** Version of the stored value (increases with every publish). */
  version: number;
  /** Sequence number of the switch (increases with every publish-and-activate or activate): orders notifications. */
  seq: number;
}

export interface PublishOptions {
  /** Switch the active pointer to this day (default true; false = history/backfill only). */
  activate?: boolean;
}

export interface HitlistStore {
  publish(hitlist: Hitlist, opts?: PublishOptions): Promise<ActivePointer>;
  load(day: string): Promise<LoadedHitlist | null>;
  activeDay(): Promise<ActivePointer | null>;
  active(): Promise<LoadedHitlist | null>;
  /** Point the active pointer at a stored day (e.g. roll back); false when the day is not stored. */
  activate(day: string): Promise<ActivePointer | null>;
  /** Called on every switch of the active pointer; returns an unsubscribe function. */
  subscribe(onSwap: (p: ActivePointer) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

function parsePointer(s: string | null | undefined): ActivePointer | null {
  if (!s) return null;
  const [day, v, q] = s.split(' ');
  const version = Number(v);
  const seq = Number(q);
  if (!day || !Number.isInteger(version) || !Number.isInteger(seq)) return null;
  return { day, version, seq };
}

export class MemoryHitlistStore implements HitlistStore {
  private readonly days = new Map<string, { blob: Buffer; version: number }>();
  private pointer: ActivePointer | null = null;
  private version = 0;
  private seq = 0;
  private readonly events = new EventEmitter();

  async publish(hitlist: Hitlist, opts: PublishOptions = {}): Promise<ActivePointer> {
    // Encoded like the Redis store, so both paths load the same bytes.
    const blob = encodeHitlist(hitlist);
    const version = ++this.version;
    this.days.set(hitlist.day, { blob, version });
    const p = { day: hitlist.day, version, seq: this.pointer?.seq ?? 0 };
    if (opts.activate !== false) {
      p.seq = ++this.seq;
      this.switchTo(p);
    }
    return p;
  }

  private switchTo(p: ActivePointer): void {
    this.pointer = p;
    // Asynchronous like a pub/sub message.
    queueMicrotask(() => this.events.emit('swap', p));
  }

  async load(day: string): Promise<LoadedHitlist | null> {
    const v = this.days.get(day);
    return v ? decodeHitlist(v.blob, v.version) : null;
  }

  async activeDay(): Promise<ActivePointer | null> {
    return this.pointer;
  }

  async active(): Promise<LoadedHitlist | null> {
    return this.pointer ? this.load(this.pointer.day) : null;
  }

  async activate(day: string): Promise<ActivePointer | null> {
    const v = this.days.get(day);
    if (!v) return null;
    const p = { day, version: v.version, seq: ++this.seq };
    this.switchTo(p);
    return p;
  }

  async subscribe(onSwap: (p: ActivePointer) => void): Promise<() => Promise<void>> {
    this.events.on('swap', onSwap);
    return async () => {
      this.events.off('swap', onSwap);
    };
  }

  async close(): Promise<void> {
    this.events.removeAllListeners();
  }
}

// KEYS: day value, active pointer, version counter, switch counter.
const PUBLISH_LUA = `
local v = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], 'blob', ARGV[1], 'version', v, 'builtAt', ARGV[3])
local q = 0
if ARGV[4] == '1' then
  q = redis.call('INCR', KEYS[4])
  local p = ARGV[2] .. ' ' .. v .. ' ' .. q
  redis.call('SET', KEYS[2], p)
  redis.call('PUBLISH', ARGV[5], p)
end
return {v, q}`;

const ACTIVATE_LUA = `
local v = redis.call('HGET', KEYS[1], 'version')
if not v then return false end
local q = redis.call('INCR', KEYS[3])
local p = ARGV[1] .. ' ' .. v .. ' ' .. q
redis.call('SET', KEYS[2], p)
redis.call('PUBLISH', ARGV[2], p)
return {tonumber(v), q}`;

export interface RedisStoreOptions {
  url: string;
  keyPrefix?: string;
}

export class RedisStoreError extends Error {
  readonly userFacing = true;
  constructor(where: string, cause: Error) {
    super(`hitlist store at ${where}: ${cause.message}`, { cause });
    this.name = 'RedisStoreError';
  }
}

export class RedisHitlistStore implements HitlistStore {
  private readonly redis: Redis;
  private readonly subscribers = new Set<Redis>();
  private readonly prefix: string;
  /** The URL without credentials, for messages. */
  private readonly where: string;

  constructor(opts: RedisStoreOptions) {
    this.prefix = opts.keyPrefix ?? 'haystack:';
    try {
      const u = new URL(opts.url);
      u.username = '';
      u.password = '';
      this.where = u.toString().replace(/\/$/, '');
    } catch {
      this.where = 'redis';
    }
    // lazyConnect: nothing is contacted until the first command; errors surface on it.
    this.redis = new Redis(opts.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.redis.on('error', () => {
      /* reported through the failing command */
    });
  }

  private dayKey(day: string): string {
    return `${this.prefix}hitlist:day:${day}`;
  }
  private get activeKey(): string {
    return `${this.prefix}hitlist:active`;
  }
  private get versionKey(): string {
    return `${this.prefix}hitlist:version`;
  }
  private get seqKey(): string {
    return `${this.prefix}hitlist:switch`;
  }
  get channel(): string {
    return `${this.prefix}hitlist:swap`;
  }

  private async run<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw new RedisStoreError(this.where, e as Error);
    }
  }

  async publish(hitlist: Hitlist, opts: PublishOptions = {}): Promise<ActivePointer> {
    const blob = encodeHitlist(hitlist);
    const [v, q] = await this.run(
      () =>
        this.redis.eval(
          PUBLISH_LUA,
          4,
          this.dayKey(hitlist.day),
          this.activeKey,
          this.versionKey,
          this.seqKey,
          blob,
          hitlist.day,
          hitlist.builtAt,
          opts.activate === false ? '0' : '1',
          this.channel,
        ) as Promise<[number, number]>,
    );
    return { day: hitlist.day, version: Number(v), seq: Number(q) };
  }

  async load(day: string): Promise<LoadedHitlist | null> {
    const [blob, version] = await this.run(() => this.redis.hmgetBuffer(this.dayKey(day), 'blob', 'version'));
    if (!blob) return null;
    return decodeHitlist(blob, Number(version?.toString() ?? 0));
  }

  async activeDay(): Promise<ActivePointer | null> {
    return parsePointer(await this.run(() => this.redis.get(this.activeKey)));
  }

  async active(): Promise<LoadedHitlist | null> {
    const p = await this.activeDay();
    return p ? this.load(p.day) : null;
  }

  async activate(day: string): Promise<ActivePointer | null> {
    const r = await this.run(
      () => this.redis.eval(ACTIVATE_LUA, 3, this.dayKey(day), this.activeKey, this.seqKey, day, this.channel) as Promise<[number, number] | null>,
    );
    return r === null ? null : { day, version: Number(r[0]), seq: Number(r[1]) };
  }

  async subscribe(onSwap: (p: ActivePointer) => void): Promise<() => Promise<void>> {
    // A subscribed connection can do nothing else: one of its own per subscriber.
    const sub = this.redis.duplicate();
    sub.on('error', () => {});
    this.subscribers.add(sub);
    sub.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const p = parsePointer(message);
      if (p) onSwap(p);
    });
    try {
      await this.run(() => sub.subscribe(this.channel));
    } catch (e) {
      this.subscribers.delete(sub);
      sub.disconnect();
      throw e;
    }
    return async () => {
      if (!this.subscribers.delete(sub)) return;
      await sub.quit().catch(() => sub.disconnect());
    };
  }

  async close(): Promise<void> {
    for (const s of [...this.subscribers]) {
      this.subscribers.delete(s);
      await s.quit().catch(() => s.disconnect());
    }
    if (this.redis.status === 'wait') this.redis.disconnect();
    else await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * The detector side: holds the active hitlist and swaps to a new one only once it is fully
 * loaded, so matching never sees a gap. Subscribes before reading the pointer, so a switch
 * between the two is not missed; the switch sequence number orders the pointer read at start
 * and the notifications, so a stale one never replaces a newer hitlist.
 */
export class ActiveHitlist {
  private cur: LoadedHitlist | null = null;
  private unsubscribe: (() => Promise<void>) | null = null;
  private chain: Promise<void> = Promise.resolve();
  private lastSeq = -1;

  private constructor(
    private readonly store: HitlistStore,
    private readonly onSwap?: (h: LoadedHitlist) => void,
    private readonly onError?: (e: Error) => void,
  ) {}

  static async follow(store: HitlistStore, opts: { onSwap?: (h: LoadedHitlist) => void; onError?: (e: Error) => void } = {}): Promise<ActiveHitlist> {
    const a = new ActiveHitlist(store, opts.onSwap, opts.onError);
    a.unsubscribe = await store.subscribe((p) => a.enqueue(p));
    const p = await store.activeDay();
    if (p) a.enqueue(p);
    await a.chain;
    return a;
  }

  /** The hitlist to match with now (null until one was ever published). */
  get current(): LoadedHitlist | null {
    return this.cur;
  }

  /** Resolves once every notification received so far has been handled. */
  settled(): Promise<void> {
    return this.chain;
  }

  private enqueue(p: ActivePointer): void {
    // The pointer read at start and the notifications race; the switch sequence orders them.
    if (p.seq <= this.lastSeq) return;
    this.lastSeq = p.seq;
    this.chain = this.chain.then(async () => {
      if (p.seq < this.lastSeq) return; // a newer switch is queued behind this one
      if (this.cur && this.cur.day === p.day && this.cur.version === p.version) return;
      try {
        const h = await this.store.load(p.day);
        if (!h) throw new Error(`active hitlist day ${p.day} is not stored`);
        this.cur = h;
        this.onSwap?.(h);
      } catch (e) {
        this.onError?.(e as Error);
      }
    });
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = null;
  }
}
