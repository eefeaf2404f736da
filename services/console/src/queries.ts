import type { ClickHouseStore } from '@haystack/clickhouse';
import { HISTOGRAM_MINUTES, dailyCounts, ttdByClass } from './cache.js';
import { addDays, hitlistFigures, TABLES, TolerantReader } from '@haystack/store';

/**
 * The console's own views over the detector's and the hitlist's tables (the day report is
 * @haystack/report's queryReportData). Trends count the base tables exactly (uniqExact: a
 * redelivered row cannot inflate them), each past day once: cache.ts keeps the counts.
 */

export type Level = 'platform' | 'manufacturer' | 'product';

const num = (x: unknown): number => {
  const n = Number(x ?? 0);
  return Number.isFinite(n) ? n : 0;
};
const asLevel = (s: unknown): Level => (s === 'platform' || s === 'manufacturer' ? s : 'product');
const LEVEL_ORDER: Record<Level, number> = { platform: 0, manufacturer: 1, product: 2 };

export interface TrendClass {
  classId: string;
  name: string;
  level: Level;
  /** Detected lines per day (daily window), one per day of `days`; null: nothing stored that day (a gap, not 0). */
  lines: (number | null)[];
  /** The last day with data against the first day with data: absolute and relative (null: nothing to compare). */
  change: number;
  relativeChange: number | null;
}

export interface Trends {
  from: string;
  to: string;
  days: string[];
  /** Active lines (hosts at an IXP) per day; null: nothing stored that day. */
  activeLines: (number | null)[];
  classes: TrendClass[];
}

/** Per class and level, detected lines per day over `days` days ending on `to` (inclusive). */
export async function queryTrends(ch: ClickHouseStore, to: string, days: number): Promise<Trends> {
  const db = ch.database;
  const q = new TolerantReader(ch);
  const from = addDays(to, -(days - 1));
  const dayList = Array.from({ length: days }, (_, i) => addDays(from, i));
  const index = new Map(dayList.map((d, i) => [d, i]));
  // Per past day the counts come from the console's cache (cache.ts); only changed days are counted again.
  const counts = await dailyCounts(ch, from, to);
  // A day nothing was stored for is null (drawn as a gap), never 0: a missing day is not a fall.
  const withData = dayList.map((d) => counts.has(d));
  const active = dayList.map((d, i) => (withData[i] ? (counts.get(d)!.get('') ?? 0) : null));
  const meta = await classMeta(q, db, from, to);
  const byClass = new Map<string, (number | null)[]>();
  for (const [d, m] of counts) {
    const i = index.get(d);
    if (i === undefined) continue;
    for (const [id, n] of m) {
      if (id === '') continue;
      let a = byClass.get(id);
      if (!a) byClass.set(id, (a = withData.map((w) => (w ? 0 : null))));
      a[i] = n;
    }
  }
  const first = withData.indexOf(true);
  const last = withData.lastIndexOf(true);
  const classes: TrendClass[] = [...byClass].map(([id, lines]) => {
    const base = first >= 0 ? (lines[first] ?? 0) : 0;
    const end = last >= 0 ? (lines[last] ?? 0) : 0;
    const m = meta.get(id);
    return {
      classId: id,
      name: m?.name ?? id,
      level: asLevel(m?.level),
      lines,
      change: end - base,
      relativeChange: base > 0 && last > first ? (end - base) / base : null,
    };
  });
  const lastOf = (c: TrendClass) => (last >= 0 ? (c.lines[last] ?? 0) : 0);
  classes.sort((a, b) => LEVEL_ORDER[a.level] - LEVEL_ORDER[b.level] || lastOf(b) - lastOf(a) || a.classId.localeCompare(b.classId));
  return { from, to, days: dayList, activeLines: active, classes };
}

/** Class names and levels as the detector stored them (latest day in the range wins). */
async function classMeta(q: TolerantReader, db: string, from: string, to: string): Promise<Map<string, { name: string; level: string }>> {
  const m = new Map<string, { name: string; level: string }>();
  for (const r of await q.all<{ class_id: string; name: string; level: string }>(
    `SELECT class_id, argMax(name, day) AS name, argMax(level, day) AS level FROM ${db}.${TABLES.classes} WHERE day BETWEEN {f:Date} AND {t:Date} GROUP BY class_id`,
    { f: from, t: to },
  ))
    m.set(r.class_id, { name: r.name, level: r.level });
  return m;
}

export interface TimeToDetectionClass {
  classId: string;
  name: string;
  level: Level;
  /** Lines first detected in the range in an hourly window, with their delay (first evidence → detection). */
  detectedHourly: number;
  /** Minutes from the line's first evidence of the class that day to its hourly detection: quartiles and 90th percentile. */
  minutes: { p25: number; p50: number; p75: number; p90: number; max: number } | null;
  /** Histogram of the delay: lines per bucket of HISTOGRAM_MINUTES. */
  histogram: number[];
  /** Lines detected only by the daily window (never within one hour's evidence). */
  dailyOnly: number;
}

export { HISTOGRAM_MINUTES };

export interface TimeToDetection {
  from: string;
  to: string;
  classes: TimeToDetectionClass[];
}

/**
 * For lines that start hosting a class: the time from the first evidence of the class on the
 * line's day to its detection (hourly window), per class; and how many lines the daily window
 * alone detected. A line counts on each day it is detected.
 */
export async function queryTimeToDetection(ch: ClickHouseStore, to: string, days: number): Promise<TimeToDetection> {
  const db = ch.database;
  const q = new TolerantReader(ch);
  const from = addDays(to, -(days - 1));
  // Per day in the console's cache (cache.ts): only days whose detections or evidence changed are computed again.
  const { rows, dailyOnly } = await ttdByClass(ch, from, to);
  const meta = await classMeta(q, db, from, to);
  const out = new Map<string, TimeToDetectionClass>();
  const get = (id: string) => {
    let c = out.get(id);
    if (!c) {
      const m = meta.get(id);
      out.set(
        id,
        (c = {
          classId: id,
          name: m?.name ?? id,
          level: asLevel(m?.level),
          detectedHourly: 0,
          minutes: null,
          histogram: new Array<number>(HISTOGRAM_MINUTES.length + 1).fill(0),
          dailyOnly: 0,
        }),
      );
    }
    return c;
  };
  for (const r of rows) {
    const c = get(r.class_id);
    c.detectedHourly = num(r.n);
    const p = r.p.map(num);
    c.minutes = c.detectedHourly > 0 ? { p25: p[0]!, p50: p[1]!, p75: p[2]!, p90: p[3]!, max: num(r.mx) } : null;
    const [buckets, counts] = r.hist;
    buckets.forEach((b, i) => (c.histogram[num(b)] = num(counts[i])));
  }
  for (const r of dailyOnly) get(r.class_id).dailyOnly = num(r.n);
  const classes = [...out.values()].sort(
    (a, b) =>
      LEVEL_ORDER[a.level] - LEVEL_ORDER[b.level] || b.detectedHourly + b.dailyOnly - (a.detectedHourly + a.dailyOnly) || a.classId.localeCompare(b.classId),
  );
  return { from, to, classes };
}

export interface HitlistBrowse {
  /** The hitlist built for the day (or the latest before it); null when no build is recorded. */
  day: string | null;
  builtAt: string | null;
  classes: {
    classId: string;
    kind: Level;
    status: string;
    detectedAs: string;
    addresses: number;
    primaryDomains: number;
    dedicatedPrimary: number;
    reason: string;
  }[];
  domains: { domain: string; role: string; status: string; via: string; usedBy: string[]; addresses: number; reason: string }[];
  /** Dedicated (address, port, transport) entries, optionally of one class, with the domains and classes each serves; capped at `limit`. */
  entries: { address: string; port: number; transport: string; domains: string[]; classIds: string[] }[];
  /** Distinct entries (of the class): the report's "entries" (@haystack/store hitlistFigures). */
  entriesTotal: number;
  /** Per built day in the trailing window: entries, and entries added / removed against the build before. */
  churn: { day: string; entries: number; added: number; removed: number }[];
}

/** The hitlist history (`haystack hitlist build` writes it into the same database). */
export async function queryHitlist(
  ch: ClickHouseStore,
  day: string,
  opts: { classId?: string; limit?: number; churnDays?: number } = {},
): Promise<HitlistBrowse> {
  const db = ch.database;
  const q = new TolerantReader(ch);
  // Sizes from the store's one query (the report shows the same); the lists below only list.
  const built = await hitlistFigures(ch, day);
  if (!built.day) return { day: null, builtAt: null, classes: [], domains: [], entries: [], entriesTotal: 0, churn: [] };
  const h = built.day;
  const classes = (
    await q.all<{
      class_id: string;
      kind: string;
      status: string;
      detected_as: string;
      addresses: string;
      primary_domains: string;
      dedicated_primary: string;
      reason: string;
    }>(
      `SELECT class_id, kind, status, detected_as, addresses, primary_domains, dedicated_primary, reason FROM ${db}.${TABLES.hitlistClassDecisions} WHERE day = {h:Date} ORDER BY class_id`,
      { h },
    )
  ).map((r) => ({
    classId: r.class_id,
    kind: asLevel(r.kind),
    status: r.status,
    detectedAs: r.detected_as,
    // Addresses in the hitlist serving the class (as `hitlist show`), not the build's candidates.
    addresses: built.perClass.get(r.class_id)?.addresses ?? 0,
    primaryDomains: num(r.primary_domains),
    dedicatedPrimary: num(r.dedicated_primary),
    reason: r.reason,
  }));
  const domains = (
    await q.all<{ domain: string; role: string; status: string; via: string; used_by: string[]; addresses: string; reason: string }>(
      `SELECT domain, role, status, via, used_by, addresses, reason FROM ${db}.${TABLES.hitlistDomainDecisions} WHERE day = {h:Date}
       ${opts.classId ? 'AND has(used_by, {c:String})' : ''} ORDER BY domain`,
      { h, c: opts.classId ?? '' },
    )
  ).map((r) => ({ domain: r.domain, role: r.role, status: r.status, via: r.via, usedBy: r.used_by, addresses: num(r.addresses), reason: r.reason }));
  const entries = (
    await q.all<{ address: string; port: number | string; transport: string; domains: string[]; classes: string[] }>(
      `SELECT replaceRegexpOne(toString(address), '^::ffff:', '') AS address, port, transport, arraySort(groupUniqArray(domain)) AS domains,
              arraySort(groupUniqArray(class_id)) AS classes
       FROM ${db}.${TABLES.hitlistEntries} WHERE day = {h:Date} GROUP BY address, port, transport
       ${opts.classId ? 'HAVING has(classes, {c:String})' : ''} ORDER BY address, port, transport LIMIT {l:UInt32}`,
      { h, c: opts.classId ?? '', l: opts.limit ?? 500 },
    )
  ).map((r) => ({ address: r.address, port: num(r.port), transport: r.transport, domains: r.domains, classIds: r.classes }));
  const total = opts.classId ? (built.perClass.get(opts.classId)?.entries ?? 0) : built.entries;
  // Churn per built day: distinct entries, and what changed against the previous build.
  const churnFrom = addDays(h, -((opts.churnDays ?? 14) - 1));
  const builtDays = (
    await q.all<{ d: string }>(`SELECT DISTINCT toString(day) AS d FROM ${db}.${TABLES.hitlistBuilds} WHERE day BETWEEN {f:Date} AND {h:Date} ORDER BY d`, {
      f: addDays(churnFrom, -31),
      h,
    })
  ).map((r) => r.d);
  const churn: HitlistBrowse['churn'] = [];
  for (let i = 0; i < builtDays.length; i++) {
    const d = builtDays[i]!;
    if (d < churnFrom) continue;
    const p = builtDays[i - 1];
    const [c] = await q.all<{ n: string; added: string; removed: string }>(
      `SELECT
         (SELECT count() FROM (SELECT DISTINCT address, port, transport FROM ${db}.${TABLES.hitlistEntries} WHERE day = {d:Date})) AS n,
         (SELECT count() FROM (SELECT DISTINCT address, port, transport FROM ${db}.${TABLES.hitlistEntries} WHERE day = {d:Date})
            WHERE (address, port, transport) NOT IN (SELECT address, port, transport FROM ${db}.${TABLES.hitlistEntries} WHERE day = {p:Date})) AS added,
         (SELECT count() FROM (SELECT DISTINCT address, port, transport FROM ${db}.${TABLES.hitlistEntries} WHERE day = {p:Date})
            WHERE (address, port, transport) NOT IN (SELECT address, port, transport FROM ${db}.${TABLES.hitlistEntries} WHERE day = {d:Date})) AS removed`,
      { d, p: p ?? '1970-01-01' },
    );
    churn.push({ day: d, entries: num(c?.n), added: p ? num(c?.added) : num(c?.n), removed: p ? num(c?.removed) : 0 });
  }
  return { day: h, builtAt: built.builtAt, classes, domains, entries, entriesTotal: total, churn };
}

export interface LineDetection {
  line: string;
  day: string;
  classId: string;
  level: Level;
  /** Windows it was detected in ('day', and the hours 'HH:00'). */
  windows: string[];
  firstDetectedAt: string;
  /** The IoT domains whose service addresses the line contacted (the evidence). */
  domains: string[];
}

/** Detections and evidence domains of the given line ids over [from, to]. */
export async function queryLines(ch: ClickHouseStore, lineIds: string[], from: string, to: string): Promise<LineDetection[]> {
  if (lineIds.length === 0) return [];
  const db = ch.database;
  const q = new TolerantReader(ch);
  const det = await q.all<{ line: string; d: string; class_id: string; level: string; windows: string[]; at: string }>(
    `SELECT line, toString(day) AS d, class_id, any(level) AS level,
       arraySort(groupUniqArray(if(window = 'day', 'day', formatDateTime(window_start, '%H:00')))) AS windows,
       toString(min(detected_at)) AS at
     FROM ${db}.${TABLES.detections} WHERE day BETWEEN {f:Date} AND {t:Date} AND line IN {l:Array(String)}
     GROUP BY line, day, class_id ORDER BY day, line, class_id`,
    { f: from, t: to, l: lineIds },
  );
  const ev = await q.all<{ line: string; d: string; class_id: string; domains: string[] }>(
    `SELECT line, toString(day) AS d, class_id, arraySort(groupUniqArray(domain)) AS domains FROM ${db}.${TABLES.evidence}
     WHERE day BETWEEN {f:Date} AND {t:Date} AND line IN {l:Array(String)} GROUP BY line, day, class_id`,
    { f: from, t: to, l: lineIds },
  );
  const domainsOf = new Map(ev.map((r) => [`${r.line}|${r.d}|${r.class_id}`, r.domains]));
  return det.map((r) => ({
    line: r.line,
    day: r.d,
    classId: r.class_id,
    level: asLevel(r.level),
    windows: r.windows,
    firstDetectedAt: `${r.at.replace(' ', 'T')}Z`,
    domains: domainsOf.get(`${r.line}|${r.d}|${r.class_id}`) ?? [],
  }));
}

export interface AuditEntry {
  at: string;
  who: string;
  query: string;
  from: string;
  to: string;
  lines: number;
  results: number;
  allowed: boolean;
}

/** Every per-line lookup (and every refused attempt) is written here before its answer leaves. */
const AUDIT_TABLE = TABLES.consoleLookupAudit;

export async function writeAudit(ch: ClickHouseStore, e: AuditEntry & { client: string }): Promise<void> {
  await ch.insert(AUDIT_TABLE, [
    {
      at: e.at.replace('T', ' ').replace('Z', ''),
      who: e.who,
      query: e.query,
      from_day: e.from,
      to_day: e.to,
      lines: e.lines,
      results: e.results,
      allowed: e.allowed ? 1 : 0,
      client: e.client,
    },
  ]);
}

export async function queryAudit(ch: ClickHouseStore, limit: number): Promise<(AuditEntry & { client: string })[]> {
  const rows = await new TolerantReader(ch).all<{
    at: string;
    who: string;
    query: string;
    from_day: string;
    to_day: string;
    lines: string;
    results: string;
    allowed: number | string;
    client: string;
  }>(
    `SELECT toString(at) AS at, who, query, toString(from_day) AS from_day, toString(to_day) AS to_day, lines, results, allowed, client
     FROM ${ch.database}.${AUDIT_TABLE} ORDER BY at DESC LIMIT {l:UInt32}`,
    { l: limit },
  );
  return rows.map((r) => ({
    at: `${r.at.replace(' ', 'T')}Z`,
    who: r.who,
    query: r.query,
    from: r.from_day,
    to: r.to_day,
    lines: num(r.lines),
    results: num(r.results),
    allowed: Number(r.allowed) === 1,
    client: r.client,
  }));
}
