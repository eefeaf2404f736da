import { BuildFilesError, MissingDayError, type HitlistBuilds } from '@haystack/hitlist-contract';
import API_SCHEMAS from './api-schemas.json' with { type: 'json' };
import { continentOf } from '@haystack/backends';
import { addDays, BackendDataError, backendFigures, backendTrends, whatIf } from '@haystack/store';
import type {
  AuditResponse,
  BackendsResponse,
  WhatIfResponse,
  HealthResponse,
  HitlistResponse,
  LookupResponse,
  QualityResponse,
  RecordResponse,
  ReportResponse,
  RulesResponse,
  TimeToDetectionResponse,
  TrendsResponse,
} from './api-types.js';
import { cachedReport } from './cache.js';
import type { ConsoleContext } from './context.js';
import { CLASS_RE, checkDay, daySchema, HttpError } from './http.js';
import { storedQuality } from './live.js';
import { LookupError, resolveLookup } from './lookup.js';
import { queryAudit, queryHitlist, queryLines, queryTimeToDetection, queryTrends, writeAudit, type AuditEntry } from './queries.js';

/** The JSON API (/api/v1/...), described in OpenAPI: everything the pages show. */
export function registerApiRoutes(c: ConsoleContext): void {
  const { app, opts: o, config, store, log, now, today, kafkaLag, requireToken } = c;
  const cc = config.console;
  const lineIdsNow = c.lineIds;
  // Hitlist builds recorded for `hitlist build` while this process holds the store, one at a time.
  let recording: Promise<unknown> = Promise.resolve();
  // ------------------------------------------------------------------------------------------
  // API
  // Response schemas (generated from api-types.ts) document the API; they never filter an answer.
  for (const [id, schema] of Object.entries(API_SCHEMAS)) app.addSchema({ $id: id, ...schema });
  const errors = Object.fromEntries(['400', '401', '403', '404', '503'].map((code) => [code, { $ref: 'ErrorResponse#' }]));
  const api = (tag: string, summary: string, response: string, extra: Record<string, unknown> = {}) => ({
    schema: { tags: [tag], summary, response: { 200: { $ref: `${response}#` }, ...errors }, ...extra },
  });

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get(
    '/api/v1/health',
    api('meta', 'Liveness: the console answers (no authentication, no data)', 'HealthResponse', { security: [] }),
    async (): Promise<HealthResponse> => ({
      ok: true,
      storage: store.mode,
      deployment: config.deployment,
      lookup: cc.lookup.enabled,
    }),
  );
  app.get<{ Params: { day: string } }>(
    '/api/v1/days/:day/report',
    api('reports', "A day's detection report (the ReportData of `haystack report --format json`); today's is what has arrived so far", 'ReportResponse', {
      params: { type: 'object', properties: { day: daySchema }, required: ['day'] },
    }),
    async (req): Promise<ReportResponse> => {
      requireToken(req);
      // A past day's report is served from the cache while nothing it was computed from changed.
      const r = await cachedReport(store, checkDay(req.params.day), today(), now(), config.backends.homeCountry);
      return r.data;
    },
  );
  app.get<{ Params: { day: string }; Querystring: { days: number } }>(
    '/api/v1/days/:day/backends',
    api(
      'backends',
      'Where the IoT traffic of a day goes: bytes, flows and detected lines per backend provider, AS organisation, country, continent and party, per class and in total; the share leaving backends.homeCountry; the lines that depend on one provider; the datasets used with their date and licence; and per day over the range, bytes per provider',
      'BackendsResponse',
      {
        params: { type: 'object', properties: { day: daySchema }, required: ['day'] },
        querystring: {
          type: 'object',
          properties: { days: { type: 'integer', minimum: 1, maximum: 366, default: 14, description: 'days of the trend, ending on the day' } },
          additionalProperties: false,
        },
      },
    ),
    async (req): Promise<BackendsResponse> => {
      requireToken(req);
      const day = checkDay(req.params.day);
      const home = config.backends.homeCountry;
      const figures = await backendFigures(store, day, { homeCountry: home, homeContinent: continentOf(home) });
      const trend = await backendTrends(store, addDays(day, -(req.query.days - 1)), day, home);
      return { day, figures: figures.hitlistDay ? figures : null, trend };
    },
  );
  app.get<{ Params: { day: string }; Querystring: { provider: string; country?: string } }>(
    '/api/v1/days/:day/backends/what-if',
    api(
      'backends',
      'What if a provider (in one country) failed: the detected lines with a device class whose backends all lie there, and those classes',
      'WhatIfResponse',
      {
        params: { type: 'object', properties: { day: daySchema }, required: ['day'] },
        querystring: {
          type: 'object',
          properties: {
            provider: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'a provider id (amazon, google, …, a folder of backends.providers)' },
            country: { type: 'string', pattern: '^[A-Za-z]{2}$', description: 'only its backends in this country (ISO 3166-1 alpha-2)' },
          },
          required: ['provider'],
          additionalProperties: false,
        },
      },
    ),
    async (req): Promise<WhatIfResponse> => {
      requireToken(req);
      const day = checkDay(req.params.day);
      const country = req.query.country ? req.query.country.toUpperCase() : null;
      try {
        return { day, provider: req.query.provider, country, ...(await whatIf(store, day, req.query.provider, country)) };
      } catch (e) {
        if (e instanceof BackendDataError) throw new HttpError(400, e.message);
        throw e;
      }
    },
  );
  const rangeQuery = {
    type: 'object',
    properties: {
      to: { ...daySchema, description: 'last day of the range (default today)' },
      days: { type: 'integer', minimum: 1, maximum: 366, default: 30, description: 'days in the range' },
    },
    additionalProperties: false,
  };
  app.get<{ Querystring: { to?: string; days: number } }>(
    '/api/v1/trends',
    api(
      'trends',
      'Per class and level, detected lines per day over the range (null: nothing stored that day), with the change between the first and last days with data',
      'TrendsResponse',
      { querystring: rangeQuery },
    ),
    async (req): Promise<TrendsResponse> => {
      requireToken(req);
      if (req.query.days < 2) throw new HttpError(400, 'days must be at least 2 for a trend');
      return queryTrends(store, checkDay(req.query.to ?? today(), 'to'), req.query.days);
    },
  );
  app.get<{ Querystring: { to?: string; days: number } }>(
    '/api/v1/time-to-detection',
    api(
      'detection',
      'Per class: minutes from first evidence to hourly detection (quartiles, p90, histogram), and lines only the daily window detected',
      'TimeToDetectionResponse',
      {
        querystring: rangeQuery,
      },
    ),
    async (req): Promise<TimeToDetectionResponse> => {
      requireToken(req);
      return queryTimeToDetection(store, checkDay(req.query.to ?? today(), 'to'), req.query.days);
    },
  );
  app.get<{ Querystring: { day?: string; class?: string; limit: number } }>(
    '/api/v1/hitlist',
    api(
      'hitlist',
      "The hitlist of a day (or the latest build before it): classes and domains with the build's decisions and reasons, dedicated entries, churn",
      'HitlistResponse',
      {
        querystring: {
          type: 'object',
          properties: {
            day: { ...daySchema, description: 'default today' },
            class: { type: 'string', pattern: CLASS_RE, description: 'only this class' },
            limit: { type: 'integer', minimum: 1, maximum: 100_000, default: 500, description: 'entries returned at most' },
          },
          additionalProperties: false,
        },
      },
    ),
    async (req): Promise<HitlistResponse> => {
      requireToken(req);
      return queryHitlist(store, checkDay(req.query.day ?? today()), { classId: req.query.class, limit: req.query.limit });
    },
  );
  // The dictionary the detector uses (detector.rulesDir, else the shipped rules/), read again
  // at most once a minute (an edited dictionary shows without a restart).
  let coverage: { at: number; value: RulesResponse } | null = null;
  app.get(
    '/api/v1/rules',
    api(
      'hitlist',
      'What the IoT dictionary covers: per maker and platform the finest detection level, products, families (zones, regional twins, numbered shards), regions and sources, with the dictionary date and digest',
      'RulesResponse',
    ),
    async (req): Promise<RulesResponse> => {
      requireToken(req);
      const now = Date.now();
      if (!o.hitlistBuilds) throw new HttpError(503, 'this process has no access to the IoT dictionary');
      if (!coverage || now - coverage.at > 60_000) {
        try {
          coverage = { at: now, value: o.hitlistBuilds.coverage() };
        } catch (e) {
          throw new HttpError(503, `the IoT dictionary cannot be read: ${(e as Error).message.split('\n')[0]}`);
        }
      }
      return coverage.value;
    },
  );
  app.post<{ Params: { day: string } }>(
    '/api/v1/hitlist/days/:day/record',
    api(
      'hitlist',
      "Record a built day's hitlist (its files under <stateDir>/hitlist/<day>/) in the history, replacing that day's: what `haystack hitlist build` asks of the running process that holds the embedded store",
      'RecordResponse',
      { params: { type: 'object', properties: { day: daySchema }, required: ['day'] } },
    ),
    async (req): Promise<RecordResponse> => {
      requireToken(req);
      const day = checkDay(req.params.day);
      const builds = o.hitlistBuilds;
      if (!builds) throw new HttpError(503, 'this process cannot record hitlist builds');
      // One recording at a time: two interleaved would drop and insert over each other.
      const run = recording.then(() => builds.record(store, day));
      recording = run.catch(() => undefined);
      let n: Awaited<ReturnType<HitlistBuilds['record']>>;
      try {
        n = await run;
      } catch (e) {
        if (e instanceof MissingDayError) throw new HttpError(404, `no hitlist built for ${day}: ${e.message}`);
        if (e instanceof BuildFilesError) throw new HttpError(400, `the hitlist files of ${day} cannot be read: ${e.message}`);
        throw e;
      }
      log.info({ day, builtAt: n.builtAt, entries: n.entries, who: req.who }, 'hitlist history recorded for a build made while this process holds the store');
      return { day, ...n };
    },
  );
  app.get<{ Querystring: { day?: string } }>(
    '/api/v1/quality',
    api(
      'quality',
      "Data quality: this process's live counters (records, sampling, sequence gaps, losses, socket drops, consumer lag, storage backlog) when it collects, else the day's stored figures (the report's: records the detector stored, the health snapshots' counters)",
      'QualityResponse',
      {
        querystring: {
          type: 'object',
          properties: { day: { ...daySchema, description: "a past day's stored figures (default: today, live when this process collects)" } },
          additionalProperties: false,
        },
      },
    ),
    async (req): Promise<QualityResponse> => {
      requireToken(req);
      const day = checkDay(req.query.day ?? today());
      if (day !== today()) return storedQuality(store, day, now());
      const [q, kafka] = await Promise.all([o.live ? o.live() : storedQuality(store, day, now()), kafkaLag?.read()]);
      return kafka ? { ...q, kafka } : q;
    },
  );
  const lookupBody = {
    type: 'object',
    properties: {
      query: { type: 'string', minLength: 1, maxLength: 100, description: 'IPv4/IPv6 address, prefix, or a stored line id (pseudonym)' },
      from: daySchema,
      to: daySchema,
    },
    required: ['query', 'from', 'to'],
    additionalProperties: false,
  };
  app.post<{ Body: { query: string; from: string; to: string } }>(
    '/api/v1/lookup',
    api(
      'lookup',
      'Per-line lookup (personal data): classes detected on the line(s), when, and the evidence domains. Off unless console.lookup.enabled; every call is audited.',
      'LookupResponse',
      {
        body: lookupBody,
      },
    ),
    async (req, reply): Promise<LookupResponse> => {
      const { query, from, to } = req.body;
      const entry = (allowed: boolean, lines = 0, results = 0): AuditEntry & { client: string } => ({
        at: now().toISOString(),
        who: req.who ?? '(unauthenticated)',
        query,
        from: /^\d{4}-\d{2}-\d{2}$/.test(from) ? from : '1970-01-01',
        to: /^\d{4}-\d{2}-\d{2}$/.test(to) ? to : '1970-01-01',
        lines,
        results,
        allowed,
        client: req.ip,
      });
      if (!cc.lookup.enabled) {
        await writeAudit(store, entry(false));
        throw new HttpError(403, 'the per-line lookup is disabled: set console.lookup.enabled (personal data: enable it deliberately)');
      }
      if (!req.who) {
        await writeAudit(store, entry(false));
        void reply;
        throw new HttpError(401, 'the per-line lookup requires authentication: Authorization: Bearer <token>');
      }
      checkDay(from, 'from');
      checkDay(to, 'to');
      if (to < from) throw new HttpError(400, `to (${to}) is before from (${from})`);
      let resolved;
      try {
        resolved = resolveLookup(query, from, to, lineIdsNow());
      } catch (e) {
        if (e instanceof LookupError) throw new HttpError(400, e.message);
        throw e;
      }
      const results = await queryLines(store, resolved.ids, from, to);
      // Written before the answer leaves: no lookup without its audit row.
      await writeAudit(store, entry(true, resolved.lines, results.length));
      log.info({ who: req.who, lines: resolved.lines, results: results.length }, 'per-line lookup');
      return { query, from, to, lines: resolved.lines, raw: config.detector.rawLineIds, results };
    },
  );
  app.get<{ Querystring: { limit: number } }>(
    '/api/v1/lookup/audit',
    api('lookup', 'The lookup audit log, newest first', 'AuditResponse', {
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 } }, additionalProperties: false },
    }),
    async (req): Promise<AuditResponse> => {
      requireToken(req);
      if (!cc.lookup.enabled) throw new HttpError(403, 'the per-line lookup is disabled (console.lookup.enabled)');
      return queryAudit(store, req.query.limit);
    },
  );

  // ------------------------------------------------------------------------------------------
}
