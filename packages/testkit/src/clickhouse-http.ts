import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A ClickHouse HTTP endpoint for tests that run several processes against one database: the
 * embedded engine (chdb, the same engine as the server) behind the subset of ClickHouse's HTTP
 * interface that @clickhouse/client speaks — `GET /ping`, `POST /` with the statement in the body
 * or, with data in the body, in the `query` parameter, `param_*` query parameters, errors as
 * status 500 with `X-ClickHouse-Exception-Code` and a `Code: N. DB::Exception: ...` body.
 * chdb allows one process per data directory; this process is that one. Requests run one at a
 * time. No modern ClickHouse server installs on this machine (CONTRIBUTING.md): this is not one,
 * only its protocol in front of its engine. 127.0.0.1 only.
 */
export interface ClickHouseHttp {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** Statements answered so far (inserts among them). */
  readonly requests: number;
  readonly inserts: number;
  /** Delay every INSERT by this long (a slow server); may be changed while running. */
  insertDelayMs: number;
  stop(): Promise<void>;
}

interface ChdbError {
  code?: string | number;
  type?: string;
  message?: string;
}

export async function serveClickHouseHttp(opts: { path: string; insertDelayMs?: number }): Promise<ClickHouseHttp> {
  const { createChdbConnection } = await import('chdb/connection');
  const conn = createChdbConnection({ path: opts.path });
  const run = (query: string, values: string | undefined, params: Record<string, string>) =>
    conn.exec({ query, ...(values !== undefined ? { values } : {}), ...(Object.keys(params).length ? { query_params: params } : {}) } as Parameters<
      typeof conn.exec
    >[0]);
  // A server quotes 64-bit integers in JSON by default; chdb does not unless told.
  await run('SET output_format_json_quote_64bit_integers = 1', undefined, {});
  let chain: Promise<unknown> = Promise.resolve();
  const state = { requests: 0, inserts: 0, insertDelayMs: opts.insertDelayMs ?? 0 };

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (u.pathname === '/ping') {
      res.end('Ok.\n');
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const params: Record<string, string> = {};
    for (const [k, v] of u.searchParams) if (k.startsWith('param_')) params[k.slice(6)] = v;
    const inUrl = u.searchParams.get('query');
    const query = inUrl ?? body;
    const values = inUrl !== null && body.length > 0 ? body : undefined;
    const insert = /^\s*INSERT\b/i.test(query);
    const work = chain.then(async () => {
      if (insert && state.insertDelayMs > 0) await new Promise((r) => setTimeout(r, state.insertDelayMs));
      const r = await run(query, values, params);
      const out: Buffer[] = [];
      for await (const c of r.stream as AsyncIterable<Buffer | string>) out.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
      return { out: Buffer.concat(out), summary: (r as { summary?: unknown }).summary };
    });
    chain = work.catch(() => undefined);
    try {
      const { out, summary } = await work;
      state.requests++;
      if (insert) state.inserts++;
      res.writeHead(200, {
        'Content-Type': 'text/plain; charset=UTF-8',
        'X-ClickHouse-Query-Id': u.searchParams.get('query_id') ?? '',
        'X-ClickHouse-Summary': JSON.stringify(summary ?? {}),
      });
      res.end(out);
    } catch (e) {
      const err = e as ChdbError;
      const code = String(err.code ?? 1000);
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Exception-Code': code });
      res.end(`Code: ${code}. DB::Exception: ${err.message ?? String(e)}. (${err.type ?? 'UNKNOWN_EXCEPTION'}) (version chdb)\n`);
    }
  };

  const server = createServer((req, res) => {
    answer(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(e));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    get inserts() {
      return state.inserts;
    },
    get insertDelayMs() {
      return state.insertDelayMs;
    },
    set insertDelayMs(ms: number) {
      state.insertDelayMs = ms;
    },
    stop() {
      stopped ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        await chain;
        await conn.close();
      })();
      return stopped;
    },
  };
}
