import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadHitlist, type Hitlist, type LoadedHitlist } from './format.js';
import type { ActivePointer, HitlistStore } from './store.js';

export class MissingDayError extends Error {
  readonly userFacing = true;
  constructor(
    readonly dir: string,
    what: string,
  ) {
    super(`no ${what} in ${dir} (build that day with "haystack hitlist build --day ...")`);
  }
}

/** The day's hitlist as `haystack hitlist build` wrote it (`<dir>/hitlist.json`). */
export function readHitlist(dir: string): Hitlist {
  const p = join(dir, 'hitlist.json');
  if (!existsSync(p)) throw new MissingDayError(dir, 'hitlist.json');
  return JSON.parse(readFileSync(p, 'utf8')) as Hitlist;
}

export function hasDay(dir: string): boolean {
  return existsSync(join(dir, 'hitlist.json'));
}

/**
 * A read-only HitlistStore over the day directories `haystack hitlist build` writes
 * (<stateDir>/hitlist/<day>/hitlist.json): the embedded hand-off when no Redis is configured.
 * The newest day is the active one; changes are found by polling (file watching is unreliable
 * across filesystems).
 */
export class DirHitlistStore implements HitlistStore {
  private readonly listeners = new Set<(p: ActivePointer) => void>();
  private timer: NodeJS.Timeout | null = null;
  private last: string | null = null;

  constructor(
    readonly dir: string,
    private readonly pollMs = 10_000,
  ) {}

  private file(day: string): string {
    return join(this.dir, day, 'hitlist.json');
  }

  private version(day: string): number {
    return Math.floor(statSync(this.file(day)).mtimeMs);
  }

  async publish(_h: Hitlist): Promise<ActivePointer> {
    throw new Error(`the hitlist directory ${this.dir} is read-only here: build with "haystack hitlist build"`);
  }

  async load(day: string): Promise<LoadedHitlist | null> {
    if (!existsSync(this.file(day))) return null;
    const v = this.version(day);
    return loadHitlist(readHitlist(join(this.dir, day)), v);
  }

  async activeDay(): Promise<ActivePointer | null> {
    if (!existsSync(this.dir)) return null;
    const days = readdirSync(this.dir)
      .filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d) && existsSync(this.file(d)))
      .sort();
    const day = days.at(-1);
    if (!day) return null;
    const version = this.version(day);
    return { day, version, seq: version };
  }

  async active(): Promise<LoadedHitlist | null> {
    const p = await this.activeDay();
    return p ? this.load(p.day) : null;
  }

  async activate(): Promise<ActivePointer | null> {
    throw new Error('the hitlist directory store has no active pointer to move: the newest day is active');
  }

  async subscribe(onSwap: (p: ActivePointer) => void): Promise<() => Promise<void>> {
    this.listeners.add(onSwap);
    if (!this.timer && this.pollMs > 0) {
      this.timer = setInterval(() => {
        void this.activeDay().then(
          (p) => {
            const k = p ? `${p.day} ${p.version}` : null;
            if (!p || k === this.last) return;
            this.last = k;
            for (const l of this.listeners) l(p);
          },
          () => undefined,
        );
      }, this.pollMs);
      this.timer.unref();
    }
    return async () => {
      this.listeners.delete(onSwap);
    };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
  }
}
