import http from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './log.js';

export { Registry };

export function createRegistry(withDefaults = true): Registry {
  const reg = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: reg, prefix: 'haystack_process_' });
  return reg;
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `/metrics` in the Prometheus text format. `listen` is "host:port". */
export async function serveMetrics(reg: Registry, listen: string, log?: Logger): Promise<MetricsServer> {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(listen.slice(i + 1));
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics' || req.url?.startsWith('/metrics?')) {
      reg.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': reg.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
    } else if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  log?.info({ listen: `${host}:${bound}` }, 'metrics endpoint listening');
  return {
    port: bound,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
