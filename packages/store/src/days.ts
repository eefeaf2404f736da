/**
 * Days and times as the store writes them: UTC days 'YYYY-MM-DD' (or days since the epoch) and
 * UTC timestamps 'YYYY-MM-DD hh:mm:ss[.sss]', which both chdb and a server parse the same way for
 * DateTime/DateTime64 columns declared with 'UTC'.
 */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

let prefixHour = NaN;
let prefix = '';

/**
 * 'YYYY-MM-DD hh:mm:ss.sss' (UTC), as Date#toISOString would write it (milliseconds
 * truncated). The 'YYYY-MM-DD hh:' prefix is kept for the last hour seen, the rest is
 * arithmetic: this runs for every new line of a day and every evidence row.
 */
export function ts64(ms: number): string {
  const h = Math.floor(ms / HOUR_MS);
  if (h !== prefixHour) {
    if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${ms}`);
    prefixHour = h;
    prefix = new Date(h * HOUR_MS).toISOString().slice(0, 14).replace('T', ' ');
  }
  const r = Math.floor(ms) - h * HOUR_MS;
  const m = Math.floor(r / 60_000);
  const sec = Math.floor(r / 1000) % 60;
  const x = r % 1000;
  return `${prefix}${m < 10 ? '0' : ''}${m}:${sec < 10 ? '0' : ''}${sec}.${x < 10 ? '00' : x < 100 ? '0' : ''}${x}`;
}

/** 'YYYY-MM-DD hh:mm:ss' (UTC), whole seconds. */
export function ts(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function dayNumber(day: string): number {
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (!Number.isFinite(ms) || dayOf(ms) !== day) throw new Error(`invalid day ${JSON.stringify(day)}: expected YYYY-MM-DD`);
  return ms / DAY_MS;
}

/** 'YYYY-MM-DD' of a day number (days since the epoch). */
export function dayText(dayNumber: number): string {
  return new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
}

/** The day `n` days after (or before, n < 0) `day`. */
export function addDays(day: string, n: number): string {
  return dayText(dayNumber(day) + n);
}
