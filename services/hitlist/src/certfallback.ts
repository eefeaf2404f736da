import { join } from 'node:path';
import type { Window } from './days.js';
import type { CertInput, CertNames, CertObservation } from './input/certs.js';
import { forEachLine } from './input/lines.js';
import { InputReport } from './input/report.js';
import { atOrBelow, isException, lastTwoLabels, RegisteredDomains, type NamePattern } from '@haystack/rules';
import type { DomainDef } from '@haystack/rules';
import { SpillWriter } from './spill.js';

/**
 * Certificates as a fallback for domains that passive DNS does not resolve (docs/method.md, step 3).
 *
 * A certificate qualifies for a domain when all its names (CN and SANs) lie at or below the
 * domain's registered domain and one of them covers the domain (exact, or a `*.` wildcard one
 * label up); one unrelated SAN disqualifies it. For each qualifying certificate and port,
 * the service's banner hash is the one most addresses present with it; every address that
 * presented that certificate with that banner hash on that port in the window is a service
 * address of the domain — unless, on the same port in the window, it also presented a
 * certificate that does not qualify or the same certificate with another banner (then it is
 * not one consistent service, and it is left out and counted).
 *
 * Streaming like resolve.ts: the inputs are read once, observations spill to disk, two
 * passes over the spill find the groups and check consistency.
 */
export interface CertResolution {
  key: string;
  status: 'dedicated' | 'no-data';
  addresses: Map<string, number>;
  /** Qualifying certificates (fingerprints) that contributed addresses. */
  certificates: string[];
  /** Certificates that covered the domain but carried unrelated names, first few. */
  rejected: { fingerprint: string; names: string[] }[];
  rejectedCount: number;
  /** Addresses left out as inconsistent (other certificate or banner on the same port). */
  inconsistent: number;
  notes: string[];
}

export function certCovers(p: NamePattern, c: string): boolean {
  const wild = c.startsWith('*.');
  const cs = wild ? c.slice(2) : c;
  const parent = (n: string) => n.slice(n.indexOf('.') + 1);
  switch (p.kind) {
    case 'exact':
      return wild ? parent(p.text) === cs : c === p.text;
    case 'wildcard':
      return wild ? cs === p.suffix || atOrBelow(cs, p.suffix) : c !== p.suffix && atOrBelow(c, p.suffix);
    case 'family':
      return wild ? parent(p.text.replaceAll('{n}', '0')) === cs : p.re.test(c);
  }
}

const MAX_PER_CANDIDATE = 16;

export class CertFallback {
  private readonly regdoms = new RegisteredDomains();
  /** Registered domain → indices of the domains that need it. */
  private readonly needed = new Map<string, number[]>();
  private readonly buckets = new Set<string>();
  /** Fingerprint → indices of the domains it qualifies for. */
  private readonly qualifying = new Map<string, Set<number>>();
  private readonly results: CertResolution[];

  constructor(
    private readonly domains: readonly DomainDef[],
    private readonly opts: { window: Window; tmpDir: string },
  ) {
    this.results = domains.map((d) => ({
      key: d.key,
      status: 'no-data',
      addresses: new Map(),
      certificates: [],
      rejected: [],
      rejectedCount: 0,
      inconsistent: 0,
      notes: [],
    }));
    domains.forEach((d, i) => {
      for (const p of d.patterns) {
        const probe = p.kind === 'exact' ? p.text : p.kind === 'wildcard' ? p.suffix : p.text.replaceAll('{n}', '0');
        const rd = this.regdoms.of(probe);
        const l = this.needed.get(rd) ?? [];
        if (!l.includes(i)) l.push(i);
        this.needed.set(rd, l);
        this.buckets.add(lastTwoLabels(rd));
      }
    });
  }

  private onCert(c: CertNames): void {
    // Cheap pre-filter: most certificates of a scan have nothing to do with the dictionary.
    if (!c.names.some((n) => this.buckets.has(lastTwoLabels(n)))) return;
    const rds = new Set(c.names.map((n) => this.regdoms.of(n)));
    for (const rd of rds) {
      const idx = this.needed.get(rd);
      if (!idx) continue;
      for (const i of idx) {
        const d = this.domains[i]!;
        const excepted = d.exceptions.length ? c.names.filter((n) => !n.startsWith('*.') && isException(d, n)) : [];
        const covers = c.names.some((n) => d.patterns.some((p) => certCovers(p, n)) && !excepted.includes(n));
        if (!covers) continue;
        // A certificate naming one of the entry's exceptions (the maker's website, an app host)
        // identifies that service as much as the domain's: its addresses are not the domain's.
        if (rds.size === 1 && excepted.length === 0) {
          let q = this.qualifying.get(c.fingerprint);
          if (!q) this.qualifying.set(c.fingerprint, (q = new Set()));
          q.add(i);
        } else {
          const r = this.results[i]!;
          if (!r.rejected.some((x) => x.fingerprint === c.fingerprint)) {
            r.rejectedCount++;
            const others = excepted.length ? excepted : c.names.filter((n) => this.regdoms.of(n) !== rd);
            if (r.rejected.length < 5) r.rejected.push({ fingerprint: c.fingerprint, names: others.slice(0, 5) });
          }
        }
      }
    }
  }

  async run(inputs: readonly CertInput[]): Promise<{ results: CertResolution[]; reports: InputReport[] }> {
    const spillPath = join(this.opts.tmpDir, 'certs.spill');
    const spill = new SpillWriter(spillPath);
    const reports: InputReport[] = [];
    try {
      for (const input of inputs) {
        const report = new InputReport(input.name);
        reports.push(report);
        await input.read(
          (c) => this.onCert(c),
          (o: CertObservation) => {
            const mask = this.opts.window.mask(o.time, o.time);
            if (mask === 0) return report.ignore('observation outside the window');
            spill.write(`${o.address}\t${o.port}\t${o.transport}\t${o.fingerprint}\t${o.bannerHash}\t${mask}`);
          },
          report,
        );
      }
    } finally {
      spill.close();
    }
    if (this.qualifying.size === 0) {
      for (const r of this.results) r.notes.push('no qualifying certificate in the scan data');
      return { results: this.results, reports };
    }

    // Pass 1: who presented a qualifying certificate, grouped by (certificate, port) and banner.
    const groups = new Map<string, Map<string, Map<string, number>>>();
    const candidates = new Map<string, Set<string>>();
    await forEachLine(spillPath, (line) => {
      const f = line.split('\t');
      const fp = f[3]!;
      if (!this.qualifying.has(fp)) return;
      const gk = `${fp}\t${f[1]}\t${f[2]}`;
      let g = groups.get(gk);
      if (!g) groups.set(gk, (g = new Map()));
      let ips = g.get(f[4]!);
      if (!ips) g.set(f[4]!, (ips = new Map()));
      ips.set(f[0]!, (ips.get(f[0]!) ?? 0) | Number(f[5]));
      candidates.set(`${f[0]}\t${f[1]}\t${f[2]}`, new Set());
    });
    // Pass 2: everything those addresses presented on those ports.
    await forEachLine(spillPath, (line) => {
      const f = line.split('\t');
      const seen = candidates.get(`${f[0]}\t${f[1]}\t${f[2]}`);
      if (seen && seen.size < MAX_PER_CANDIDATE) seen.add(`${f[3]}\t${f[4]}`);
    });

    for (const [gk, byBanner] of groups) {
      const [fp, port, transport] = gk.split('\t') as [string, string, string];
      let ref = '';
      let best = -1;
      for (const [banner, ips] of [...byBanner].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        if (ips.size > best) {
          best = ips.size;
          ref = banner;
        }
      }
      for (const i of this.qualifying.get(fp)!) {
        const r = this.results[i]!;
        for (const [banner, ips] of byBanner) {
          if (banner !== ref) {
            r.inconsistent += ips.size;
            continue;
          }
          for (const [ip, mask] of ips) {
            const seen = candidates.get(`${ip}\t${port}\t${transport}`)!;
            const consistent =
              seen.size < MAX_PER_CANDIDATE &&
              [...seen].every((s) => {
                const [f2, b2] = s.split('\t') as [string, string];
                return this.qualifying.get(f2)?.has(i) === true && (f2 !== fp || b2 === ref);
              });
            if (!consistent) {
              r.inconsistent++;
              continue;
            }
            r.addresses.set(ip, (r.addresses.get(ip) ?? 0) | mask);
            if (!r.certificates.includes(fp)) r.certificates.push(fp);
          }
        }
      }
    }
    for (const r of this.results) {
      if (r.addresses.size > 0) r.status = 'dedicated';
      else if (r.rejectedCount > 0) r.notes.push(`${r.rejectedCount} certificate(s) covering it carry unrelated names or its exceptions`);
      else r.notes.push('no qualifying certificate in the scan data');
    }
    return { results: this.results, reports };
  }
}
