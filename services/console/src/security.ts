import type { ErrorResponse } from './api-types.js';
import type { FastifyRequest } from 'fastify';
import { errorPage } from './pages.js';
import { CSP, HttpError, parseCookies, STATUS_TEXT } from './http.js';
import type { ConsoleContext } from './context.js';

const isApi = (req: FastifyRequest) => req.url.startsWith('/api/');

/**
 * Who is asking and what they may do: bearer tokens for the API, the session cookie for pages
 * (behind sign-in beyond loopback), forms only from the console's own pages (CSRF), a strict
 * Content-Security-Policy and no caching on every answer, and errors that say what is wrong.
 */
export function installSecurity(c: Omit<ConsoleContext, 'requireToken'>): void {
  const { app, config, log, tokens, sessions, internal, ctxOf } = c;
  const cc = config.console;
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
    if (isApi(req)) return reply.status(status).send({ error: STATUS_TEXT[status] ?? 'Error', message } satisfies ErrorResponse);
    return reply
      .status(status)
      .type('text/html; charset=utf-8')
      .send(errorPage(ctxOf(req), status, message));
  });
  app.setNotFoundHandler((req, reply) => {
    if (isApi(req)) return reply.status(404).send({ error: 'Not Found', message: `no such API path: ${req.url.split('?')[0]}` } satisfies ErrorResponse);
    return reply
      .status(404)
      .type('text/html; charset=utf-8')
      .send(errorPage(ctxOf(req), 404, `no page at ${req.url.split('?')[0]}`));
  });
}
