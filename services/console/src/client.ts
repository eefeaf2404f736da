import { readFileSync } from 'node:fs';
import type { HaystackConfig } from '@haystack/common';
import type { ReportData } from '@haystack/report';
import { firstToken } from './auth.js';
import { endpointFile, tokensFileOf } from './server.js';

/**
 * How a command reaches the running process's console when that process holds the embedded
 * ClickHouse data directory (chdb allows one process per directory): the endpoint file the
 * console wrote, the first token of the tokens file, the JSON API.
 */
export class ConsoleUnreachableError extends Error {
  readonly userFacing = true;
  readonly exitCode = 1;
}

export function runningConsole(config: HaystackConfig): { url: string; pid: number; token: string } | null {
  let ep: { url?: unknown; pid?: unknown };
  try {
    ep = JSON.parse(readFileSync(endpointFile(config), 'utf8')) as typeof ep;
  } catch {
    return null;
  }
  if (typeof ep.url !== 'string' || typeof ep.pid !== 'number') return null;
  try {
    process.kill(ep.pid, 0); // still alive?
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return null;
  }
  const token = firstToken(tokensFileOf(config));
  if (!token) return null;
  return { url: ep.url, pid: ep.pid, token };
}

/** A day's report from the running console's API. */
export async function fetchReport(c: { url: string; token: string }, day: string): Promise<ReportData> {
  let r: Response;
  try {
    r = await fetch(`${c.url}/api/v1/days/${encodeURIComponent(day)}/report`, { headers: { authorization: `Bearer ${c.token}` } });
  } catch (e) {
    throw new ConsoleUnreachableError(`the running console at ${c.url} does not answer (${(e as Error).message})`);
  }
  const body = (await r.json().catch(() => ({}))) as ReportData & { message?: string };
  if (r.status !== 200) throw new ConsoleUnreachableError(`the running console at ${c.url} answered ${r.status}: ${body.message ?? 'no reason given'}`);
  return body;
}
