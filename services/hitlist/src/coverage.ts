import type { ClassKind, DictionaryCoverage, MakerCoverage } from '@haystack/hitlist-contract';
import type { Dictionary } from '@haystack/rules';
import { classify, type DomainOutcome } from './classify.js';
import { textTable } from './table.js';

const RANK: Record<ClassKind, number> = { product: 3, manufacturer: 2, platform: 1 };

/**
 * What the dictionary can detect, per maker and platform, before any passive DNS is seen: the
 * level the build would give each class if every non-generic domain were dedicated (the same
 * `classify` as a build, so removal, thresholds and the product → manufacturer → platform
 * fallback apply), its products, its families and single names, and the sources behind it. A
 * build then decides with real data which domains are dedicated; this is the operator's map of
 * what is covered at all.
 */
export function dictionaryCoverage(dict: Dictionary): DictionaryCoverage {
  const outcomes: DomainOutcome[] = dict.domains.map((def) => ({
    def,
    status: def.generic ? 'generic' : 'dedicated',
    via: def.generic ? null : 'passive-dns',
    addresses: new Map([['192.0.2.1', 1]]),
    reason: '',
  }));
  const decided = new Map(classify(dict, outcomes, dict.policy).classes.map((c) => [c.class, c]));
  const entries: MakerCoverage[] = [];
  for (const c of dict.classes.values()) {
    if (c.kind === 'product') continue;
    const own = dict.domains.filter(
      (d) =>
        d.usedBy.includes(c.id) ||
        d.usedBy.some((u) => (c.kind === 'manufacturer' ? dict.classes.get(u)?.manufacturer === c.id : dict.classes.get(u)?.platforms.includes(c.id))),
    );
    const products = [...dict.classes.values()]
      .filter((p) => p.kind === 'product' && (c.kind === 'manufacturer' ? p.manufacturer === c.id : p.platforms.includes(c.id)))
      .map((p) => ({ id: p.id, name: p.name, level: decided.get(p.id)?.level ?? null }))
      .sort((a, b) => a.id.localeCompare(b.id));
    const self = decided.get(c.id)!;
    // A platform's own level is the platform (or a product of it): its members' makers are other classes.
    const ranks = [
      self.level ? RANK[self.level] : 0,
      ...products.map((p) => (p.level === null || (c.kind === 'platform' && p.level !== 'product') ? 0 : RANK[p.level])),
    ];
    const best = Math.max(...ranks);
    const level: ClassKind | null = best === 3 ? 'product' : best === 2 ? 'manufacturer' : best === 1 ? 'platform' : null;
    const coarser = products.filter((p) => p.level !== 'product');
    const generic = own.filter((d) => d.generic !== null).length;
    const support = own.filter((d) => d.generic === null && d.role === 'support').length;
    const app = own.filter((d) => d.generic === null && d.role === 'app').length;
    const note =
      level === null
        ? own.length === 0
          ? (c.note ?? 'no domain in the dictionary')
          : !own.some((d) => d.generic === null && dict.policy.evidenceRoles.includes(d.role))
            ? `no ${dict.policy.evidenceRoles.join('/')} domain of its own (${[generic ? `${generic} generic` : '', support ? `${support} support` : '', app ? `${app} app-only` : ''].filter(Boolean).join(', ')})`
            : self.reason
        : level === 'product'
          ? coarser.length
            ? `${coarser.length} of ${products.length} products at a coarser level`
            : ''
          : level === c.kind
            ? `${c.kind} level: no domain is known to be one product's alone`
            : self.reason;
    const sources = new Set<string>(c.source);
    for (const d of own) for (const s of d.source) sources.add(s);
    entries.push({
      id: c.id,
      kind: c.kind,
      name: c.name,
      products,
      families: own.filter((d) => d.family).map((d) => d.key),
      names: own.filter((d) => !d.family).length,
      regions: [...new Set(own.flatMap((d) => d.regions))].sort(),
      level,
      note,
      sources: [...sources].sort(),
    });
  }
  entries.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'platform' ? -1 : 1));
  return {
    updated: dict.updated,
    digest: dict.digest,
    makers: entries.filter((e) => e.kind === 'manufacturer').length,
    platforms: entries.filter((e) => e.kind === 'platform').length,
    products: [...dict.classes.values()].filter((c) => c.kind === 'product').length,
    families: dict.domains.filter((d) => d.family).length,
    domains: dict.domains.length,
    sources: dict.sources.size,
    entries,
  };
}

/** The coverage as a terminal table (what `haystack rules show` prints). */
export function renderCoverage(cov: DictionaryCoverage, opts: { verbose?: boolean } = {}): string {
  const out: string[] = [];
  out.push(
    `IoT dictionary updated ${cov.updated ?? '(no date)'}, digest ${cov.digest.slice(0, 12)}: ${cov.makers} makers, ${cov.platforms} platforms, ` +
      `${cov.products} products, ${cov.families} families, ${cov.domains} domain entries, ${cov.sources} sources`,
  );
  out.push('');
  const rows = cov.entries.map((e) => [
    e.name,
    e.kind,
    e.level ?? 'not detectable',
    String(e.products.length),
    String(e.families.length),
    String(e.names),
    e.regions.join(' ') || '-',
    e.note || '-',
  ]);
  const head = ['maker / platform', 'kind', 'finest level', 'products', 'families', 'names', 'regions', 'note'];
  const table = textTable(head, rows, { maxWidths: [36, 40, 40, 40, 40, 40, 24, 40], rule: true });
  out.push(...table.slice(0, 2));
  for (const [i, r] of table.slice(2).entries()) {
    out.push(r);
    if (opts.verbose) {
      const e = cov.entries[i]!;
      for (const f of e.families) out.push(`    family   ${f}`);
      for (const p of e.products) out.push(`    product  ${p.name} (${p.id}): ${p.level ?? 'not detectable'}`);
      out.push(`    sources  ${e.sources.join(', ')}`);
    }
  }
  out.push('');
  out.push(
    'finest level: what the dictionary can evidence at best; `haystack hitlist build` decides with passive DNS whether each domain is dedicated. ' +
      '-v lists families, products and sources; --json gives everything.',
  );
  return out.join('\n') + '\n';
}
