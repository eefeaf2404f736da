/** Days are UTC calendar days written YYYY-MM-DD. */
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
export const DAY_SECONDS = 86_400;
/** Day masks are 32-bit: a look-back window holds at most 31 days. */
export const MAX_WINDOW_DAYS = 31;

export function parseDay(text: string): number {
  const m = DAY_RE.exec(text);
  if (!m) throw new Error(`invalid day ${JSON.stringify(text)}: expected YYYY-MM-DD`);
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const back = new Date(ms).toISOString().slice(0, 10);
  if (back !== text) throw new Error(`invalid day ${JSON.stringify(text)}: no such date`);
  return ms / 1000;
}

export function formatDay(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 10);
}

export function addDays(day: string, n: number): string {
  return formatDay(parseDay(day) + n * DAY_SECONDS);
}

/**
 * The look-back window ending on `day` (inclusive): bit i of a day mask is day `from + i`.
 * A record valid from t1 to t2 (Unix seconds, inclusive) covers every day it overlaps.
 */
export class Window {
  readonly start: number;
  readonly end: number;
  readonly from: string;
  constructor(
    readonly day: string,
    readonly days: number,
  ) {
    if (!Number.isInteger(days) || days < 1 || days > MAX_WINDOW_DAYS) throw new Error(`look-back window must be 1..${MAX_WINDOW_DAYS} days, got ${days}`);
    this.end = parseDay(day) + DAY_SECONDS;
    this.start = this.end - days * DAY_SECONDS;
    this.from = formatDay(this.start);
  }

  /** Mask of the window days that [t1, t2] overlaps; 0 when outside. */
  mask(t1: number, t2: number): number {
    if (t2 < this.start || t1 >= this.end) return 0;
    const a = Math.max(0, Math.floor((t1 - this.start) / DAY_SECONDS));
    const b = Math.min(this.days - 1, Math.floor((t2 - this.start) / DAY_SECONDS));
    let m = 0;
    for (let i = a; i <= b; i++) m |= 1 << i;
    return m >>> 0;
  }

  dayOf(bit: number): string {
    return formatDay(this.start + bit * DAY_SECONDS);
  }

  /** Window days named by a mask, oldest first. */
  daysOf(mask: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.days; i++) if (mask & (1 << i)) out.push(this.dayOf(i));
    return out;
  }

  get full(): number {
    return this.days === 32 ? 0xffffffff : ((1 << this.days) - 1) >>> 0;
  }
}
