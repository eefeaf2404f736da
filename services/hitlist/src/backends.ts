import { enrichAddresses, makerTokens, PartyBook, type Backend, type DatasetUse, type EnrichOptions, type Party } from '@haystack/backends';
import type { Hitlist } from '@haystack/hitlist-contract';
import type { Dictionary } from '@haystack/rules';
import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Where the built hitlist's backends live (issue: where the IoT data goes): every address
 * enriched once per build, and every (domain, class) of the hitlist with the domain's party for
 * the class's maker. Written beside the hitlist (backends.json) and into the history tables,
 * where the report and the console join it with the detector's backend traffic.
 */
export interface BuildBackends {
  datasets: DatasetUse[];
  backends: Backend[];
  unknown: { asn: number; country: number; provider: number };
  parties: { domain: string; classId: string; party: Party }[];
}

/** The names a class's maker goes by: a product's manufacturer, a manufacturer, a platform and its operator. */
function tokensOf(dict: Dictionary, classId: string): string[] {
  const c = dict.classes.get(classId);
  if (!c) return makerTokens(classId);
  if (c.kind === 'product') {
    const m = c.manufacturer ? dict.classes.get(c.manufacturer) : undefined;
    return makerTokens(m?.id ?? c.manufacturer, m?.name, c.operator);
  }
  return makerTokens(c.id, c.name, c.operator);
}

export async function enrichHitlist(h: Hitlist, dict: Dictionary, o: EnrichOptions, book = new PartyBook()): Promise<BuildBackends> {
  const e = await enrichAddresses(
    h.entries.map((x) => x.address),
    o,
  );
  const parties: BuildBackends['parties'] = [];
  for (const d of h.domains)
    for (const ci of d.classes) {
      const classId = h.classes[ci]!.id;
      parties.push({ domain: d.name, classId, party: book.party(d.name, tokensOf(dict, classId)) });
    }
  return { datasets: e.datasets, backends: e.backends, unknown: e.unknown, parties };
}

/** The enrichment the configuration asks for (`backends`), or null when it is off. */
export function backendsOptions(config: {
  backends: { enabled: boolean; asn: string | null; country: string | null; providers: string | null; maxAgeDays: number };
}): EnrichOptions | null {
  const b = config.backends;
  return b.enabled ? { asn: b.asn, country: b.country, providers: b.providers, maxAgeDays: b.maxAgeDays } : null;
}

/** A day's backends.json, checked before anything is recorded from it. */
export const backendsFileSchema = z.object({
  datasets: z.array(
    z.object({
      kind: z.enum(['asn', 'country', 'providers']),
      name: z.string(),
      path: z.string(),
      date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
      licence: z.string(),
      attribution: z.string(),
      ageDays: z.number(),
      stale: z.boolean(),
    }),
  ),
  backends: z.array(
    z.object({
      address: z.string().refine((a) => isIP(a) !== 0, 'not an IP address'),
      asn: z.number().nullable(),
      asOrg: z.string().nullable(),
      country: z.string().nullable(),
      continent: z.string().nullable(),
      provider: z.string().nullable(),
    }),
  ),
  unknown: z.object({ asn: z.number(), country: z.number(), provider: z.number() }),
  parties: z.array(z.object({ domain: z.string(), classId: z.string(), party: z.enum(['first', 'support', 'third', 'unknown']) })),
});

/** One line for the build's summary. */
export function backendsSummary(b: BuildBackends): string {
  const n = b.backends.length;
  const providers = new Map<string, number>();
  for (const x of b.backends) providers.set(x.provider ?? 'none', (providers.get(x.provider ?? 'none') ?? 0) + 1);
  const top = [...providers]
    .sort((a, c) => c[1] - a[1])
    .slice(0, 4)
    .map(([p, k]) => `${p} ${k}`)
    .join(', ');
  const stale = b.datasets.filter((d) => d.stale).map((d) => `${d.kind} ${d.date} (${d.ageDays} days old)`);
  return (
    `backends: ${n} addresses (${top}); unknown AS ${b.unknown.asn}, country ${b.unknown.country}, no cloud provider ${b.unknown.provider}` +
    (stale.length ? `; stale data: ${stale.join(', ')}` : '')
  );
}
