import type { Logger } from '@haystack/common';
import { ActiveHitlist, HITLIST_FORMAT, HitlistFormatError, type ActivePointer, type HitlistStore, type LoadedHitlist } from '@haystack/hitlist-contract';
import { dayNumber, dayText } from '@haystack/store';
import { HitlistFilter } from './matcher.js';

/** The store cannot be reached and the day's hitlist was never loaded: matching must wait (the batch is retried). */
export class HitlistUnavailableError extends Error {
  constructor(day: string, cause: unknown) {
    super(`hitlist of ${day} cannot be loaded (store unreachable: ${(cause as Error)?.message ?? String(cause)}); the batch will be retried`, { cause });
    this.name = 'HitlistUnavailableError';
  }
}

/**
 * Check what a decoded hitlist claims before matching with it: the format this detector was
 * written for, and table references in range. A hitlist that fails is refused (a clear error,
 * logged) rather than half-used.
 */
export function validateHitlist(h: LoadedHitlist): void {
  const m = h.meta;
  if (m.format !== HITLIST_FORMAT) throw new HitlistFormatError(`hitlist of ${m.day} has format ${m.format}; this detector reads format ${HITLIST_FORMAT}`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(m.day ?? '')) throw new HitlistFormatError(`hitlist has no valid day (${JSON.stringify(m.day)})`);
  if (!Array.isArray(m.classes) || !Array.isArray(m.domains) || !Array.isArray(m.rules))
    throw new HitlistFormatError(`hitlist of ${m.day} lacks classes, domains or rules`);
  for (const d of m.domains)
    for (const c of d.classes) if (!m.classes[c]) throw new HitlistFormatError(`hitlist of ${m.day}: domain ${d.name} names class index ${c} out of range`);
  for (const r of m.rules) {
    if (!m.classes[r.class]) throw new HitlistFormatError(`hitlist of ${m.day}: rule for class index ${r.class} out of range`);
    if (!Number.isInteger(r.threshold) || r.threshold < 1)
      throw new HitlistFormatError(`hitlist of ${m.day}: rule of ${m.classes[r.class]!.id} has threshold ${r.threshold}`);
  }
  for (let i = 0; i < h.size; i++)
    for (const d of h.entryDomains(i)) if (!m.domains[d]) throw new HitlistFormatError(`hitlist of ${m.day}: entry ${i} names domain index ${d} out of range`);
}

interface Held {
  hl: LoadedHitlist | null;
  /** When the store was last asked (ms), for absent days. */
  checkedAt: number;
  usedAt: number;
  refused: string | null;
}

export interface HitlistSetOptions {
  store: HitlistStore;
  log: Logger;
  /** Days held in memory at once (least recently used beyond this are dropped). */
  maxDays?: number;
  /** A day without a hitlist uses the newest of up to this many days before. */
  fallbackDays?: number;
  /** How long "no hitlist for this day" is believed before asking again, default 30 s. */
  recheckMs?: number;
  /** How often the active pointer is polled as well (a notification may be missed while the store is away), default 30 s; 0 = never. */
  pollMs?: number;
  onSwap?: (h: LoadedHitlist) => void;
  onRefused?: (day: string, reason: string) => void;
  now?: () => number;
}

/**
 * The hitlists a detector matches with, by flow day (several days at once: late flows of
 * yesterday match yesterday's hitlist). Loaded from a {@link HitlistStore} on demand and
 * replaced atomically when the store announces a new version (ActiveHitlist.follow). A
 * loaded hitlist keeps serving while the store is away; a day never loaded while the store is
 * away fails with {@link HitlistUnavailableError} so its flows wait instead of going unmatched.
 */
export class HitlistSet {
  private readonly held = new Map<number, Held>();
  private readonly loading = new Map<number, Promise<void>>();
  /** Days a handler is between ensure() and its scan: never evicted meanwhile. */
  private readonly pins = new Map<number, number>();
  private follower: ActiveHitlist | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private readonly maxDays: number;
  private readonly fallbackDays: number;
  private readonly recheckMs: number;
  private readonly now: () => number;
  private storeDown = false;
  /** Hitlists replaced on a notification or poll. */
  swaps = 0;
  refusals = 0;

  private constructor(private readonly opts: HitlistSetOptions) {
    this.maxDays = opts.maxDays ?? 3;
    this.fallbackDays = opts.fallbackDays ?? 0;
    this.recheckMs = opts.recheckMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  /** Follow the store: the active day is loaded now, later versions as they are announced. */
  static async open(opts: HitlistSetOptions): Promise<HitlistSet> {
    const s = new HitlistSet(opts);
    s.follower = await ActiveHitlist.follow(opts.store, {
      onSwap: (h) => s.accept(h, 'notification'),
      onError: (e) => s.onStoreError('following the active hitlist', e),
    });
    const poll = opts.pollMs ?? 30_000;
    if (poll > 0) {
      s.pollTimer = setInterval(() => void s.poll(), poll);
      s.pollTimer.unref();
    }
    return s;
  }

  private onStoreError(what: string, e: Error): void {
    if (e instanceof HitlistFormatError) {
      this.refusals++;
      this.opts.log.error({ err: e }, `hitlist refused while ${what}: ${e.message}`);
      return;
    }
    if (!this.storeDown) this.opts.log.warn({ err: e }, `hitlist store unavailable while ${what}; loaded hitlists keep serving`);
    this.storeDown = true;
  }

  /** Take a hitlist from the store, unless it fails validation. */
  private accept(h: LoadedHitlist, how: string): boolean {
    try {
      validateHitlist(h);
    } catch (e) {
      this.refuse(h.meta.day, (e as Error).message);
      return false;
    }
    const d = dayNumber(h.meta.day);
    const old = this.held.get(d);
    if (old?.hl && old.hl.version === h.version && old.hl.meta.builtAt === h.meta.builtAt) return true;
    // Built here, not on the first batch that needs it (a large hitlist takes a moment).
    HitlistFilter.of(h);
    // One assignment: matching sees either the old or the new hitlist, never a mix.
    this.held.set(d, { hl: h, checkedAt: this.now(), usedAt: old?.usedAt ?? this.now(), refused: null });
    if (old?.hl) this.swaps++;
    this.opts.log.info(
      { day: h.meta.day, version: h.version, entries: h.size, classes: h.meta.classes.length, via: how },
      old?.hl ? 'hitlist swapped' : 'hitlist loaded',
    );
    this.evict();
    this.opts.onSwap?.(h);
    return true;
  }

  private refuse(day: string, reason: string): void {
    this.refusals++;
    this.opts.log.error({ day }, `hitlist refused: ${reason}`);
    this.opts.onRefused?.(day, reason);
  }

  private evict(): void {
    while (this.held.size > this.maxDays) {
      let oldest: number | null = null;
      let at = Infinity;
      for (const [d, h] of this.held) if (h.usedAt < at && !this.pins.has(d)) [oldest, at] = [d, h.usedAt];
      if (oldest === null) return;
      this.held.delete(oldest);
    }
  }

  /** Compare the active pointer with what is held (a notification can be lost while the store is away). */
  private async poll(): Promise<void> {
    let p: ActivePointer | null;
    try {
      p = await this.opts.store.activeDay();
    } catch (e) {
      this.onStoreError('polling the active day', e as Error);
      return;
    }
    if (this.storeDown) this.opts.log.info('hitlist store reachable again');
    this.storeDown = false;
    if (!p) return;
    const cur = this.held.get(dayNumber(p.day));
    if (cur?.hl && cur.hl.version === p.version) return;
    await this.fetch(dayNumber(p.day)).catch(() => undefined);
  }

  /**
   * Make sure every day in `days` (UTC day numbers) has its hitlist loaded or is known to
   * have none. Throws HitlistUnavailableError for a day never loaded while the store is away.
   */
  async ensure(days: Iterable<number>): Promise<void> {
    for (const d of days) {
      const found = await this.ensureDay(d, true);
      if (found || this.fallbackDays === 0) continue;
      // A fallback day the store cannot give now is simply not used.
      for (let k = 1; k <= this.fallbackDays; k++) if (await this.ensureDay(d - k, false).catch(() => false)) break;
    }
  }

  /** True when the day has a hitlist in memory afterwards. */
  private async ensureDay(d: number, mustKnow: boolean): Promise<boolean> {
    const now = this.now();
    const h = this.held.get(d);
    if (h) h.usedAt = now;
    if (h?.hl) return true;
    if (h && now - h.checkedAt < this.recheckMs) return false;
    try {
      await this.fetch(d);
    } catch (e) {
      // Known absent before: stays absent while the store is away (nothing to wait for).
      if (h || !mustKnow) {
        if (h) h.checkedAt = now;
        return false;
      }
      throw new HitlistUnavailableError(dayText(d), e);
    }
    return !!this.held.get(d)?.hl;
  }

  private fetch(d: number): Promise<void> {
    let p = this.loading.get(d);
    if (!p) {
      p = (async () => {
        const day = dayText(d);
        let hl: LoadedHitlist | null;
        try {
          hl = await this.opts.store.load(day);
        } catch (e) {
          if (e instanceof HitlistFormatError) {
            this.refuse(day, e.message);
            this.held.set(d, { hl: null, checkedAt: this.now(), usedAt: this.now(), refused: e.message });
            return;
          }
          this.onStoreError(`loading the hitlist of ${day}`, e as Error);
          throw e;
        }
        this.storeDown = false;
        if (hl && this.accept(hl, 'load')) return;
        const prev = this.held.get(d);
        if (prev?.hl) return; // refused a new one: keep the last good
        this.held.set(d, { hl: null, checkedAt: this.now(), usedAt: this.now(), refused: hl ? 'invalid' : null });
        this.evict();
      })().finally(() => this.loading.delete(d));
      this.loading.set(d, p);
    }
    return p;
  }

  /** Keep these days (and their fallbacks) in memory until unpin(). */
  pin(days: readonly number[]): void {
    for (const d of days) for (let k = 0; k <= this.fallbackDays; k++) this.pins.set(d - k, (this.pins.get(d - k) ?? 0) + 1);
  }

  unpin(days: readonly number[]): void {
    for (const d of days)
      for (let k = 0; k <= this.fallbackDays; k++) {
        const n = (this.pins.get(d - k) ?? 0) - 1;
        if (n > 0) this.pins.set(d - k, n);
        else this.pins.delete(d - k);
      }
    this.evict();
  }

  /** The hitlist for UTC day number `d` (with fallback), after ensure(). Synchronous: the hot path. */
  get(d: number): LoadedHitlist | null {
    const h = this.held.get(d)?.hl;
    if (h) return h;
    for (let k = 1; k <= this.fallbackDays; k++) {
      const b = this.held.get(d - k)?.hl;
      if (b) return b;
    }
    return null;
  }

  /** Days with a hitlist in memory. */
  days(): string[] {
    return [...this.held.entries()]
      .filter(([, h]) => h.hl)
      .map(([d]) => dayText(d))
      .sort();
  }

  /** Resolves once announced swaps received so far are applied. */
  async settled(): Promise<void> {
    await this.follower?.settled();
    await Promise.all([...this.loading.values()].map((p) => p.catch(() => undefined)));
  }

  async close(): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    await this.follower?.close();
    this.follower = null;
  }
}
