/** What the console's routes share: day and class parameters, errors with a status, cookies. */
const DAY_RE = '^\\d{4}-\\d{2}-\\d{2}$';
export const daySchema = { type: 'string', pattern: DAY_RE, description: 'UTC day, YYYY-MM-DD' } as const;
export const CLASS_RE = '^[a-z0-9][a-z0-9._-]{0,63}$';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function checkDay(d: string, what = 'day'): string {
  if (!new RegExp(DAY_RE).test(d) || Number.isNaN(Date.parse(`${d}T00:00:00Z`)) || new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10) !== d)
    throw new HttpError(400, `${what} ${JSON.stringify(d)} is not a calendar day (YYYY-MM-DD)`);
  return d;
}

export const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function parseCookies(h: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (h ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

/** Only a path of this console after sign-in (no open redirect). */
export function safeNext(n: unknown): string {
  const s = typeof n === 'string' ? n : '/';
  return /^\/(?!\/)[A-Za-z0-9/_\-.?=&%]*$/.test(s) ? s : '/';
}
