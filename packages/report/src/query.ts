import type { ClickHouseStore } from '@haystack/clickhouse';
import { activeLines, backendFigures, dayQuality, detectedLines, hitlistFigures, TABLES, TolerantReader } from '@haystack/store';
import { continentOf } from '@haystack/backends';
import type { Level, ReportClass, ReportData, ReportMember } from './data.js';

/**
 * The daily report's data (report-data.ts) from ClickHouse alone, so `haystack report` needs
 * neither the hitlist files nor the dictionary:
 *
 * - lines and classes: counted from the base tables (TABLES.lineDays, TABLES.detections)
 *   with uniqExact, which a redelivered row cannot inflate. Not from the materialized daily
 *   aggregates: a detector killed between a base insert and its view's would leave them short
 *   for good (the restarted detector does not write those rows again); class names, levels and
 *   parents as the detector stored them (TABLES.classes);
 * - hitlist: the hitlist history (hitlist_* tables written by `haystack hitlist build`, same
 *   database) when present — decisions with their reasons, addresses, entries, churn against
 *   the previous built day; else what the detector recorded (TABLES.hitlists, TABLES.classes);
 * - quality: base tables read with FINAL (a redelivered batch counted once): flow quality per
 *   exporter, undecodable batches, and the ingest health snapshots (sequence gaps, lost,
 *   malformed, missing-template sets; null when none arrived for that exporter).
 */
export async function queryReportData(ch: ClickHouseStore, day: string, opts: { now?: Date; homeCountry?: string | null } = {}): Promise<ReportData> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day)
    throw new Error(`invalid report day ${JSON.stringify(day)}: expected YYYY-MM-DD`);
  const db = ch.database;
  const q = new TolerantReader(ch);
  const prevDay = new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);

  const anyData = async (d: string) =>
    num((await q.one<{ n: string }>(`SELECT count() AS n FROM ${db}.${TABLES.flowQuality} WHERE day = {d:Date}`, { d }))?.n) > 0 ||
    num((await q.one<{ n: string }>(`SELECT count() AS n FROM ${db}.${TABLES.detections} WHERE day = {d:Date}`, { d }))?.n) > 0;

  // Active and detected lines: the same queries the console's trends use (@haystack/store figures).
  const hasPrev = await anyData(prevDay);
  const days = hasPrev ? [day, prevDay] : [day];
  const activeBy = await activeLines(ch, days);
  const detectedBy = await detectedLines(ch, days);
  const active = activeBy.get(day) ?? 0;
  const activePrevious = hasPrev ? (activeBy.get(prevDay) ?? 0) : null;
  const detected = detectedBy.get(day) ?? new Map<string, number>();
  const detectedPrev = hasPrev ? (detectedBy.get(prevDay) ?? new Map<string, number>()) : null;
  const hourlyRows = await q.all<{ class_id: string; slot: number | string; n: string }>(
    `SELECT class_id, toUInt8(toHour(window_start)) AS slot, uniqExact(line) AS n FROM ${db}.${TABLES.detections} WHERE day = {d:Date} AND window = 'hour' GROUP BY class_id, slot`,
    { d: day },
  );
  const hourly = new Map<string, number[]>();
  for (const r of hourlyRows) {
    const h = Number(r.slot);
    if (!(h >= 0 && h < 24)) continue;
    let a = hourly.get(r.class_id);
    if (!a) hourly.set(r.class_id, (a = new Array<number>(24).fill(0)));
    a[h] = num(r.n);
  }
  const withAnyDetection = num((await q.one<{ n: string }>(`SELECT uniqExact(line) AS n FROM ${db}.${TABLES.detections} WHERE day = {d:Date}`, { d: day }))?.n);

  // Class metadata: as the detector stored it for the day (latest hitlist that served it).
  const meta = new Map<string, { name: string; level: string; parents: string[]; detectable: boolean }>();
  for (const r of await q.all<{ class_id: string; name: string; level: string; parents: string[]; detectable: number | string }>(
    `SELECT class_id, name, level, parents, detectable FROM ${db}.${TABLES.classes} FINAL WHERE day = {d:Date}`,
    { d: day },
  ))
    meta.set(r.class_id, { name: r.name, level: r.level, parents: r.parents, detectable: Number(r.detectable) === 1 });
  // Levels of classes seen only in detections (e.g. no class rows stored): from the detections themselves.
  const detLevels = new Map<string, string>();
  for (const r of await q.all<{ class_id: string; level: string }>(
    `SELECT class_id, any(level) AS level FROM ${db}.${TABLES.detections} WHERE day IN ({d:Date}, {p:Date}) GROUP BY class_id`,
    { d: day, p: prevDay },
  ))
    detLevels.set(r.class_id, r.level);

  const hitlist = await hitlistSummary(ch, q, db, day, meta);
  const ids = new Set<string>([
    ...[...meta].filter(([, m]) => m.detectable).map(([id]) => id),
    ...detected.keys(),
    ...(detectedPrev?.keys() ?? []),
    ...hourly.keys(),
  ]);
  for (const c of hitlist.detectableIds) ids.add(c);
  const classes: ReportClass[] = [...ids].map((id) => {
    const m = meta.get(id);
    const lines = detected.get(id) ?? 0;
    return {
      classId: id,
      name: m?.name || hitlist.names.get(id) || id,
      level: asLevel(m?.level ?? hitlist.levels.get(id) ?? detLevels.get(id)),
      parents: m?.parents ?? [],
      detectedLines: lines,
      detectedLinesPrevious: detectedPrev ? (detectedPrev.get(id) ?? 0) : null,
      shareOfActive: active > 0 ? lines / active : 0,
      hourly: hourly.get(id) ?? new Array<number>(24).fill(0),
    };
  });
  const order: Record<Level, number> = { platform: 0, manufacturer: 1, product: 2 };
  classes.sort((a, b) => order[a.level] - order[b.level] || b.detectedLines - a.detectedLines || a.classId.localeCompare(b.classId));

  return {
    day,
    generatedAt: (opts.now ?? new Date()).toISOString(),
    previousDay: hasPrev ? prevDay : null,
    lines: { active, activePrevious, withAnyDetection },
    classes,
    hitlist: hitlist.summary,
    ...(await ixpSection(q, db, day, (id) => asLevel(meta.get(id)?.level ?? detLevels.get(id)))),
    quality: await dayQuality(ch, day),
    ...(await backendsSection(ch, day, opts.homeCountry ?? null)),
  };
}

/** IXP deployment: members ranked by IoT hosts, per class, and the traffic to IoT backends; nothing for an ISP. */
async function ixpSection(q: TolerantReader, db: string, day: string, levelOf: (classId: string) => Level): Promise<{ ixp?: ReportData['ixp'] }> {
  const units = `(SELECT line, member_asn, member_name, via FROM ${db}.${TABLES.ixpUnits} FINAL WHERE day = {d:Date})`;
  const via = await q.all<{ via: string; n: string }>(`SELECT via, count() AS n FROM ${units} GROUP BY via`, { d: day });
  if (via.length === 0) return {};
  const attribution = { mac: 0, as: 0, prefix: 0, none: 0 };
  for (const r of via) if (r.via in attribution) attribution[r.via as keyof typeof attribution] = num(r.n);
  const dets = `(SELECT DISTINCT line, class_id FROM ${db}.${TABLES.detections} FINAL WHERE day = {d:Date} AND window = 'day')`;
  const perClass = await q.all<{ member_asn: string; member_name: string; class_id: string; hosts: string }>(
    `SELECT u.member_asn AS member_asn, any(u.member_name) AS member_name, d.class_id AS class_id, uniqExact(d.line) AS hosts
     FROM ${dets} AS d INNER JOIN ${units} AS u ON d.line = u.line GROUP BY member_asn, class_id`,
    { d: day },
  );
  const perMember = await q.all<{ member_asn: string; hosts: string }>(
    `SELECT u.member_asn AS member_asn, uniqExact(d.line) AS hosts FROM ${dets} AS d INNER JOIN ${units} AS u ON d.line = u.line GROUP BY member_asn`,
    { d: day },
  );
  const bytes = await q.all<{ member_asn: string; est: string }>(
    `SELECT u.member_asn AS member_asn, sum(e.est_bytes) AS est FROM (SELECT line, est_bytes FROM ${db}.${TABLES.evidence} FINAL WHERE day = {d:Date}) AS e
     INNER JOIN ${units} AS u ON e.line = u.line GROUP BY member_asn`,
    { d: day },
  );
  const members = new Map<number, ReportMember>();
  const get = (asn: number, name: string) => {
    let m = members.get(asn);
    if (!m)
      members.set(
        asn,
        (m = { asn, name, iotHosts: 0, activeHosts: 0, shareOfActive: 0, estBytesToIot: 0, classes: [], hourly: new Array<number>(24).fill(0) }),
      );
    return m;
  };
  for (const r of perClass) get(num(r.member_asn), r.member_name).classes.push({ classId: r.class_id, level: levelOf(r.class_id), hosts: num(r.hosts) });
  for (const r of perMember) get(num(r.member_asn), '').iotHosts = num(r.hosts);
  // Active hosts: every unit attributed on the day (the detector attributes each new active host).
  const active = await q.all<{ member_asn: string; hosts: string }>(`SELECT member_asn, uniqExact(line) AS hosts FROM ${units} GROUP BY member_asn`, {
    d: day,
  });
  for (const r of active) {
    const m = members.get(num(r.member_asn));
    if (!m) continue;
    m.activeHosts = num(r.hosts);
    m.shareOfActive = m.activeHosts > 0 ? m.iotHosts / m.activeHosts : 0;
  }
  for (const r of bytes) if (members.has(num(r.member_asn))) members.get(num(r.member_asn))!.estBytesToIot = num(r.est);
  const hourly = await q.all<{ member_asn: string; slot: number | string; hosts: string }>(
    `SELECT u.member_asn AS member_asn, toUInt8(toHour(d.window_start)) AS slot, uniqExact(d.line) AS hosts
     FROM (SELECT DISTINCT line, window_start FROM ${db}.${TABLES.detections} FINAL WHERE day = {d:Date} AND window = 'hour') AS d
     INNER JOIN ${units} AS u ON d.line = u.line GROUP BY member_asn, slot`,
    { d: day },
  );
  for (const r of hourly) {
    const m = members.get(num(r.member_asn));
    const h = Number(r.slot);
    if (m && h >= 0 && h < 24) m.hourly[h] = num(r.hosts);
  }
  const order: Record<Level, number> = { platform: 0, manufacturer: 1, product: 2 };
  for (const m of members.values()) m.classes.sort((a, b) => order[a.level] - order[b.level] || b.hosts - a.hosts || a.classId.localeCompare(b.classId));
  const list = [...members.values()].sort((a, b) => b.iotHosts - a.iotHosts || a.asn - b.asn);
  return { ixp: { members: list, attribution } };
}

function asLevel(s: string | undefined): Level {
  return s === 'platform' || s === 'manufacturer' || s === 'product' ? s : 'product';
}

const num = (x: unknown): number => {
  const n = Number(x ?? 0);
  return Number.isFinite(n) ? n : 0;
};

async function hitlistSummary(
  ch: ClickHouseStore,
  q: TolerantReader,
  db: string,
  day: string,
  meta: Map<string, { name: string; level: string; detectable: boolean }>,
) {
  const names = new Map<string, string>();
  const levels = new Map<string, string>();
  for (const [id, m] of meta) {
    names.set(id, m.name);
    levels.set(id, m.level);
  }
  const byLevel: Record<Level, number> = { platform: 0, manufacturer: 0, product: 0 };
  // The hitlist of the day, or the latest built before it (what served the day).
  const built = await hitlistFigures(ch, day);
  if (built.day) {
    const h = built.day;
    const decisions = await q.all<{ class_id: string; kind: string; status: string; reason: string }>(
      `SELECT class_id, kind, status, reason FROM ${db}.${TABLES.hitlistClassDecisions} WHERE day = {h:Date} ORDER BY class_id`,
      { h },
    );
    const detectableIds: string[] = [];
    const notDetectable: { classId: string; name: string; reason: string }[] = [];
    for (const c of decisions) {
      if (!levels.has(c.class_id)) levels.set(c.class_id, c.kind);
      if (c.status === 'detectable') {
        detectableIds.push(c.class_id);
        byLevel[asLevel(c.kind)]++;
      } else if (c.status === 'removed' || c.status === 'not-detectable')
        notDetectable.push({ classId: c.class_id, name: names.get(c.class_id) ?? c.class_id, reason: c.reason });
    }
    const prev = await q.one<{ d: string }>(`SELECT toString(max(day)) AS d FROM ${db}.${TABLES.hitlistBuilds} WHERE day < {h:Date} HAVING count() > 0`, { h });
    let churn: { added: number; removed: number } | null = null;
    if (prev?.d) {
      const [c] = await q.all<{ added: string; removed: string }>(
        `SELECT
           (SELECT count() FROM (SELECT DISTINCT address, port, transport FROM ${db}.${TABLES.hitlistEntries} WHERE day = {h:Date})
              WHERE (address, port, transport) NOT IN (SELECT address, port, transport FROM ${db}.${TABLES.hitlistEntries} WHERE day = {p:Date})) AS added,
           (SELECT count() FROM (SELECT DISTINCT address, port, transport FROM ${db}.${TABLES.hitlistEntries} WHERE day = {p:Date})
              WHERE (address, port, transport) NOT IN (SELECT address, port, transport FROM ${db}.${TABLES.hitlistEntries} WHERE day = {h:Date})) AS removed`,
        { h, p: prev.d },
      );
      churn = { added: num(c?.added), removed: num(c?.removed) };
    }
    return {
      names,
      levels,
      detectableIds,
      summary: {
        day: h,
        detectableClasses: detectableIds.length,
        byLevel,
        notDetectable,
        dedicatedAddresses: built.addresses,
        entries: built.entries,
        churn,
      },
    };
  }
  // No history in this database: what the detector recorded about the hitlist that served the day.
  const hl = await q.one<{ hitlist_day: string; entries: string; addresses: string }>(
    `SELECT toString(hitlist_day) AS hitlist_day, entries, addresses FROM ${db}.${TABLES.hitlists} FINAL WHERE day = {d:Date} ORDER BY hitlist_day DESC, version DESC LIMIT 1`,
    { d: day },
  );
  const detectableIds = [...meta].filter(([, m]) => m.detectable).map(([id]) => id);
  for (const id of detectableIds) byLevel[asLevel(meta.get(id)!.level)]++;
  return {
    names,
    levels,
    detectableIds,
    summary: {
      day: hl?.hitlist_day ?? null,
      detectableClasses: detectableIds.length,
      byLevel,
      notDetectable: [...meta]
        .filter(([, m]) => !m.detectable)
        .map(([id, m]) => ({ classId: id, name: m.name, reason: 'no rule in the hitlist (hitlist history not in this database: reasons unknown)' })),
      dedicatedAddresses: num(hl?.addresses),
      entries: num(hl?.entries),
      churn: null,
    },
  };
}

/** Where the IoT traffic goes: present when the hitlist that served the day was built with backend data. */
async function backendsSection(ch: ClickHouseStore, day: string, homeCountry: string | null): Promise<{ backends?: ReportData['backends'] }> {
  const b = await backendFigures(ch, day, { homeCountry, homeContinent: continentOf(homeCountry) });
  return b.hitlistDay ? { backends: b } : {};
}
