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

type Reachable = { url: string; token: string };

async function ask<T>(c: Reachable, method: 'GET' | 'POST', path: string): Promise<T> {
  let r: Response;
  try {
    // Bounded: a console that accepts the connection and never answers must not hang the command.
    r = await fetch(`${c.url}${path}`, { method, headers: { authorization: `Bearer ${c.token}` }, signal: AbortSignal.timeout(300_000) });
  } catch (e) {
    throw new ConsoleUnreachableError(`the running console at ${c.url} does not answer (${(e as Error).message})`);
  }
  const body = (await r.json().catch(() => ({}))) as T & { message?: string };
  if (r.status !== 200) throw new ConsoleUnreachableError(`the running console at ${c.url} answered ${r.status}: ${body.message ?? 'no reason given'}`);
  return body;
}

/** A day's report from the running console's API. */
export function fetchReport(c: Reachable, day: string): Promise<ReportData> {
  return ask(c, 'GET', `/api/v1/days/${encodeURIComponent(day)}/report`);
}

/** What an outage of one provider (in one country) would cut off, from the running console's API. */
export function fetchWhatIf(c: Reachable, day: string, provider: string, country: string | null): Promise<{ lines: number; classes: string[] }> {
  const q = new URLSearchParams({ provider, ...(country ? { country } : {}) });
  return ask(c, 'GET', `/api/v1/days/${encodeURIComponent(day)}/backends/what-if?${q}`);
}

/** Ask the running process to record the day's built hitlist files in the history (it holds the store). */
export function recordHitlistThroughConsole(
  c: Reachable,
  day: string,
): Promise<{ day: string; builtAt: string; entries: number; classes: number; domains: number }> {
  return ask(c, 'POST', `/api/v1/hitlist/days/${encodeURIComponent(day)}/record`);
}
