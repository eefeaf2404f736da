import { isV4Mapped, parseAddress, parsePrefix } from '@haystack/common';
import type { LineIds } from '@haystack/store';

/**
 * What a support or abuse desk types into the per-line lookup, turned into the line ids the
 * detector stored: an IPv4 address, an IPv6 address (its line prefix), a prefix (every line in
 * it, up to MAX_LINES), or a stored id (a 32-hex-digit pseudonym, or a raw id). With daily key
 * rotation an address has a different pseudonym each day: one id per line and day.
 */
export const MAX_LINES = 4096;
export const MAX_DAYS = 31;

export class LookupError extends Error {}

const DAY_MS = 86_400_000;
const dayNumber = (day: string) => Math.floor(Date.parse(`${day}T00:00:00Z`) / DAY_MS);

export interface ResolvedLookup {
  /** Line ids to search for. */
  ids: string[];
  /** How many lines (addresses or line prefixes) the query covers. */
  lines: number;
  kind: 'id' | 'address' | 'prefix';
}

export function resolveLookup(query: string, from: string, to: string, lineIds: LineIds): ResolvedLookup {
  const q = query.trim();
  const days = dayNumber(to) - dayNumber(from) + 1;
  if (!(days >= 1 && days <= MAX_DAYS)) throw new LookupError(`day range must cover 1 to ${MAX_DAYS} days, got ${from} .. ${to}`);
  if (/^[0-9a-f]{32}$/i.test(q)) return { ids: [q.toLowerCase()], lines: 1, kind: 'id' };
  const dayNums = lineIds.rotation === 'daily' && !lineIds.raw ? Array.from({ length: days }, (_, i) => dayNumber(from) + i) : [dayNumber(from)];
  let prefix: { bytes: Uint8Array; bits: number };
  try {
    prefix = q.includes('/') ? parsePrefix(q) : { bytes: parseAddress(q), bits: 128 };
  } catch {
    throw new LookupError(`not an address, a prefix or a line id: ${JSON.stringify(q.slice(0, 80))}`);
  }
  const v4 = isV4Mapped(prefix.bytes) && q.includes('.');
  // Lines inside the query (128-bit space): IPv4 addresses, or IPv6 line prefixes.
  const unitBits = v4 ? 128 : lineIds.prefixLength;
  const spanBits = Math.max(0, unitBits - prefix.bits);
  const count = 2 ** spanBits;
  if (count > MAX_LINES) throw new LookupError(`${q} covers ${count.toLocaleString('en-US')} lines; at most ${MAX_LINES} per lookup (a longer prefix)`);
  let base = 0n;
  for (const b of prefix.bytes) base = (base << 8n) | BigInt(b);
  const cut = BigInt(128 - Math.min(unitBits, prefix.bits));
  base = (base >> cut) << cut;
  const ids = new Set<string>();
  for (let k = 0; k < count; k++) {
    const a = base + (BigInt(k) << BigInt(128 - unitBits));
    const w = [96n, 64n, 32n, 0n].map((s) => Number((a >> s) & 0xffffffffn));
    for (const d of dayNums) ids.add(lineIds.id(w[0]!, w[1]!, w[2]!, w[3]!, v4, d));
  }
  return { ids: [...ids], lines: count, kind: count === 1 && !q.includes('/') ? 'address' : 'prefix' };
}
