import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Console and API tokens: a file of `name:token` lines (0600). A request proves itself with
 * `Authorization: Bearer <token>`, or in a browser with the session cookie the sign-in form sets
 * (HttpOnly, SameSite=Strict, holding a per-process session id, never the token). The name is
 * what the lookup audit records as "who". Tokens are compared as SHA-256 digests in constant time.
 */
export class ConsoleAuthError extends Error {}

export interface TokenStore {
  /** The name of the token's holder, or null. */
  verify(token: string): string | null;
  readonly names: string[];
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function loadTokens(path: string): TokenStore {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConsoleAuthError(`console tokens file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (e as Error).message}`);
  }
  if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0)
    throw new ConsoleAuthError(`console tokens file ${path} is readable by others: chmod 600 ${path}`);
  const entries: { name: string; digest: Buffer }[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z0-9_.@-]{1,64}):(\S{24,})$/.exec(line);
    if (!m) throw new ConsoleAuthError(`console tokens file ${path} line ${i + 1}: expected "name:token" (token of at least 24 characters)`);
    entries.push({ name: m[1]!, digest: digest(m[2]!) });
  }
  if (entries.length === 0) throw new ConsoleAuthError(`console tokens file ${path} holds no token`);
  return {
    names: entries.map((e) => e.name),
    verify(token: string): string | null {
      const d = digest(token);
      let who: string | null = null;
      for (const e of entries) if (timingSafeEqual(d, e.digest)) who ??= e.name;
      return who;
    },
  };
}

/** Create the tokens file with one `admin` token when it does not exist (exclusive create, 0600). */
export function ensureTokensFile(path: string): { created: boolean } {
  if (existsSync(path)) return { created: false };
  mkdirSync(dirname(path), { recursive: true });
  try {
    writeFileSync(path, `# haystack console tokens: name:token per line (chmod 600)\nadmin:${randomBytes(24).toString('base64url')}\n`, {
      mode: 0o600,
      flag: 'wx',
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return { created: false };
    throw e;
  }
  chmodSync(path, 0o600);
  return { created: true };
}

/** The first token of a tokens file (what `haystack report` uses to reach a running console). */
export function firstToken(path: string): string | null {
  try {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const m = /^[A-Za-z0-9_.@-]{1,64}:(\S{24,})$/.exec(line.trim());
      if (m) return m[1]!;
    }
  } catch {
    return null;
  }
  return null;
}

/** Browser sessions: random ids → token holder, in memory (a restart signs everyone out). */
export class Sessions {
  private readonly byId = new Map<string, { who: string; expires: number }>();
  constructor(private readonly ttlMs = 8 * 3600_000) {}
  create(who: string): string {
    const id = randomBytes(24).toString('base64url');
    this.byId.set(id, { who, expires: Date.now() + this.ttlMs });
    return id;
  }
  get(id: string | undefined): string | null {
    if (!id) return null;
    const s = this.byId.get(id);
    if (!s) return null;
    if (s.expires < Date.now()) {
      this.byId.delete(id);
      return null;
    }
    return s.who;
  }
  drop(id: string | undefined): void {
    if (id) this.byId.delete(id);
  }
}
