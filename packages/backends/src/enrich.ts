import { ageDays, resolveDatasets, type Dataset, type DatasetPaths } from './datasets.js';
import { continentOf } from './geo.js';
import { ProviderRanges } from './providers.js';
import { lookupRanges } from './ranges.js';
import { isSpecialAddress } from './special.js';

/** Where one hitlist address lives; null where no dataset knows (counted as unknown, never guessed). */
export interface Backend {
  address: string;
  asn: number | null;
  asOrg: string | null;
  /** ISO 3166-1 alpha-2. */
  country: string | null;
  /** AF, AN, AS, EU, NA, OC, SA. */
  continent: string | null;
  /** A provider folder's id (amazon, google, …); null: in no provider's published ranges. */
  provider: string | null;
}

export interface DatasetUse extends Omit<Dataset, 'files'> {
  ageDays: number;
  /** Older than backends.maxAgeDays: said wherever its figures are shown. */
  stale: boolean;
}

export interface BackendEnrichment {
  datasets: DatasetUse[];
  backends: Backend[];
  /** Addresses no dataset row covered, per dataset. */
  unknown: { asn: number; country: number; provider: number };
}

export interface EnrichOptions extends DatasetPaths {
  maxAgeDays: number;
  now?: Date;
}

/**
 * Origin AS and organisation, country, continent and provider of each address: a few thousand a
 * day at hitlist build time (one pass over each range file), never per flow.
 */
export async function enrichAddresses(addresses: Iterable<string>, o: EnrichOptions): Promise<BackendEnrichment> {
  const now = o.now ?? new Date();
  const datasets = resolveDatasets(o);
  const list = [...new Set(addresses)].sort();
  const by = (k: Dataset['kind']) => datasets.find((d) => d.kind === k)!;
  // Special-purpose addresses (documentation, private, …) are in no network, country or cloud by
  // the public lists; an operator's own copy (a configured path) is taken as given, its own space included.
  const special = (k: 'asn' | 'country' | 'providers') => (a: string) => o[k] === null && isSpecialAddress(a);
  const asn = await lookupRanges(
    by('asn').files,
    list.filter((a) => !special('asn')(a)),
  );
  const country = await lookupRanges(
    by('country').files,
    list.filter((a) => !special('country')(a)),
  );
  const providers = new ProviderRanges(by('providers').files, o.providers === null);
  const unknown = { asn: 0, country: 0, provider: 0 };
  const backends = list.map((address): Backend => {
    const a = asn.get(address);
    const n = a ? Number(a.fields[0]) : NaN;
    const c = country.get(address)?.fields[0]?.toUpperCase() || null;
    const p = special('providers')(address) ? null : providers.lookup(address);
    if (!a || !Number.isInteger(n) || n <= 0) unknown.asn++;
    if (!c) unknown.country++;
    if (!p) unknown.provider++;
    return {
      address,
      asn: a && Number.isInteger(n) && n > 0 ? n : null,
      asOrg: a && Number.isInteger(n) && n > 0 ? (a.fields[1] ?? '').trim() || null : null,
      country: c,
      continent: continentOf(c),
      provider: p,
    };
  });
  return {
    datasets: datasets.map(({ files: _files, ...d }) => {
      const age = ageDays(d.date, now);
      return { ...d, ageDays: age, stale: age > o.maxAgeDays };
    }),
    backends,
    unknown,
  };
}
