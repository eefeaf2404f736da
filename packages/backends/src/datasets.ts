import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The offline datasets backend enrichment reads, each with its name, date, licence and the
 * attribution its licence asks for (shown with every figure that uses it). The defaults ship
 * with Haystack (npm packages and a dated snapshot); an operator points the configuration at
 * newer copies of the same formats.
 */
export type DatasetKind = 'asn' | 'country' | 'providers';

export interface Dataset {
  kind: DatasetKind;
  name: string;
  /** Where it was read from (a directory). */
  path: string;
  /** The data's own date (YYYY-MM-DD): the package version's date, a SNAPSHOT file, else the files' newest modification. */
  date: string;
  licence: string;
  attribution: string;
  /** The files read: range CSVs (asn, country), or provider folders. */
  files: string[];
}

export interface DatasetPaths {
  /** A directory of IP→ASN range CSVs ("start,end,asn,organisation"); null: the bundled @ip-location-db/asn. */
  asn: string | null;
  /** A directory of IP→country range CSVs ("start,end,CC"); null: the bundled @ip-location-db/geo-whois-asn-country. */
  country: string | null;
  /** A directory with one folder per provider holding CIDR lists (ipv4*.txt, ipv6*.txt); null: the bundled snapshot. */
  providers: string | null;
}

/** A configured dataset that cannot be used: for the operator (the CLI prints it in one line, exit 2). */
export class DatasetError extends Error {
  readonly userFacing = true;
  readonly exitCode = 2;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DatasetError';
  }
}

const require = createRequire(import.meta.url);
/** packages/backends/data/cloud-ranges (dist/.. → data). */
export const BUNDLED_PROVIDERS = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'data', 'cloud-ranges');

const BUNDLED = {
  asn: {
    name: '@ip-location-db/asn',
    dir: () => dirname(require.resolve('@ip-location-db/asn/package.json')),
    licence: 'CC BY 4.0',
    attribution: 'IP to ASN data by RouteViews (routeviews.org) and DB-IP IP to ASN Lite (db-ip.com), via @ip-location-db/asn, CC BY 4.0',
  },
  country: {
    name: '@ip-location-db/geo-whois-asn-country',
    dir: () => dirname(require.resolve('@ip-location-db/geo-whois-asn-country/package.json')),
    licence: 'CC BY 4.0',
    attribution: 'IP to country data from RIR WHOIS by the NRO (nro.net, CC BY 4.0), GeoFeeds and ASN origin, via @ip-location-db/geo-whois-asn-country',
  },
  providers: {
    name: 'lord-alfred/ipranges',
    licence: 'CC0 1.0',
    attribution: 'Cloud provider address ranges from lord-alfred/ipranges (the providers’ own published lists), CC0 1.0',
  },
} as const;

/** "2.3.2026061719" → "2026-06-17" (@ip-location-db versions end in the build's date and hour). */
function dateOfVersion(v: unknown): string | null {
  const m = typeof v === 'string' ? /(\d{4})(\d{2})(\d{2})\d{2}$/.exec(v) : null;
  return m ? `${m[1]}-${m[2]}-${m[3]}` : null;
}

function dateOf(dir: string, files: string[]): string {
  const snap = join(dir, 'SNAPSHOT');
  if (existsSync(snap)) {
    const t = readFileSync(snap, 'utf8').trim();
    if (/^\d{4}-\d{2}-\d{2}$/.test(t)) return t;
  }
  const pkg = join(dir, 'package.json');
  if (existsSync(pkg)) {
    const d = dateOfVersion((JSON.parse(readFileSync(pkg, 'utf8')) as { version?: unknown }).version);
    if (d) return d;
  }
  if (files.length === 0) throw new DatasetError(`${dir}: no data files to date (and no SNAPSHOT file saying the data's date)`);
  const newest = Math.max(...files.map((f) => statSync(f).mtimeMs));
  return new Date(newest).toISOString().slice(0, 10);
}

function rangeFiles(kind: 'asn' | 'country', dir: string, key: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DatasetError(`${key} ${dir}: no such directory`);
  // The text-address CSVs, one per family ("…-ipv4.csv", "…-ipv6.csv"), not the numeric twins.
  const files = readdirSync(dir)
    .filter((f) => /ipv[46]\.csv$/.test(f) && !/-num\.csv$/.test(f))
    .sort()
    .map((f) => join(dir, f));
  if (files.length === 0) throw new DatasetError(`${key} ${dir}: no IP range CSV (…ipv4.csv, …ipv6.csv) for ${kind}`);
  return files;
}

/** Resolve the three datasets (bundled unless configured); a configured path that is not there is an error naming its key. */
export function resolveDatasets(p: DatasetPaths): Dataset[] {
  const out: Dataset[] = [];
  for (const kind of ['asn', 'country'] as const) {
    const configured = p[kind];
    const dir = configured ? resolve(configured) : BUNDLED[kind].dir();
    const files = rangeFiles(kind, dir, `backends.${kind}`);
    out.push({
      kind,
      name: configured ? dir : BUNDLED[kind].name,
      path: dir,
      date: dateOf(dir, files),
      licence: configured ? 'as supplied' : BUNDLED[kind].licence,
      attribution: configured ? `${kind === 'asn' ? 'IP to ASN' : 'IP to country'} data from ${dir}` : BUNDLED[kind].attribution,
      files,
    });
  }
  const pdir = p.providers ? resolve(p.providers) : BUNDLED_PROVIDERS;
  if (!existsSync(pdir) || !statSync(pdir).isDirectory()) throw new DatasetError(`backends.providers ${pdir}: no such directory`);
  const folders = readdirSync(pdir)
    .filter((f) => statSync(join(pdir, f)).isDirectory())
    .sort();
  if (folders.length === 0) throw new DatasetError(`backends.providers ${pdir}: no provider folder (one per provider, holding ipv4.txt and ipv6.txt)`);
  const pfiles = folders.flatMap((f) =>
    readdirSync(join(pdir, f))
      .filter((x) => x.endsWith('.txt'))
      .map((x) => join(pdir, f, x)),
  );
  out.push({
    kind: 'providers',
    name: p.providers ? pdir : BUNDLED.providers.name,
    path: pdir,
    date: dateOf(pdir, pfiles),
    licence: p.providers ? 'as supplied' : BUNDLED.providers.licence,
    attribution: p.providers ? `provider ranges from ${pdir}` : BUNDLED.providers.attribution,
    files: folders.map((f) => join(pdir, f)),
  });
  return out;
}

/** Whole days between the data's date and `now`. */
export function ageDays(date: string, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - Date.parse(`${date}T00:00:00Z`)) / 86_400_000));
}
