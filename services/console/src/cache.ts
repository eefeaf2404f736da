import type { ClickHouseStore } from '@haystack/clickhouse';
import { Q, queryReportData, type ReportData } from '@haystack/report';

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

export async function ensureCacheTables(ch: ClickHouseStore): Promise<void> {
  const db = ch.database;
  await ch.ensureDatabase();
  await ch.command(`CREATE TABLE IF NOT EXISTS ${db}.console_day_counts (
    day Date,
    fingerprint String,
    class_id String,
    lines UInt64,
    computed_at DateTime64(3, 'UTC')
  ) ENGINE = ReplacingMergeTree(computed_at) ORDER BY (day, class_id)`);
  await ch.command(`CREATE TABLE IF NOT EXISTS ${db}.console_reports (
    day Date,
    fingerprint String,
    data String,
    computed_at DateTime64(3, 'UTC')
  ) ENGINE = ReplacingMergeTree(computed_at) ORDER BY day`);
}

const nowText = () => new Date().toISOString().replace('T', ' ').replace('Z', '');

/** Row counts per day of the given tables over [from, to]: `${day}` → "a:b:c". */
async function fingerprints(q: Q, db: string, tables: { table: string; where?: string }[], from: string, to: string): Promise<Map<string, string>> {
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
  const q = new Q(ch);
  const fp = await fingerprints(q, db, [{ table: 'detector_detections', where: "window = 'day'" }, { table: 'detector_line_days' }], from, to);
  const out = new Map<string, Map<string, number>>();
  const cached = await q.all<{ d: string; fingerprint: string; class_id: string; lines: string }>(
    `SELECT toString(day) AS d, fingerprint, class_id, lines FROM ${db}.console_day_counts FINAL WHERE day BETWEEN {f:Date} AND {t:Date}`,
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
  for (const d of stale) out.set(d, new Map());
  for (const r of await q.all<{ d: string; class_id: string; n: string }>(
    `SELECT toString(day) AS d, class_id, uniqExact(line) AS n FROM ${db}.detector_detections WHERE day IN {s:Array(Date)} AND window = 'day' GROUP BY day, class_id`,
    { s: stale },
  ))
    out.get(r.d)!.set(r.class_id, num(r.n));
  for (const r of await q.all<{ d: string; n: string }>(
    `SELECT toString(day) AS d, uniqExact(line) AS n FROM ${db}.detector_line_days WHERE day IN {s:Array(Date)} GROUP BY day`,
    { s: stale },
  ))
    out.get(r.d)!.set('', num(r.n));
  const rows = stale.flatMap((d) =>
    [...out.get(d)!].map(([class_id, lines]) => ({ day: d, fingerprint: fp.get(d)!, class_id, lines, computed_at: nowText() })),
  );
  // An empty day still records its fingerprint (active lines 0), so it is not counted again.
  for (const d of stale) if (!out.get(d)!.has('')) rows.push({ day: d, fingerprint: fp.get(d)!, class_id: '', lines: 0, computed_at: nowText() });
  if (rows.length) await ch.insert('console_day_counts', rows);
  return out;
}

/** What a day's report is computed from: the report day and the day before it, and the hitlist builds up to it. */
const REPORT_TABLES = [
  { table: 'detector_detections' },
  { table: 'detector_line_days' },
  { table: 'detector_flow_quality' },
  { table: 'detector_ingest_health' },
  { table: 'detector_undecodable' },
  { table: 'detector_classes' },
  { table: 'detector_hitlists' },
  { table: 'detector_ixp_units' },
  { table: 'detector_evidence' },
];

/** A day's report: from the cache when nothing it depends on changed, else computed and cached. Days before `today` only. */
export async function cachedReport(ch: ClickHouseStore, day: string, today: string, now: Date): Promise<{ data: ReportData; cached: boolean }> {
  if (day >= today) return { data: await queryReportData(ch, day, { now }), cached: false };
  const db = ch.database;
  const q = new Q(ch);
  const prev = new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  const fp = await fingerprints(q, db, REPORT_TABLES, prev, day);
  const builds = await q.one<{ b: string }>(`SELECT toString(count()) || '@' || toString(max(built_at)) AS b FROM ${db}.hitlist_builds WHERE day <= {d:Date}`, {
    d: day,
  });
  const fingerprint = `${fp.get(prev) ?? '-'}|${fp.get(day) ?? '-'}|${builds?.b ?? '-'}`;
  const hit = await q.one<{ data: string }>(`SELECT data FROM ${db}.console_reports FINAL WHERE day = {d:Date} AND fingerprint = {f:String}`, {
    d: day,
    f: fingerprint,
  });
  if (hit) return { data: JSON.parse(hit.data) as ReportData, cached: true };
  const data = await queryReportData(ch, day, { now });
  await ch.insert('console_reports', [{ day, fingerprint, data: JSON.stringify(data), computed_at: nowText() }]);
  return { data, cached: false };
}
