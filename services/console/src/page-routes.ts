import type { BackendsResponse } from './api-types.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { REPORT_CSS, type ReportData } from '@haystack/report';
import type { DictionaryCoverage } from '@haystack/hitlist-contract';
import type { ConsoleContext } from './context.js';
import { checkDay, HttpError, parseCookies, safeNext } from './http.js';
import type { LiveQuality } from './live.js';
import { backendsPage, CONSOLE_CSS, dayPage, hitlistPage, loginPage, lookupPage, qualityPage, trendsPage, ttdPage } from './pages.js';
import { writeAudit, type AuditEntry, type HitlistBrowse, type LineDetection, type TimeToDetection, type Trends } from './queries.js';
import { dayOf } from '@haystack/store';

/** The HTML pages: each asks the API in-process (as the signed-in user) and renders the answer. */
export function registerPageRoutes(c: ConsoleContext): void {
  const { app, config, store, log, now, today, tokens, sessions, internal, ctxOf } = c;
  const cc = config.console;
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
  app.get<{ Querystring: { day?: string; days?: string } }>('/backends', { schema: { hide: true } }, async (req, reply) => {
    const day = checkDay(String(req.query.day || today()));
    const r = await ask<BackendsResponse>(req, `/api/v1/days/${day}/backends?${qs({ days: req.query.days ?? 14 })}`);
    // Class names as the report shows them.
    const report = await ask<ReportData>(req, `/api/v1/days/${day}/report`);
    return html(reply, backendsPage(ctxOf(req), r, new Map(report.classes.map((c) => [c.classId, c.name]))));
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
}
