import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAddress } from '@haystack/common';
import { DatasetError, type EnrichOptions } from '@haystack/backends';
import { enrichHitlist, type BuildBackends } from './backends.js';
import { CertFallback, type CertResolution } from './certfallback.js';
import { diffHitlists, type Churn } from './churn.js';
import { classify, type Classification, type DomainOutcome } from './classify.js';
import { Window } from './days.js';
import { HITLIST_FORMAT, type Hitlist, type HitlistEntry, type Transport } from '@haystack/hitlist-contract';
import type { CertInput } from './input/certs.js';
import type { PdnsInput } from './input/pdns.js';
import type { InputReportJSON } from './input/report.js';
import { PdnsResolver, type DomainResolution, type FamilyResolution, type ResolveStats } from './resolve.js';
import { membersOf, type Dictionary, type DomainDef } from '@haystack/rules';
import { policySchema, type Policy } from '@haystack/rules';

export interface BuildOptions {
  /** The build day D (UTC, YYYY-MM-DD); the window is the `lookbackDays` days ending on D. */
  day: string;
  rules: Dictionary;
  pdns: readonly PdnsInput[];
  certs?: readonly CertInput[];
  /** Overrides of the dictionary's policy (rules/policy.yaml), e.g. from CLI flags. */
  policy?: Partial<Policy>;
  /** Parent of the temporary spill directory (default: the OS temp dir). Removed afterwards. */
  tmpDir?: string;
  /** Day D−1's hitlist, for the churn. */
  previous?: Hitlist | null;
  now?: Date;
  onProgress?: (msg: string, data: Record<string, unknown>) => void;
  /** Enrich the hitlist's addresses with where they live (config `backends`); absent or null: not done. */
  backends?: EnrichOptions | null;
}

export interface BuildReport {
  day: string;
  window: { from: string; to: string; days: number };
  policy: Policy;
  rulesDigest: string;
  inputs: { pdns: InputReportJSON[]; certs: InputReportJSON[] };
  resolve: ResolveStats;
  domains: Record<string, number>;
  classes: Record<string, number>;
  levels: Record<string, number>;
  entries: number;
  addresses: number;
  seconds: number;
}

export interface BuildResult {
  hitlist: Hitlist;
  classification: Classification;
  churn: Churn | null;
  report: BuildReport;
  /** Where the hitlist's backends live, when asked (opts.backends). */
  backends?: BuildBackends;
  /** Why they are not there although asked (a dataset that cannot be read). */
  backendsError?: string;
}

const tally = (xs: string[]) => {
  const o: Record<string, number> = {};
  for (const x of xs) o[x] = (o[x] ?? 0) + 1;
  return o;
};

/**
 * Steps 2–6 of the method for day D: addresses, dedicated domains, classes and levels, the
 * hitlist. Dedication is decided over the whole window; the hitlist holds the addresses an
 * evidence domain resolved to on D itself (policy.hitlistAddresses: "window" for all of the
 * window's), plus certificate-derived addresses of the window.
 */
export async function buildHitlist(opts: BuildOptions): Promise<BuildResult> {
  const t0 = performance.now();
  const policy = policySchema.parse({ ...opts.rules.policy, ...stripUndefined(opts.policy ?? {}) });
  const window = new Window(opts.day, policy.lookbackDays);
  const dict = opts.rules;
  const tmp = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'haystack-hitlist-'));
  try {
    // Generic domains never count: they are not even resolved.
    const candidates = dict.domains.filter((d) => d.generic === null);
    // One maker: a class in common, counting a maker's or platform's products as its own.
    const closure = new Map<DomainDef, Set<string>>();
    const membersOfUsers = (d: DomainDef) => {
      let c = closure.get(d);
      if (!c) closure.set(d, (c = new Set(d.usedBy.flatMap((u) => [...membersOf(dict, u)]))));
      return c;
    };
    const resolver = new PdnsResolver(candidates, {
      sameMaker: (a, b) => b.usedBy.some((u) => membersOfUsers(a).has(u)) || a.usedBy.some((u) => membersOfUsers(b).has(u)),
      window,
      maxCnameDepth: policy.maxCnameDepth,
      maxReverseDepth: policy.maxReverseDepth,
      tmpDir: tmp,
      onProgress: opts.onProgress,
    });
    const pdnsReports = await resolver.collect(opts.pdns);
    const resolutions = new Map<string, DomainResolution>(resolver.evaluate().map((r) => [r.key, r]));

    const missing = candidates.filter((d) => resolutions.get(d.key)!.status === 'no-data');
    let certResults = new Map<string, CertResolution>();
    let certReports: InputReportJSON[] = [];
    if (missing.length && opts.certs?.length) {
      const fb = new CertFallback(missing, { window, tmpDir: tmp });
      const { results, reports } = await fb.run(opts.certs);
      certResults = new Map(results.map((r) => [r.key, r]));
      certReports = reports.map((r) => r.toJSON());
    }

    const outcomes: DomainOutcome[] = dict.domains.map((def) => {
      if (def.generic) {
        const g = def.generic;
        return { def, status: 'generic', via: null, addresses: new Map(), reason: `generic: matches ${g.kind} ${g.value} (${g.file}:${g.line}: ${g.why})` };
      }
      const r = resolutions.get(def.key)!;
      const notes = r.notes.length ? `; ${r.notes.join('; ')}` : '';
      const fam = r.family;
      if (fam && (r.status === 'dedicated' || r.status === 'shared'))
        return {
          def,
          status: r.status,
          via: 'passive-dns',
          addresses: r.addresses,
          family: fam,
          reason: `${r.status}: ${familyAccount(fam)}${notes}`,
        };
      if (r.status === 'dedicated')
        return {
          def,
          status: 'dedicated',
          via: 'passive-dns',
          addresses: r.addresses,
          reason: `dedicated: ${r.addresses.size} address(es), exclusive on every day of the window${notes}`,
        };
      if (r.status === 'shared') {
        const f = r.shared[0]!;
        return {
          def,
          status: 'shared',
          via: 'passive-dns',
          addresses: r.addresses,
          reason: `shared: ${r.sharedPairs} address-day(s) not exclusive, e.g. ${f.address} on ${f.day} also serves ${f.foreign.join(', ')}${notes}`,
        };
      }
      const c = certResults.get(def.key);
      if (c && c.status === 'dedicated') {
        const extra = [
          c.inconsistent ? `${c.inconsistent} address(es) left out as inconsistent` : '',
          c.rejectedCount ? `${c.rejectedCount} certificate(s) rejected for unrelated or excepted names` : '',
        ]
          .filter(Boolean)
          .join('; ');
        return {
          def,
          status: 'dedicated',
          via: 'certificate',
          addresses: c.addresses,
          reason: `dedicated via certificate: no passive DNS address; ${c.addresses.size} address(es) presenting ${c.certificates.length} qualifying certificate(s) with the same banner hash${extra ? `; ${extra}` : ''}`,
        };
      }
      const certNote = c
        ? `; certificates: ${c.notes.join('; ')}${c.rejected.length ? ` (e.g. ${c.rejected[0]!.fingerprint.slice(0, 12)}… also names ${c.rejected[0]!.names.join(', ')})` : ''}`
        : opts.certs?.length
          ? ''
          : '; no certificate data given';
      return { def, status: 'unresolved', via: null, addresses: new Map(), reason: `unresolved: ${r.notes.join('; ')}${certNote}` };
    });

    const classification = classify(dict, outcomes, policy);
    const hitlist = assemble(opts.day, window, dict, outcomes, classification, opts.now ?? new Date(), policy.hitlistAddresses);
    const churn = opts.previous ? diffHitlists(opts.previous, hitlist) : null;
    const addresses = new Set(hitlist.entries.map((e) => e.address)).size;
    const report: BuildReport = {
      day: opts.day,
      window: hitlist.window,
      policy,
      rulesDigest: dict.digest,
      inputs: { pdns: pdnsReports.map((r) => r.toJSON()), certs: certReports },
      resolve: resolver.stats,
      domains: tally(outcomes.map((o) => (o.status === 'dedicated' ? `dedicated (${o.via})` : o.status))),
      classes: tally(classification.classes.map((c) => `${c.kind} ${c.status}`)),
      levels: tally(classification.rules.map((r) => r.level)),
      entries: hitlist.entries.length,
      addresses,
      seconds: (performance.now() - t0) / 1000,
    };
    // A dataset's age is judged against the day it describes (a rebuild of a past day is not made stale by time since).
    // A dataset that cannot be read costs the day its backend figures, never its hitlist: the build says why.
    let backends: BuildBackends | undefined;
    let backendsError: string | undefined;
    if (opts.backends)
      try {
        backends = await enrichHitlist(hitlist, dict, { ...opts.backends, now: opts.backends.now ?? new Date(`${opts.day}T23:59:59Z`) });
      } catch (e) {
        if (!(e instanceof DatasetError)) throw e;
        backendsError = e.message;
        opts.onProgress?.('backend data not computed', { reason: e.message });
      }
    return { hitlist, classification, churn, report, ...(backends ? { backends } : {}), ...(backendsError ? { backendsError } : {}) };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A family's name-by-name account for the build report: names matched, addresses kept and dropped, and why. */
function familyAccount(f: FamilyResolution): string {
  const parts = [
    `family: ${f.names} name(s) matched${f.excepted.length ? ` (and ${f.excepted.length} exception(s) left out: ${f.excepted.slice(0, 3).join(', ')}${f.excepted.length > 3 ? ', …' : ''})` : ''}`,
    `${f.dedicatedNames} dedicated, ${f.sharedNames} shared`,
    `${f.addressesKept} address(es) kept, ${f.addressesDropped} dropped`,
  ];
  if (f.dropped.length) {
    const d = f.dropped[0]!;
    parts.push(`e.g. ${d.name} dropped: ${d.address} on ${d.day} also serves ${d.foreign.join(', ')}`);
  }
  return parts.join('; ');
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function assemble(
  day: string,
  window: Window,
  dict: Dictionary,
  outcomes: DomainOutcome[],
  cls: Classification,
  now: Date,
  addressesOf: 'day' | 'window',
): Hitlist {
  const dayBit = 1 << (window.days - 1); // D is the window's last day
  const classIdx = new Map<string, number>();
  const classes = cls.rules.map((r, i) => {
    classIdx.set(r.class, i);
    return { id: r.class, level: r.level, name: r.name };
  });
  const evidenceDomains = cls.domains.filter((d) => d.evidenceFor.length > 0);
  const domIdx = new Map<string, number>();
  const domains = evidenceDomains.map((d, i) => {
    domIdx.set(d.domain, i);
    return { name: d.domain, role: d.role, classes: d.evidenceFor.map((c) => classIdx.get(c)!) };
  });
  const rules = cls.rules.map((r) => ({ class: classIdx.get(r.class)!, evidence: r.evidence.map((k) => domIdx.get(k)!), threshold: r.threshold }));

  const byKey = new Map<string, HitlistEntry>();
  for (const o of outcomes) {
    const di = domIdx.get(o.def.key);
    if (di === undefined) continue;
    for (const [address, days] of o.addresses) {
      if (addressesOf === 'day' && o.via === 'passive-dns' && (days & dayBit) === 0) continue;
      for (const p of o.def.ports) {
        const ts: Transport[] = p.transport === 'any' ? ['tcp', 'udp'] : [p.transport];
        for (const transport of ts) {
          const k = `${address} ${p.port} ${transport}`;
          let e = byKey.get(k);
          if (!e) byKey.set(k, (e = { address, port: p.port, transport, domains: [] }));
          if (!e.domains.includes(di)) e.domains.push(di);
        }
      }
    }
  }
  const sortKey = new Map<string, string>();
  const keyOf = (e: HitlistEntry) => {
    let s = sortKey.get(e.address);
    if (!s) sortKey.set(e.address, (s = Buffer.from(parseAddress(e.address)).toString('hex')));
    return `${s}${e.port.toString(16).padStart(4, '0')}${e.transport}`;
  };
  // One flow to an address is one piece of evidence: when two domains on one entry (a family
  // and a name it covers, nested zones, two names of one backend) are evidence of the same
  // classes, the entry keeps one, so a line is not counted twice toward a threshold.
  // On a tie the single name stays (the finer attribution), else the first.
  const familyOf = new Map(dict.domains.map((d) => [d.key, d.family]));
  const before = (o: number, d: number) => {
    const fo = familyOf.get(domains[o]!.name) ? 1 : 0;
    const fd = familyOf.get(domains[d]!.name) ? 1 : 0;
    return fo !== fd ? fo < fd : o < d;
  };
  for (const e of byKey.values()) {
    if (e.domains.length < 2) continue;
    e.domains.sort((a, b) => a - b);
    const kept: number[] = [];
    for (const d of e.domains) {
      const cs = domains[d]!.classes;
      const covered = e.domains.some(
        (o) =>
          o !== d &&
          domains[o]!.classes.length >= cs.length &&
          cs.every((c) => domains[o]!.classes.includes(c)) &&
          (domains[o]!.classes.length > cs.length || before(o, d)),
      );
      if (!covered) kept.push(d);
    }
    e.domains = kept;
  }
  const entries = [...byKey.values()]
    .map((e) => ({ e, k: keyOf(e) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map(({ e }) => {
      e.domains.sort((a, b) => a - b);
      return e;
    });
  return {
    format: HITLIST_FORMAT,
    day,
    window: { from: window.from, to: day, days: window.days },
    builtAt: now.toISOString(),
    rulesDigest: dict.digest,
    classes,
    domains,
    rules,
    entries,
  };
}
