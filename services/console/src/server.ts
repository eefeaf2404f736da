import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { ClickHouseStore } from '@haystack/clickhouse';
import type { HaystackConfig, Logger } from '@haystack/common';
import { dayOf, ensureSchema, lineIdsFromConfig, type LineIds } from '@haystack/store';
import { type HitlistBuilds } from '@haystack/hitlist-contract';
import { dailyCounts, ttdByClass } from './cache.js';
import type { ConsoleContext } from './context.js';
import { HttpError } from './http.js';
import { installSecurity } from './security.js';
import { registerApiRoutes } from './api-routes.js';
import { registerPageRoutes } from './page-routes.js';
import { ensureTokensFile, loadTokens, Sessions, type TokenStore } from './auth.js';
import { GroupLagReader } from '@haystack/transport';
import { type LiveSource } from './live.js';
import { type PageContext } from './pages.js';

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
  // Response schemas document the API (OpenAPI); answers go out as the code built them, never
  // filtered by a schema (api-schemas.test.ts checks that the two agree).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.decorateRequest('who', null);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
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

  const c: ConsoleContext = { app, opts: o, config, store, log, now, today, tokens, sessions, internal, lineIds: lineIdsNow, kafkaLag, ctxOf, requireToken };
  installSecurity(c);
  registerApiRoutes(c);
  registerPageRoutes(c);
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
