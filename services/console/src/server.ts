import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { ClickHouseStore } from '@haystack/clickhouse';
import type { HaystackConfig, Logger } from '@haystack/common';
import { dayOf, ensureSchema, lineIdsFromConfig, type LineIds } from '@haystack/store';
import { BuildFilesError, MissingDayError, type DictionaryCoverage, type HitlistBuilds } from '@haystack/hitlist-contract';
import { REPORT_CSS, type ReportData } from '@haystack/report';
import { cachedReport, dailyCounts, ttdByClass } from './cache.js';
import { ensureTokensFile, loadTokens, Sessions, type TokenStore } from './auth.js';
import { GroupLagReader } from '@haystack/transport';
import { storedQuality, type LiveQuality, type LiveSource } from './live.js';
import { LookupError, resolveLookup } from './lookup.js';
import { CONSOLE_CSS, dayPage, errorPage, hitlistPage, loginPage, lookupPage, qualityPage, trendsPage, ttdPage, type PageContext } from './pages.js';
import {
  queryAudit,
  queryHitlist,
  queryLines,
  queryTimeToDetection,
  queryTrends,
  writeAudit,
  type AuditEntry,
  type HitlistBrowse,
  type LineDetection,
  type TimeToDetection,
  type Trends,
} from './queries.js';

/**
 * The operator console: pages and the JSON API in one fastify server. Hosted by `haystack run`
 * (sharing its ClickHouse store: embedded chdb allows one process per data directory) or on
 * its own (`haystack console`, against a ClickHouse server). The pages render what the API
 * answers: each page handler asks the API in-process (fastify inject) with a per-process
 * credential, acting for the signed-in user.
 */
export interface ConsoleOptions {
  config: HaystackConfig;
  log: Logger;
  store: ClickHouseStore;
  /** The hosting process's live counters (absent: the day's stored figures). */
  live?: LiveSource;
  /**
   * The hitlist builder's side (the dictionary's coverage, recording a built day in the history),
   * from whoever assembles the process; absent, those two endpoints answer 503.
   */
  hitlistBuilds?: HitlistBuilds;
  /** Clock (tests). */
  now?: () => Date;
}

export interface ConsoleServer {
  readonly app: FastifyInstance;
  /** http://host:port once listening. */
  readonly url: string | null;
  start(): Promise<string>;
  /** Settles when the start-up cache warm-up (past days of the default trend and time-to-detection ranges) is done. */
  warmed(): Promise<void>;
  stop(): Promise<void>;
}

/** Where a running console announces itself, so `haystack report` can reach it. */
export const endpointFile = (config: HaystackConfig): string => join(resolve(config.stateDir), 'console', 'endpoint.json');
export const tokensFileOf = (config: HaystackConfig): string => resolve(config.console.tokensFile ?? join(config.stateDir, 'console', 'tokens'));

const DAY_RE = '^\\d{4}-\\d{2}-\\d{2}$';
const daySchema = { type: 'string', pattern: DAY_RE, description: 'UTC day, YYYY-MM-DD' } as const;
const CLASS_RE = '^[a-z0-9][a-z0-9._-]{0,63}$';

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

function checkDay(d: string, what = 'day'): string {
  if (!new RegExp(DAY_RE).test(d) || Number.isNaN(Date.parse(`${d}T00:00:00Z`)) || new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10) !== d)
    throw new HttpError(400, `${what} ${JSON.stringify(d)} is not a calendar day (YYYY-MM-DD)`);
  return d;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function parseCookies(h: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (h ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

declare module 'fastify' {
  interface FastifyRequest {
    who: string | null;
  }
}

export async function createConsole(o: ConsoleOptions): Promise<ConsoleServer> {
  const { config, store } = o;
  const log = o.log.child({ component: 'console' });
  const now = o.now ?? (() => new Date());
  const today = () => dayOf(now().getTime());
  const cc = config.console;

  const tokensPath = tokensFileOf(config);
  if (ensureTokensFile(tokensPath).created)
    log.info({ path: tokensPath }, 'created the console tokens file with one token (admin): use it to sign in and for the API');
  const tokens: TokenStore = loadTokens(tokensPath);
  const sessions = new Sessions();
  // The pages' credential for asking the API in-process; never leaves this process.
  const internal = randomBytes(32).toString('base64url');
  let lineIds: LineIds | null = null;
  const lineIdsNow = () => (lineIds ??= lineIdsFromConfig(config, log));
  // Refused lookups are audited too, also while the lookup is disabled.
  await ensureSchema(store, { console: true });
  // Hitlist builds recorded for `hitlist build` while this process holds the store, one at a time.
  let recording: Promise<unknown> = Promise.resolve();
  // With Kafka between ingest and detectors, the quality page asks the brokers for the detector group's lag
  // (briefly: a page must not hang on brokers that are down; it shows why the figure is missing).
  const kafkaLag =
    config.kafka.brokers.length > 0
      ? new GroupLagReader(config.kafka, { client: { connectionTimeout: 2_000, requestTimeout: 5_000, retry: { retries: 1, initialRetryTime: 100 } } })
      : null;

  const app: FastifyInstance = Fastify({
    // No fastify logger: failures are logged by the error handler below, requests are not.
    logger: false,
    bodyLimit: 64 * 1024,
    trustProxy: false,
    // An unknown parameter is a mistake to report (400), not to drop silently.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  });
  app.decorateRequest('who', null);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Haystack console API',
        version: '1',
        description:
          'Everything the console pages show, as JSON. Authenticate with `Authorization: Bearer <token>` (a token from the console tokens file). ' +
          'Bad parameters are answered with 400 and a reason.',
      },
      components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
      security: [{ token: [] }],
    },
  });

  const isApi = (req: FastifyRequest) => req.url.startsWith('/api/');
  // Who is asking: a bearer token (API), the session cookie (pages), or the pages' own credential acting for the signed-in user.
  app.addHook('onRequest', async (req) => {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) {
      const t = auth.slice(7).trim();
      if (t === internal) {
        const on = req.headers['x-haystack-on-behalf-of'];
        req.who = typeof on === 'string' && on ? on : '(console page)';
        (req as { internal?: boolean }).internal = true;
      } else req.who = tokens.verify(t);
      return;
    }
    // A state-changing API call needs a token: a session cookie rides along with any request the browser sends (CSRF).
    if (req.method !== 'GET' && req.method !== 'HEAD' && isApi(req)) return;
    req.who = sessions.get(parseCookies(req.headers.cookie).hs_session);
  });
  // Pages behind sign-in when configured, and always when the console listens beyond loopback.
  const listenHost = (cc.listen ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const pagesNeedSignIn = cc.pagesNeedSignIn || !['127.0.0.1', '::1', 'localhost'].includes(listenHost);
  app.addHook('preHandler', async (req, reply) => {
    if (!pagesNeedSignIn || req.who || isApi(req) || req.method !== 'GET') return;
    const path = req.url.split('?')[0]!;
    if (path === '/login' || path.startsWith('/assets/')) return;
    return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
  });
  // Forms are only accepted from the console's own pages: a cross-site POST (another origin's page) is refused.
  app.addHook('onRequest', async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    // Browsers say where a request comes from in Sec-Fetch-Site; older ones only in Origin (which
    // is "null" here: Referrer-Policy no-referrer). Tools without either (curl, the CLI) carry a token.
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin;
    let foreign = false;
    if (typeof site === 'string') foreign = site !== 'same-origin' && site !== 'none';
    else if (typeof origin === 'string' && origin !== 'null') {
      try {
        foreign = new URL(origin).host !== req.headers.host;
      } catch {
        foreign = true;
      }
    }
    if (foreign) throw new HttpError(403, 'refused: the request came from another site (only the console’s own pages may send forms)');
  });
  app.addHook('onSend', async (req, reply) => {
    reply.header('Content-Security-Policy', CSP);
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('X-Frame-Options', 'DENY');
    if (!req.url.startsWith('/assets/')) reply.header('Cache-Control', 'no-store');
  });
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const status = err instanceof HttpError ? err.statusCode : err.validation ? 400 : (err.statusCode ?? 500);
    // A deliberate HttpError says what is wrong; anything else at 5xx is an internal error.
    const message = status >= 500 && !(err instanceof HttpError) ? 'internal error (see the console log)' : err.message;
    if (status >= 500) log.error({ err, url: req.url }, 'console request failed');
    if (isApi(req)) return reply.status(status).send({ error: STATUS_TEXT[status] ?? 'Error', message });
    return reply
      .status(status)
      .type('text/html; charset=utf-8')
      .send(errorPage(ctxOf(req), status, message));
  });
  app.setNotFoundHandler((req, reply) => {
    if (isApi(req)) return reply.status(404).send({ error: 'Not Found', message: `no such API path: ${req.url.split('?')[0]}` });
    return reply
      .status(404)
      .type('text/html; charset=utf-8')
      .send(errorPage(ctxOf(req), 404, `no page at ${req.url.split('?')[0]}`));
  });
  const ctxOf = (req: FastifyRequest, refresh?: number): PageContext => {
    // The day the page shows (/day/D, ?day=D, ?to=D): the navigation keeps it.
    const q = (req.query ?? {}) as Record<string, unknown>;
    const asked = (req.params as { day?: unknown } | undefined)?.day ?? q.day ?? q.to;
    const day = typeof asked === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(asked) ? asked : undefined;
    return {
      path: req.url.split('?')[0]!,
      who: (req as { internal?: boolean }).internal ? null : req.who,
      lookupEnabled: cc.lookup.enabled,
      refreshSeconds: refresh,
      unit: config.deployment === 'ixp' ? 'host' : 'line',
      day,
    };
  };
  const requireToken = (req: FastifyRequest) => {
    if (!req.who) throw new HttpError(401, 'authentication required: send Authorization: Bearer <token> (a token from the console tokens file)');
  };

  // ------------------------------------------------------------------------------------------
  // API
  const api = (tag: string, summary: string, extra: Record<string, unknown> = {}) => ({ schema: { tags: [tag], summary, ...extra } });

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/api/v1/health', api('meta', 'Liveness: the console answers (no authentication, no data)', { security: [] }), async () => ({
    ok: true,
    storage: store.mode,
    deployment: config.deployment,
    lookup: cc.lookup.enabled,
  }));
  app.get<{ Params: { day: string } }>(
    '/api/v1/days/:day/report',
    api('reports', "A day's detection report (the ReportData of `haystack report --format json`); today's is what has arrived so far", {
      params: { type: 'object', properties: { day: daySchema }, required: ['day'] },
    }),
    async (req): Promise<ReportData> => {
      requireToken(req);
      // A past day's report is served from the cache while nothing it was computed from changed.
      const r = await cachedReport(store, checkDay(req.params.day), today(), now());
      return r.data;
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
    api('trends', 'Per class and level, detected lines per day over the range, with absolute and relative change', { querystring: rangeQuery }),
    async (req): Promise<Trends> => {
      requireToken(req);
      if (req.query.days < 2) throw new HttpError(400, 'days must be at least 2 for a trend');
      return queryTrends(store, checkDay(req.query.to ?? today(), 'to'), req.query.days);
    },
  );
  app.get<{ Querystring: { to?: string; days: number } }>(
    '/api/v1/time-to-detection',
    api('detection', 'Per class: minutes from first evidence to hourly detection (quartiles, p90, histogram), and lines only the daily window detected', {
      querystring: rangeQuery,
    }),
    async (req): Promise<TimeToDetection> => {
      requireToken(req);
      return queryTimeToDetection(store, checkDay(req.query.to ?? today(), 'to'), req.query.days);
    },
  );
  app.get<{ Querystring: { day?: string; class?: string; limit: number } }>(
    '/api/v1/hitlist',
    api(
      'hitlist',
      "The hitlist of a day (or the latest build before it): classes and domains with the build's decisions and reasons, dedicated entries, churn",
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
    async (req): Promise<HitlistBrowse> => {
      requireToken(req);
      return queryHitlist(store, checkDay(req.query.day ?? today()), { classId: req.query.class, limit: req.query.limit });
    },
  );
  // The dictionary the detector uses (detector.rulesDir, else the shipped rules/), read again
  // at most once a minute (an edited dictionary shows without a restart).
  let coverage: { at: number; value: DictionaryCoverage } | null = null;
  app.get(
    '/api/v1/rules',
    api(
      'hitlist',
      'What the IoT dictionary covers: per maker and platform the finest detection level, products, families (zones, regional twins, numbered shards), regions and sources, with the dictionary date and digest',
      {},
    ),
    async (req): Promise<DictionaryCoverage> => {
      requireToken(req);
      const now = Date.now();
      if (!coverage || now - coverage.at > 60_000) {
        try {
          if (!o.hitlistBuilds) throw new HttpError(503, 'this process has no access to the IoT dictionary');
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
      { params: { type: 'object', properties: { day: daySchema }, required: ['day'] } },
    ),
    async (req): Promise<{ day: string; builtAt: string; entries: number; classes: number; domains: number }> => {
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
      "Data quality: this process's live counters (records, sampling, sequence gaps, losses, socket drops, consumer lag, storage backlog) when it collects, else the day's stored figures (health snapshots)",
      {
        querystring: {
          type: 'object',
          properties: { day: { ...daySchema, description: "a past day's stored figures (default: today, live when this process collects)" } },
          additionalProperties: false,
        },
      },
    ),
    async (req): Promise<LiveQuality> => {
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
      {
        body: lookupBody,
      },
    ),
    async (req, reply): Promise<{ query: string; from: string; to: string; lines: number; raw: boolean; results: LineDetection[] }> => {
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
    api('lookup', 'The lookup audit log, newest first', {
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 } }, additionalProperties: false },
    }),
    async (req) => {
      requireToken(req);
      if (!cc.lookup.enabled) throw new HttpError(403, 'the per-line lookup is disabled (console.lookup.enabled)');
      return queryAudit(store, req.query.limit);
    },
  );

  // ------------------------------------------------------------------------------------------
  // Pages: each asks the API in-process, for the signed-in user.
  const ask = async <T>(req: FastifyRequest, url: string, body?: unknown): Promise<T> => {
    const r = await app.inject({
      method: body === undefined ? 'GET' : 'POST',
      url,
      headers: { authorization: `Bearer ${internal}`, ...(req.who ? { 'x-haystack-on-behalf-of': req.who } : {}) },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    const data = r.json() as T & { message?: string };
    if (r.statusCode !== 200) throw new HttpError(r.statusCode, data.message ?? `API answered ${r.statusCode}`);
    return data;
  };
  const html = (reply: FastifyReply, s: string) => reply.type('text/html; charset=utf-8').send(s);
  const qs = (o: Record<string, string | number | undefined>) =>
    new URLSearchParams(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '') as [string, string][]).toString();

  app.get('/assets/console.css', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('Cache-Control', 'max-age=300').send(CONSOLE_CSS),
  );
  app.get('/assets/report.css', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('Cache-Control', 'max-age=300').send(REPORT_CSS),
  );
  app.get('/', { schema: { hide: true } }, async (req, reply) => {
    const d = today();
    return html(reply, dayPage(ctxOf(req, cc.refreshSeconds), await ask<ReportData>(req, `/api/v1/days/${d}/report`), true));
  });
  app.get<{ Querystring: { day?: string } }>('/day', { schema: { hide: true } }, async (req, reply) =>
    reply.redirect(`/day/${encodeURIComponent(checkDay(String(req.query.day ?? today())))}`, 303),
  );
  app.get<{ Params: { day: string } }>('/day/:day', { schema: { hide: true } }, async (req, reply) => {
    const d = checkDay(req.params.day);
    const isToday = d === today();
    return html(reply, dayPage(ctxOf(req, isToday ? cc.refreshSeconds : undefined), await ask<ReportData>(req, `/api/v1/days/${d}/report`), isToday));
  });
  app.get<{ Querystring: { to?: string; days?: string } }>('/trends', { schema: { hide: true } }, async (req, reply) =>
    html(reply, trendsPage(ctxOf(req), await ask<Trends>(req, `/api/v1/trends?${qs({ to: req.query.to, days: req.query.days ?? cc.trendDays })}`))),
  );
  app.get<{ Querystring: { to?: string; days?: string } }>('/time-to-detection', { schema: { hide: true } }, async (req, reply) =>
    html(reply, ttdPage(ctxOf(req), await ask<TimeToDetection>(req, `/api/v1/time-to-detection?${qs({ to: req.query.to, days: req.query.days ?? 7 })}`))),
  );
  app.get<{ Querystring: { day?: string; class?: string } }>('/hitlist', { schema: { hide: true } }, async (req, reply) => {
    const day = req.query.day || today();
    const cls = req.query.class || undefined;
    return html(
      reply,
      hitlistPage(
        ctxOf(req),
        await ask<HitlistBrowse>(req, `/api/v1/hitlist?${qs({ day, class: cls })}`),
        day,
        cls,
        // The hitlist shows even when the dictionary cannot be read; the section says why.
        await ask<DictionaryCoverage>(req, '/api/v1/rules').catch((e: Error) => e.message),
      ),
    );
  });
  app.get<{ Querystring: { day?: string } }>('/quality', { schema: { hide: true } }, async (req, reply) => {
    const past = req.query.day !== undefined && req.query.day !== today();
    return html(
      reply,
      qualityPage(ctxOf(req, past ? undefined : cc.refreshSeconds), await ask<LiveQuality>(req, `/api/v1/quality?${qs({ day: req.query.day })}`)),
    );
  });
  app.get<{ Querystring: { next?: string } }>('/login', { schema: { hide: true } }, async (req, reply) =>
    html(reply, loginPage(ctxOf(req), safeNext(req.query.next))),
  );
  app.post<{ Body: { token?: string; next?: string } }>('/login', { schema: { hide: true } }, async (req, reply) => {
    const who = tokens.verify(String(req.body?.token ?? ''));
    const next = safeNext(req.body?.next);
    if (!who) {
      log.warn({ client: req.ip }, 'console sign-in refused: unknown token');
      return html(reply.status(401), loginPage(ctxOf(req), next, 'Unknown token.'));
    }
    const id = sessions.create(who);
    reply.header('Set-Cookie', `hs_session=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=28800${secure(req)}`);
    return reply.redirect(next, 303);
  });
  app.post('/logout', { schema: { hide: true } }, async (req, reply) => {
    sessions.drop(parseCookies(req.headers.cookie).hs_session);
    reply.header('Set-Cookie', `hs_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure(req)}`);
    return reply.redirect('/', 303);
  });
  /** The cookie's Secure attribute behind TLS (console.behindTls, or the proxy says https). */
  const secure = (req: FastifyRequest) =>
    cc.behindTls ||
    String(req.headers['x-forwarded-proto'] ?? '')
      .split(',')[0]!
      .trim() === 'https'
      ? '; Secure'
      : '';
  const lookupDefaults = () => ({ query: '', from: dayOf(now().getTime() - 6 * 86_400_000), to: today() });
  app.get('/lookup', { schema: { hide: true } }, async (req, reply) => {
    if (!cc.lookup.enabled) throw new HttpError(403, 'the per-line lookup is disabled: set console.lookup.enabled');
    if (!req.who) return reply.redirect(`/login?next=${encodeURIComponent('/lookup')}`, 303);
    return html(reply, lookupPage(ctxOf(req), lookupDefaults(), undefined, undefined, await ask<AuditEntry[]>(req, '/api/v1/lookup/audit?limit=20')));
  });
  app.post<{ Body: { query?: string; from?: string; to?: string } }>('/lookup', { schema: { hide: true } }, async (req, reply) => {
    const form = { query: String(req.body?.query ?? ''), from: String(req.body?.from ?? ''), to: String(req.body?.to ?? '') };
    if (!cc.lookup.enabled || !req.who) {
      // Audited as refused, like an API call without a token or while the lookup is disabled.
      await writeAudit(store, {
        at: now().toISOString(),
        who: req.who ?? '(unauthenticated)',
        query: form.query.slice(0, 100),
        from: '1970-01-01',
        to: '1970-01-01',
        lines: 0,
        results: 0,
        allowed: false,
        client: req.ip,
      });
      if (!cc.lookup.enabled) throw new HttpError(403, 'the per-line lookup is disabled: set console.lookup.enabled');
      return html(reply.status(401), loginPage(ctxOf(req), '/lookup', 'Sign in to look up a line.'));
    }
    try {
      const r = await ask<{ lines: number; raw: boolean; results: LineDetection[] }>(req, '/api/v1/lookup', form);
      return html(reply, lookupPage(ctxOf(req), form, r, undefined, await ask<AuditEntry[]>(req, '/api/v1/lookup/audit?limit=20')));
    } catch (e) {
      if (e instanceof HttpError && e.statusCode === 400) return html(reply.status(400), lookupPage(ctxOf(req), form, undefined, e.message));
      throw e;
    }
  });
  await app.ready();

  let url: string | null = null;
  let warming: Promise<void> = Promise.resolve();
  const endpoint = endpointFile(config);
  return {
    app,
    get url() {
      return url;
    },
    async start() {
      const listen = cc.listen;
      if (!listen) throw new Error('console.listen is not set');
      const i = listen.lastIndexOf(':');
      const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
      const port = Number(listen.slice(i + 1));
      try {
        await app.listen({ host, port });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw Object.assign(
          new Error(`console cannot listen on ${listen}: ${code === 'EADDRINUSE' ? 'the port is in use' : (e as Error).message} (console.listen)`),
          {
            userFacing: true,
            exitCode: 1,
          },
        );
      }
      const a = app.server.address();
      const p = typeof a === 'object' && a ? a.port : port;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${p}`;
      mkdirSync(dirname(endpoint), { recursive: true });
      const tmp = `${endpoint}.tmp-${process.pid}`;
      writeFileSync(tmp, `${JSON.stringify({ url, pid: process.pid, startedAt: new Date().toISOString() })}\n`);
      renameSync(tmp, endpoint);
      log.info({ url, tokens: tokensPath }, 'console listening');
      // Count the past days of the default ranges now, so the first trend and time-to-detection pages do not wait for it.
      warming = (async () => {
        const yesterday = dayOf(now().getTime() - 86_400_000);
        await dailyCounts(store, dayOf(now().getTime() - cc.trendDays * 86_400_000), yesterday);
        await ttdByClass(store, dayOf(now().getTime() - 7 * 86_400_000), yesterday);
      })().catch((err: unknown) => log.warn({ err }, 'console cache warm-up failed (pages compute on demand)'));
      return url;
    },
    warmed: () => warming,
    async stop() {
      await app.close();
      await warming;
      await kafkaLag?.close().catch(() => undefined);
      try {
        const cur = JSON.parse(readFileSync(endpoint, 'utf8')) as { pid?: number };
        if (cur.pid === process.pid) rmSync(endpoint, { force: true });
      } catch {
        // none written, or another process's
      }
    },
  };
}

/** Only a path of this console after sign-in (no open redirect). */
function safeNext(n: unknown): string {
  const s = typeof n === 'string' ? n : '/';
  return /^\/(?!\/)[A-Za-z0-9/_\-.?=&%]*$/.test(s) ? s : '/';
}
