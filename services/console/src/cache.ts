import type { ClickHouseStore } from '@haystack/clickhouse';
import { queryReportData, type ReportData } from '@haystack/report';
import { activeLines, detectedLines, TABLES, TolerantReader } from '@haystack/store';

/**
 * Answers about past days, kept in ClickHouse beside the data they were computed from, so an
 * ISP-sized store answers a 30-day trend or a past day's report without counting millions of
 * lines again. Each cached answer carries the day's fingerprint: the row counts of the tables
 * it was computed from (counted by primary key, milliseconds). A late replay or a redelivery
 * adds rows, changes the fingerprint, and the answer is computed again; nothing is ever served
 * for data it was not computed from.
 */
const num = (x: unknown): number => {
  const n = Number(x ?? 0);
  return Number.isFinite(n) ? n : 0;
};

const nowText = () => new Date().toISOString().replace('T', ' ').replace('Z', '');

/** Row counts per day of the given tables over [from, to]: `${day}` → "a:b:c". */
async function fingerprints(
  q: TolerantReader,
  db: string,
  tables: { table: string; where?: string }[],
  from: string,
  to: string,
): Promise<Map<string, string>> {
  const parts = new Map<string, number[]>();
  for (const [i, t] of tables.entries()) {
    for (const r of await q.all<{ d: string; n: string }>(
      `SELECT toString(day) AS d, count() AS n FROM ${db}.${t.table} WHERE day BETWEEN {f:Date} AND {t:Date}${t.where ? ` AND ${t.where}` : ''} GROUP BY day`,
      { f: from, t: to },
    )) {
      let a = parts.get(r.d);
      if (!a) parts.set(r.d, (a = new Array<number>(tables.length).fill(0)));
      a[i] = num(r.n);
    }
  }
  return new Map([...parts].map(([d, a]) => [d, a.join(':')]));
}

/**
 * Detected lines per day and class (daily window) and active lines per day (class ''), for
 * the days of [from, to] that hold data: cached per day, recomputed for days whose detections
 * or active lines changed.
 */
export async function dailyCounts(ch: ClickHouseStore, from: string, to: string): Promise<Map<string, Map<string, number>>> {
  const db = ch.database;
  const q = new TolerantReader(ch);
  const fp = await fingerprints(q, db, [{ table: TABLES.detections }, { table: TABLES.lineDays }], from, to);
  const out = new Map<string, Map<string, number>>();
  const cached = await q.all<{ d: string; fingerprint: string; class_id: string; lines: string }>(
    `SELECT toString(day) AS d, fingerprint, class_id, lines FROM ${db}.${TABLES.consoleDayCounts} FINAL WHERE day BETWEEN {f:Date} AND {t:Date}`,
    { f: from, t: to },
  );
  for (const r of cached) {
    if (fp.get(r.d) !== r.fingerprint) continue;
    let m = out.get(r.d);
    if (!m) out.set(r.d, (m = new Map()));
    m.set(r.class_id, num(r.lines));
  }
  const stale = [...fp.keys()].filter((d) => !out.has(d));
  if (stale.length === 0) return out;
  // The report's own queries (@haystack/store figures): trends and the day's report never disagree.
  const detected = await detectedLines(ch, stale);
  const active = await activeLines(ch, stale);
  for (const d of stale) out.set(d, new Map([...detected.get(d)!, ['', active.get(d) ?? 0]]));
  const rows = stale.flatMap((d) =>
    [...out.get(d)!].map(([class_id, lines]) => ({ day: d, fingerprint: fp.get(d)!, class_id, lines, computed_at: nowText() })),
  );
  if (rows.length) await ch.insert(TABLES.consoleDayCounts, rows);
  return out;
}

/** What a day's report is computed from: the report day and the day before it, and the hitlist builds up to it. */
const REPORT_TABLES = [
  { table: TABLES.detections },
  { table: TABLES.lineDays },
  { table: TABLES.flowQuality },
  { table: TABLES.ingestHealth },
  { table: TABLES.undecodable },
  { table: TABLES.classes },
  { table: TABLES.hitlists },
  { table: TABLES.ixpUnits },
  { table: TABLES.evidence },
  { table: TABLES.backendTraffic },
];

/** A day's report: from the cache when nothing it depends on changed, else computed and cached. Days before `today` only. */
export async function cachedReport(
  ch: ClickHouseStore,
  day: string,
  today: string,
  now: Date,
  homeCountry: string | null = null,
): Promise<{ data: ReportData; cached: boolean }> {
  if (day >= today) return { data: await queryReportData(ch, day, { now, homeCountry }), cached: false };
  const db = ch.database;
  const q = new TolerantReader(ch);
  const prev = new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  const fp = await fingerprints(q, db, REPORT_TABLES, prev, day);
  const builds = await q.one<{ b: string }>(
    `SELECT toString(count()) || '@' || toString(max(built_at)) AS b FROM ${db}.${TABLES.hitlistBuilds} WHERE day <= {d:Date}`,
    {
      d: day,
    },
  );
  // The home country changes the backends section's shares: part of what the answer was computed from.
  const fingerprint = `${fp.get(prev) ?? '-'}|${fp.get(day) ?? '-'}|${builds?.b ?? '-'}|${homeCountry ?? '-'}`;
  const hit = await q.one<{ data: string }>(`SELECT data FROM ${db}.${TABLES.consoleReports} FINAL WHERE day = {d:Date} AND fingerprint = {f:String}`, {
    d: day,
    f: fingerprint,
  });
  if (hit) return { data: JSON.parse(hit.data) as ReportData, cached: true };
  const data = await queryReportData(ch, day, { now, homeCountry });
  await ch.insert(TABLES.consoleReports, [{ day, fingerprint, data: JSON.stringify(data), computed_at: nowText() }]);
  return { data, cached: false };
}

/** Upper bounds of the time-to-detection histogram's buckets, minutes (the last bucket takes everything above). */
export const HISTOGRAM_MINUTES = [5, 15, 30, 60, 120, 240, 480, 1440];

/**
 * Time to detection over [from, to] per class, merged from per-day rows of the cache; days whose
 * detections or evidence changed are computed again (inside ClickHouse: the t-digest states never
 * leave it). Quantiles are t-digest estimates (mergeable across days); counts are exact.
 */
export async function ttdByClass(
  ch: ClickHouseStore,
  from: string,
  to: string,
): Promise<{
  rows: { class_id: string; n: string; p: (number | string)[]; mx: number | string; hist: [(number | string)[], (number | string)[]] }[];
  dailyOnly: { class_id: string; n: string }[];
}> {
  const db = ch.database;
  const q = new TolerantReader(ch);
  const fp = await fingerprints(q, db, [{ table: TABLES.detections }, { table: TABLES.evidenceDaily }], from, to);
  const have = new Map(
    (
      await q.all<{ d: string; fingerprint: string }>(
        `SELECT toString(day) AS d, fingerprint FROM ${db}.${TABLES.consoleTtdDays} FINAL WHERE day BETWEEN {f:Date} AND {t:Date} AND kind = 'mark'`,
        { f: from, t: to },
      )
    ).map((r) => [r.d, r.fingerprint]),
  );
  const bounds = `[${HISTOGRAM_MINUTES.join(',')}]`;
  for (const [d, f] of fp) {
    if (have.get(d) === f) continue;
    const p = { d, f };
    await ch.command(
      `INSERT INTO ${db}.${TABLES.consoleTtdDays} (day, fingerprint, kind, class_id, n, q, mx, hist_buckets, hist_counts, computed_at)
       SELECT {d:Date}, {f:String}, 'hour', class_id, n, q, mx, h.1, h.2, now64(3) FROM (
         SELECT class_id, count() AS n, quantilesTDigestState(0.25, 0.5, 0.75, 0.9)(m) AS q, max(m) AS mx, sumMap([b], [toUInt64(1)]) AS h FROM (
           SELECT d.class_id AS class_id, greatest(0, dateDiff('second', e.seen, d.at) / 60) AS m,
             -- Bucket: the first bound the delay is within (0-based); past the last bound, the overflow bucket.
             toUInt8(if(arrayFirstIndex(x -> m <= x, ${bounds}) = 0, length(${bounds}), arrayFirstIndex(x -> m <= x, ${bounds}) - 1)) AS b
           FROM (SELECT class_id, line, min(detected_at) AS at FROM ${db}.${TABLES.detections} WHERE day = {d:Date} AND window = 'hour' GROUP BY class_id, line) AS d
           INNER JOIN (SELECT class_id, line, min(first_seen) AS seen FROM ${db}.${TABLES.evidenceDaily} WHERE day = {d:Date} GROUP BY class_id, line) AS e
           ON d.class_id = e.class_id AND d.line = e.line
         ) GROUP BY class_id
       )`,
      p,
    );
    await ch.command(
      `INSERT INTO ${db}.${TABLES.consoleTtdDays} (day, fingerprint, kind, class_id, n, mx, hist_buckets, hist_counts, computed_at)
       SELECT {d:Date}, {f:String}, 'daily', class_id, count(), 0, [], [], now64(3) FROM (
         SELECT class_id, line, groupUniqArray(toString(window)) AS w FROM ${db}.${TABLES.detections} WHERE day = {d:Date} GROUP BY class_id, line
       ) WHERE has(w, 'day') AND NOT has(w, 'hour') GROUP BY class_id`,
      p,
    );
    // Written last: a day counts as done only once its rows are in.
    await ch.command(
      `INSERT INTO ${db}.${TABLES.consoleTtdDays} (day, fingerprint, kind, class_id, n, mx, hist_buckets, hist_counts, computed_at) VALUES ({d:Date}, {f:String}, 'mark', '', 0, 0, [], [], now64(3))`,
      p,
    );
  }
  const days = [...fp.keys()];
  const fps = days.map((d) => fp.get(d)!);
  const cur = `has(arrayZip({ds:Array(String)}, {fs:Array(String)}), (toString(day), fingerprint))`;
  const rows = await q.all<{ class_id: string; n: string; p: (number | string)[]; mx: number | string; hist: [(number | string)[], (number | string)[]] }>(
    `SELECT class_id, sum(n) AS n, quantilesTDigestMerge(0.25, 0.5, 0.75, 0.9)(q) AS p, max(mx) AS mx, sumMap(hist_buckets, hist_counts) AS hist
     FROM ${db}.${TABLES.consoleTtdDays} FINAL WHERE day BETWEEN {f:Date} AND {t:Date} AND kind = 'hour' AND ${cur} GROUP BY class_id`,
    { f: from, t: to, ds: days, fs: fps },
  );
  const dailyOnly = await q.all<{ class_id: string; n: string }>(
    `SELECT class_id, sum(n) AS n FROM ${db}.${TABLES.consoleTtdDays} FINAL WHERE day BETWEEN {f:Date} AND {t:Date} AND kind = 'daily' AND ${cur} GROUP BY class_id`,
    { f: from, t: to, ds: days, fs: fps },
  );
  return { rows, dailyOnly };
}
