import type { ClickHouseStore } from '@haystack/clickhouse';
import { TolerantReader } from './reader.js';
import { TABLES } from './tables.js';

/**
 * Where a day's IoT traffic goes (one query set for the report, the console and the API): the
 * renormalised bytes and flows the detector stored per line and backend address
 * (detector_backend_traffic), joined with the hitlist that served them (the classes an address
 * is evidence for, where it lives, its domains' party), per class and in total; the detected
 * lines per provider; and which lines depend on one provider alone.
 */

/** One slice of a breakdown: bytes and flows to backends of this key, and the detected lines among the senders. */
export interface Slice {
  key: string;
  /** A readable label (the organisation of an AS, a provider's name); the key when none. */
  label: string;
  estBytes: number;
  flows: number;
  /** estBytes / the whole (0..1). */
  share: number;
  /** Lines detected with the class (all classes: with any class) that sent traffic to this slice. */
  lines: number;
}

export interface Breakdowns {
  estBytes: number;
  flows: number;
  /** Lines detected with the class (or any class) that sent traffic to its backends. */
  lines: number;
  byProvider: Slice[];
  byOrg: Slice[];
  byCountry: Slice[];
  byContinent: Slice[];
  byParty: Slice[];
  /** Share of the bytes to backends outside deployment's home country / continent; null: no home country set. */
  outsideCountry: number | null;
  outsideContinent: number | null;
  /** Share of the bytes whose backend's country no dataset knows. */
  unknownCountry: number;
}

export interface ClassBackends extends Breakdowns {
  classId: string;
}

/** A what-if that cannot be answered (no backend data for the day, a provider the day's backends are never in): for the operator. */
export class BackendDataError extends Error {
  readonly userFacing = true;
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'BackendDataError';
  }
}

export interface Dependence {
  provider: string;
  /** '' for the provider as a whole; else the one country all the classes' backends are in. */
  country: string;
  /** Detected lines with at least one class whose backends are all there. */
  lines: number;
  classes: string[];
}

export interface BackendDataset {
  kind: string;
  name: string;
  date: string;
  licence: string;
  attribution: string;
  ageDays: number;
  stale: boolean;
}

export interface BackendFigures {
  /** The hitlist build whose enrichment is used (the latest on or before the day); null: none recorded with backends. */
  hitlistDay: string | null;
  homeCountry: string | null;
  datasets: BackendDataset[];
  /** Hitlist addresses of that build, and how many no dataset placed. */
  addresses: number;
  unknown: { asn: number; country: number; provider: number };
  all: Breakdowns;
  classes: ClassBackends[];
  /** Ranked by lines: what an outage of each provider (or provider in one country) would cut off. */
  dependence: Dependence[];
  /** IXP: per member, bytes to IoT backends and the share leaving the home country / continent. */
  members?: { asn: number; name: string; estBytes: number; outsideCountry: number | null; outsideContinent: number | null }[];
}

const num = (x: unknown): number => {
  const n = Number(x ?? 0);
  return Number.isFinite(n) ? n : 0;
};

/** The traffic of the day with the serving hitlist's place of each backend ('' where unknown). */
function trafficSql(db: string): string {
  return `
    (SELECT t.line AS line, t.backend AS backend, t.hitlist_day AS hd, t.b AS b, t.f AS f,
            k.provider AS provider, toString(k.asn) AS asn, k.as_org AS org, k.country AS country, k.continent AS continent
     FROM (SELECT line, backend, hitlist_day, sum(est_bytes) AS b, sum(flows) AS f FROM ${db}.${TABLES.backendTraffic} FINAL
           WHERE day = {d:Date} GROUP BY line, backend, hitlist_day) AS t
     LEFT JOIN (SELECT day, address, any(provider) AS provider, any(asn) AS asn, any(as_org) AS as_org, any(country) AS country, any(continent) AS continent
                FROM ${db}.${TABLES.hitlistBackends}
                WHERE day IN (SELECT DISTINCT hitlist_day FROM ${db}.${TABLES.backendTraffic} WHERE day = {d:Date})
                GROUP BY day, address) AS k
       ON k.day = t.hitlist_day AND k.address = t.backend)`;
}

/** (hitlist day, address, class, party): the classes an address serves, with its domains' party for the class's maker. */
function servesSql(db: string): string {
  return `
    (SELECT e.day AS hd, e.address AS address, e.class_id AS class_id,
            if(min(multiIf(p.party = 'first', 1, p.party = 'support', 2, p.party = 'third', 3, 4)) = 1, 'first',
               if(min(multiIf(p.party = 'first', 1, p.party = 'support', 2, p.party = 'third', 3, 4)) = 2, 'support',
                  if(min(multiIf(p.party = 'first', 1, p.party = 'support', 2, p.party = 'third', 3, 4)) = 3, 'third', 'unknown'))) AS party
     FROM ${db}.${TABLES.hitlistEntries} AS e
     LEFT JOIN ${db}.${TABLES.hitlistParties} AS p ON p.day = e.day AND p.domain = e.domain AND p.class_id = e.class_id
     WHERE e.day IN (SELECT DISTINCT hitlist_day FROM ${db}.${TABLES.backendTraffic} WHERE day = {d:Date})
     GROUP BY hd, address, class_id)`;
}

const DIMS = {
  provider: { col: 'provider', label: 'provider' },
  org: { col: 'asn', label: 'any(org)' },
  country: { col: 'country', label: 'country' },
  continent: { col: 'continent', label: 'continent' },
  party: { col: 'party', label: 'party' },
} as const;

/** `homeCountry` (ISO alpha-2) and its continent (AF … SA): the shares leaving them; null: not computed. */
export async function backendFigures(
  ch: ClickHouseStore,
  day: string,
  opts: { homeCountry?: string | null; homeContinent?: string | null } = {},
): Promise<BackendFigures> {
  const q = new TolerantReader(ch);
  const db = ch.database;
  const home = opts.homeCountry ?? null;
  const homeContinent = home ? (opts.homeContinent ?? null) : null;
  const hitlistDay = await servedHitlistDay(q, db, day);
  const datasets: BackendDataset[] = hitlistDay
    ? (
        await q.all<{ kind: string; name: string; date: string; licence: string; attribution: string; age: string; stale: number | string }>(
          `SELECT kind, name, toString(data_date) AS date, licence, attribution, age_days AS age, stale FROM ${db}.${TABLES.hitlistDatasets}
           WHERE day = {h:Date} ORDER BY kind`,
          { h: hitlistDay },
        )
      ).map((r) => ({
        kind: r.kind,
        name: r.name,
        date: r.date,
        licence: r.licence,
        attribution: r.attribution,
        ageDays: num(r.age),
        stale: Number(r.stale) === 1,
      }))
    : [];
  const [addr] = hitlistDay
    ? await q.all<{ n: string; asn: string; country: string; provider: string }>(
        `SELECT count() AS n, countIf(asn = 0) AS asn, countIf(country = '') AS country, countIf(provider = '') AS provider
         FROM ${db}.${TABLES.hitlistBackends} WHERE day = {h:Date}`,
        { h: hitlistDay },
      )
    : [];
  const traffic = trafficSql(db);
  const serves = servesSql(db);
  const detected = `(SELECT DISTINCT line, class_id FROM ${db}.${TABLES.detections} WHERE day = {d:Date} AND window = 'day')`;
  const anyDetected = `(SELECT DISTINCT line FROM ${db}.${TABLES.detections} WHERE day = {d:Date} AND window = 'day')`;

  // Per class and dimension value: bytes, flows, detected lines (the class detected on the line).
  const perClass = async (dim: keyof typeof DIMS) => {
    const d = DIMS[dim];
    const src = dim === 'party' ? 's.party' : `t.${d.col}`;
    const label = dim === 'org' ? 'any(t.org)' : src;
    return q.all<{ class_id: string; k: string; label: string; b: string; f: string; lines: string }>(
      `SELECT s.class_id AS class_id, ${src} AS k, ${label} AS label, sum(t.b) AS b, sum(t.f) AS f,
              uniqExactIf(t.line, (t.line, s.class_id) IN ${detected}) AS lines
       FROM ${traffic} AS t INNER JOIN ${serves} AS s ON s.hd = t.hd AND s.address = t.backend
       GROUP BY class_id, k ORDER BY class_id, b DESC`,
      { d: day },
    );
  };
  // All IoT traffic (each byte once, whatever classes its backend serves).
  const whole = async (dim: Exclude<keyof typeof DIMS, 'party'>) => {
    const d = DIMS[dim];
    const label = dim === 'org' ? 'any(t.org)' : `t.${d.col}`;
    return q.all<{ k: string; label: string; b: string; f: string; lines: string }>(
      `SELECT t.${d.col} AS k, ${label} AS label, sum(t.b) AS b, sum(t.f) AS f, uniqExactIf(t.line, t.line IN ${anyDetected}) AS lines
       FROM ${traffic} AS t GROUP BY k ORDER BY b DESC`,
      { d: day },
    );
  };
  const slices = (rows: { k: string; label: string; b: string; f: string; lines: string }[], total: number, dim: keyof typeof DIMS): Slice[] =>
    rows.map((r) => {
      const key = dim === 'org' ? (r.k === '0' ? '' : `AS${r.k}`) : r.k;
      return {
        key: key || 'unknown',
        label: key ? (dim === 'org' ? `${key} ${r.label}`.trim() : r.label || key) : dim === 'provider' ? 'none of the listed providers' : 'unknown',
        estBytes: num(r.b),
        flows: num(r.f),
        share: total > 0 ? num(r.b) / total : 0,
        lines: num(r.lines),
      };
    });
  const breakdowns = (get: (dim: keyof typeof DIMS) => Slice[], estBytes: number, flows: number, lines: number): Breakdowns => {
    const byCountry = get('country');
    const byContinent = get('continent');
    const out = (xs: Slice[], keep: (k: string) => boolean) =>
      estBytes > 0 ? xs.filter((x) => x.key !== 'unknown' && keep(x.key)).reduce((s, x) => s + x.estBytes, 0) / estBytes : 0;
    return {
      estBytes,
      flows,
      lines,
      byProvider: get('provider'),
      byOrg: get('org'),
      byCountry,
      byContinent,
      byParty: get('party'),
      outsideCountry: home ? out(byCountry, (k) => k !== home) : null,
      outsideContinent: home && homeContinent ? out(byContinent, (k) => k !== homeContinent) : null,
      unknownCountry: estBytes > 0 ? (byCountry.find((x) => x.key === 'unknown')?.estBytes ?? 0) / estBytes : 0,
    };
  };

  const per = {
    provider: await perClass('provider'),
    org: await perClass('org'),
    country: await perClass('country'),
    continent: await perClass('continent'),
    party: await perClass('party'),
  };
  const totals = await q.all<{ class_id: string; b: string; f: string; lines: string }>(
    `SELECT s.class_id AS class_id, sum(t.b) AS b, sum(t.f) AS f, uniqExactIf(t.line, (t.line, s.class_id) IN ${detected}) AS lines
     FROM ${traffic} AS t INNER JOIN ${serves} AS s ON s.hd = t.hd AND s.address = t.backend GROUP BY class_id ORDER BY b DESC`,
    { d: day },
  );
  const classes: ClassBackends[] = totals.map((t) => {
    const b = num(t.b);
    return {
      classId: t.class_id,
      ...breakdowns(
        (dim) =>
          slices(
            per[dim].filter((r) => r.class_id === t.class_id),
            b,
            dim,
          ),
        b,
        num(t.f),
        num(t.lines),
      ),
    };
  });
  const wholeRows = { provider: await whole('provider'), org: await whole('org'), country: await whole('country'), continent: await whole('continent') };
  const allBytes = wholeRows.provider.reduce((s, r) => s + num(r.b), 0);
  const allFlows = wholeRows.provider.reduce((s, r) => s + num(r.f), 0);
  const allLines = num(
    (
      await q.one<{ n: string }>(`SELECT uniqExactIf(t.line, t.line IN ${anyDetected}) AS n FROM ${traffic} AS t`, {
        d: day,
      })
    )?.n,
  );
  // Party of all traffic: a byte counts once per party its backend serves (an address serving two makers may be first for one, third for another).
  const partyAll = await q.all<{ k: string; label: string; b: string; f: string; lines: string }>(
    `SELECT party AS k, party AS label, sum(b) AS b, sum(f) AS f, uniqExactIf(line, line IN ${anyDetected}) AS lines FROM
       (SELECT DISTINCT t.line AS line, t.backend AS backend, t.hd AS hd, t.b AS b, t.f AS f, s.party AS party
        FROM ${traffic} AS t INNER JOIN ${serves} AS s ON s.hd = t.hd AND s.address = t.backend)
     GROUP BY k ORDER BY b DESC`,
    { d: day },
  );
  const all = breakdowns((dim) => slices(dim === 'party' ? partyAll : wholeRows[dim], allBytes, dim), allBytes, allFlows, allLines);

  const dependence = hitlistDay ? await dependenceOf(q, db, day, hitlistDay) : [];
  const members = await memberShares(q, db, day, traffic, home, homeContinent);
  return {
    hitlistDay,
    homeCountry: home,
    datasets,
    addresses: num(addr?.n),
    unknown: { asn: num(addr?.asn), country: num(addr?.country), provider: num(addr?.provider) },
    all,
    classes,
    dependence,
    ...(members.length ? { members } : {}),
  };
}

/**
 * Classes whose every backend (every hitlist address of the class in the build that served the
 * day) lies in one provider, or one provider in one country; the lines detected with any of them
 * on the day are the lines that provider's outage would cut off from their IoT backends.
 */
/**
 * The hitlist build whose backend data describes a day: the latest one that served the day's
 * traffic and was built with backend data; for a day without traffic, the latest build with
 * backend data on or before it. Dependence, what-if and the datasets shown all use this one.
 */
async function servedHitlistDay(q: TolerantReader, db: string, day: string): Promise<string | null> {
  const served = await q.one<{ d: string }>(
    `SELECT toString(max(hitlist_day)) AS d FROM ${db}.${TABLES.backendTraffic}
     WHERE day = {d:Date} AND hitlist_day IN (SELECT DISTINCT day FROM ${db}.${TABLES.hitlistDatasets}) HAVING count() > 0`,
    { d: day },
  );
  if (served?.d) return served.d;
  const built = await q.one<{ d: string }>(`SELECT toString(max(day)) AS d FROM ${db}.${TABLES.hitlistDatasets} WHERE day <= {d:Date} HAVING count() > 0`, {
    d: day,
  });
  return built?.d ?? null;
}

async function dependenceOf(q: TolerantReader, db: string, day: string, hitlistDay: string): Promise<Dependence[]> {
  const rows = await q.all<{ provider: string; country: string; lines: string; classes: string[] }>(
    `WITH homes AS (
       SELECT e.class_id AS class_id, uniqExact(k.provider) AS np, any(k.provider) AS provider, uniqExact(k.provider, k.country) AS npc, any(k.country) AS country
       FROM ${db}.${TABLES.hitlistEntries} AS e
       INNER JOIN ${db}.${TABLES.hitlistBackends} AS k ON k.day = e.day AND k.address = e.address
       WHERE e.day = {h:Date}
       GROUP BY class_id
     ),
     det AS (SELECT DISTINCT line, class_id FROM ${db}.${TABLES.detections} WHERE day = {d:Date} AND window = 'day')
     SELECT provider, '' AS country, uniqExact(det.line) AS lines, groupUniqArray(det.class_id) AS classes
       FROM det INNER JOIN homes ON homes.class_id = det.class_id WHERE homes.np = 1 AND homes.provider != '' GROUP BY provider
     UNION ALL
     SELECT provider, country, uniqExact(det.line) AS lines, groupUniqArray(det.class_id) AS classes
       FROM det INNER JOIN homes ON homes.class_id = det.class_id WHERE homes.npc = 1 AND homes.provider != '' AND homes.country != '' GROUP BY provider, country`,
    { d: day, h: hitlistDay },
  );
  return rows
    .map((r) => ({ provider: r.provider, country: r.country, lines: num(r.lines), classes: [...r.classes].sort() }))
    .sort((a, b) => b.lines - a.lines || a.provider.localeCompare(b.provider) || a.country.localeCompare(b.country));
}

/** The lines a failure of `provider` (in `country`, when given) would cut off: detected lines with a class whose backends all lie there. */
export async function whatIf(ch: ClickHouseStore, day: string, provider: string, country: string | null): Promise<{ lines: number; classes: string[] }> {
  const q = new TolerantReader(ch);
  const db = ch.database;
  const h = await servedHitlistDay(q, db, day);
  if (!h) throw new BackendDataError(`no backend data for ${day}: the hitlist that served it was built without it, or none is recorded in this database`);
  // A provider the day's backends never lie in is a typo, not an answer of 0 lines.
  const known = (
    await q.all<{ p: string }>(`SELECT DISTINCT provider AS p FROM ${db}.${TABLES.hitlistBackends} WHERE day = {h:Date} AND provider != '' ORDER BY p`, { h })
  ).map((r) => r.p);
  if (!known.includes(provider))
    throw new BackendDataError(`no backend of ${day} lies in provider ${JSON.stringify(provider)}; the day's providers: ${known.join(', ') || 'none'}`);
  const [r] = await q.all<{ lines: string; classes: string[] }>(
    `WITH homes AS (
       SELECT e.class_id AS class_id, countIf(NOT (k.provider = {p:String} AND ({c:String} = '' OR k.country = {c:String}))) AS elsewhere
       FROM ${db}.${TABLES.hitlistEntries} AS e
       INNER JOIN ${db}.${TABLES.hitlistBackends} AS k ON k.day = e.day AND k.address = e.address
       WHERE e.day = {h:Date}
       GROUP BY class_id HAVING elsewhere = 0
     )
     SELECT uniqExact(line) AS lines, groupUniqArray(d.class_id) AS classes
     FROM (SELECT DISTINCT line, class_id FROM ${db}.${TABLES.detections} WHERE day = {d:Date} AND window = 'day') AS d
     WHERE d.class_id IN (SELECT class_id FROM homes)`,
    { d: day, h, p: provider, c: country ?? '' },
  );
  return { lines: num(r?.lines), classes: [...(r?.classes ?? [])].sort() };
}

async function memberShares(
  q: TolerantReader,
  db: string,
  day: string,
  traffic: string,
  home: string | null,
  homeContinent: string | null,
): Promise<NonNullable<BackendFigures['members']>> {
  const rows = await q.all<{ asn: string; name: string; b: string; bc: string; bk: string }>(
    `SELECT u.member_asn AS asn, any(u.member_name) AS name, sum(t.b) AS b,
            sumIf(t.b, t.country != '' AND t.country != {h:String}) AS bc, sumIf(t.b, t.continent != '' AND t.continent != {hc:String}) AS bk
     FROM ${traffic} AS t INNER JOIN (SELECT line, member_asn, member_name FROM ${db}.${TABLES.ixpUnits} FINAL WHERE day = {d:Date}) AS u ON u.line = t.line
     GROUP BY asn ORDER BY b DESC`,
    { d: day, h: home ?? '', hc: homeContinent ?? '' },
  );
  return rows.map((r) => {
    const b = num(r.b);
    return {
      asn: num(r.asn),
      name: r.name,
      estBytes: b,
      outsideCountry: home && b > 0 ? num(r.bc) / b : null,
      outsideContinent: homeContinent && b > 0 ? num(r.bk) / b : null,
    };
  });
}

/** Per day over [from, to]: bytes to IoT backends per provider, and the share leaving the home country (null without one). */
export async function backendTrends(
  ch: ClickHouseStore,
  from: string,
  to: string,
  home: string | null,
): Promise<{ days: string[]; providers: { key: string; estBytes: (number | null)[] }[]; outsideCountry: (number | null)[] }> {
  const q = new TolerantReader(ch);
  const db = ch.database;
  const days: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  const rows = await q.all<{ d: string; provider: string; b: string; out: string }>(
    `SELECT toString(t.day) AS d, k.provider AS provider, sum(t.est_bytes) AS b, sumIf(t.est_bytes, k.country != '' AND k.country != {h:String}) AS out
     FROM (SELECT day, backend, hitlist_day, est_bytes FROM ${db}.${TABLES.backendTraffic} FINAL WHERE day BETWEEN {f:Date} AND {t:Date}) AS t
     LEFT JOIN (SELECT day, address, any(provider) AS provider, any(country) AS country FROM ${db}.${TABLES.hitlistBackends}
                WHERE day BETWEEN addDays({f:Date}, -31) AND {t:Date} GROUP BY day, address) AS k
       ON k.day = t.hitlist_day AND k.address = t.backend
     GROUP BY d, provider`,
    { f: from, t: to, h: home ?? '' },
  );
  const index = new Map(days.map((d, i) => [d, i]));
  const total = new Array<number | null>(days.length).fill(null);
  const out = new Array<number>(days.length).fill(0);
  const byProvider = new Map<string, (number | null)[]>();
  for (const r of rows) {
    const i = index.get(r.d);
    if (i === undefined) continue;
    total[i] = (total[i] ?? 0) + num(r.b);
    out[i]! += num(r.out);
    const key = r.provider || 'unknown';
    let a = byProvider.get(key);
    if (!a) byProvider.set(key, (a = new Array<number | null>(days.length).fill(null)));
    a[i] = (a[i] ?? 0) + num(r.b);
  }
  // A day with traffic but none to a provider is 0 for it; a day without any is a gap.
  for (const a of byProvider.values()) for (let i = 0; i < a.length; i++) if (a[i] === null && total[i] !== null) a[i] = 0;
  return {
    days,
    providers: [...byProvider].map(([key, estBytes]) => ({ key, estBytes })).sort((a, b) => sumOf(b.estBytes) - sumOf(a.estBytes)),
    outsideCountry: total.map((t, i) => (home && t !== null && t > 0 ? out[i]! / t : null)),
  };
}

const sumOf = (xs: (number | null)[]) => xs.reduce<number>((s, x) => s + (x ?? 0), 0);
