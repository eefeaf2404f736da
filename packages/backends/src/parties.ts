import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RegisteredDomains } from '@haystack/rules';

/** Whose service an IoT domain is for the device's maker (the research's first / support / third party). */
export type Party = 'first' | 'support' | 'third' | 'unknown';

export const BUNDLED_PARTIES = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'data', 'parties', 'parties.csv');

const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** The names a maker goes by: its class id, its name's first word, a platform's operator. */
export function makerTokens(...names: (string | null | undefined)[]): string[] {
  const out = new Set<string>();
  for (const n of names) {
    if (!n) continue;
    out.add(norm(n));
    const first = n.split(/[\s-]+/)[0];
    if (first && first.length >= 3) out.add(norm(first));
  }
  out.delete('');
  return [...out];
}

const sameMaker = (vendor: string, tokens: string[]) =>
  tokens.some((t) => t === vendor || (t.length >= 4 && vendor.length >= 4 && (t.startsWith(vendor) || vendor.startsWith(t))));

/**
 * Party labels by maker and registered domain (data/parties/parties.csv, derived from public
 * measurement studies). A domain's party for a maker: the label the studies give that maker's
 * devices for its registered domain; else `first` when the registered domain carries the maker's
 * name; else the label most studies give it for other makers; else `unknown` (counted, never guessed).
 */
export class PartyBook {
  private readonly byDomain = new Map<string, { vendor: string; party: Exclude<Party, 'unknown'> }[]>();
  private readonly regdoms = new RegisteredDomains();

  constructor(file = BUNDLED_PARTIES) {
    readFileSync(file, 'utf8')
      .split('\n')
      .slice(1)
      .forEach((line) => {
        const [vendor, domain, party] = line.split(',');
        if (!vendor || !domain || (party !== 'first' && party !== 'support' && party !== 'third')) return;
        let a = this.byDomain.get(domain);
        if (!a) this.byDomain.set(domain, (a = []));
        a.push({ vendor, party });
      });
  }

  /** The registered domain of a dictionary name or pattern ("a.{region}.tuyaus.com" → "tuyaus.com"). */
  registered(name: string): string {
    const tail = name.replace(/^.*[}*]\.?/, '');
    return this.regdoms.of(tail || name).toLowerCase();
  }

  party(domain: string, tokens: string[]): Party {
    const reg = this.registered(domain);
    const rows = this.byDomain.get(reg) ?? [];
    const own = rows.find((r) => sameMaker(r.vendor, tokens));
    if (own) return own.party;
    const label = norm(reg.split('.')[0] ?? '');
    if (label && tokens.some((t) => t.length >= 3 && (label.includes(t) || (label.length >= 4 && t.includes(label))))) return 'first';
    if (rows.length === 0) return 'unknown';
    const n = { first: 0, support: 0, third: 0 };
    for (const r of rows) n[r.party]++;
    // Another maker's first party is a third party for this one.
    const support = n.support;
    const third = n.third + n.first;
    return support >= third ? 'support' : 'third';
  }
}
