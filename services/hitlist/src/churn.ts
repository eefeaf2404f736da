import type { Hitlist } from '@haystack/hitlist-contract';

/** How a hitlist changed from one day to another (a rule's level, addresses per domain, entries). */
export interface Churn {
  from: string;
  to: string;
  entries: { before: number; after: number; added: number; removed: number };
  addresses: { before: number; after: number; added: number; removed: number };
  domains: { added: string[]; removed: string[] };
  /** Classes whose rule appeared, disappeared or changed level or evidence. */
  classes: { class: string; before: string | null; after: string | null; evidenceAdded: string[]; evidenceRemoved: string[] }[];
  /** Per domain present on either day: addresses gained and lost. */
  byDomain: { domain: string; added: number; removed: number; kept: number }[];
}

function tuples(h: Hitlist): Map<string, Set<string>> {
  // domain → "address port transport" of its entries
  const out = new Map<string, Set<string>>();
  for (const e of h.entries) {
    for (const d of e.domains) {
      const name = h.domains[d]!.name;
      let s = out.get(name);
      if (!s) out.set(name, (s = new Set()));
      s.add(`${e.address} ${e.port} ${e.transport}`);
    }
  }
  return out;
}

export function diffHitlists(a: Hitlist, b: Hitlist): Churn {
  const ta = tuples(a);
  const tb = tuples(b);
  const key = (e: Hitlist['entries'][number], h: Hitlist) =>
    `${e.address} ${e.port} ${e.transport} ${e.domains
      .map((d) => h.domains[d]!.name)
      .sort()
      .join(',')}`;
  const ea = new Set(a.entries.map((e) => key(e, a)));
  const eb = new Set(b.entries.map((e) => key(e, b)));
  const aa = new Set(a.entries.map((e) => e.address));
  const ab = new Set(b.entries.map((e) => e.address));
  const count = (x: Set<string>, y: Set<string>) => {
    let n = 0;
    for (const v of x) if (!y.has(v)) n++;
    return n;
  };

  const byDomain: Churn['byDomain'] = [];
  for (const d of [...new Set([...ta.keys(), ...tb.keys()])].sort()) {
    const x = ta.get(d) ?? new Set<string>();
    const y = tb.get(d) ?? new Set<string>();
    const added = count(y, x);
    const removed = count(x, y);
    byDomain.push({ domain: d, added, removed, kept: y.size - added });
  }

  const rulesOf = (h: Hitlist) =>
    new Map(h.rules.map((r) => [h.classes[r.class]!.id, { level: h.classes[r.class]!.level as string, evidence: r.evidence.map((i) => h.domains[i]!.name) }]));
  const ra = rulesOf(a);
  const rb = rulesOf(b);
  const classes: Churn['classes'] = [];
  for (const c of [...new Set([...ra.keys(), ...rb.keys()])].sort()) {
    const x = ra.get(c);
    const y = rb.get(c);
    const ex = new Set(x?.evidence ?? []);
    const ey = new Set(y?.evidence ?? []);
    const evidenceAdded = [...ey].filter((v) => !ex.has(v)).sort();
    const evidenceRemoved = [...ex].filter((v) => !ey.has(v)).sort();
    if (x?.level === y?.level && evidenceAdded.length === 0 && evidenceRemoved.length === 0) continue;
    classes.push({ class: c, before: x?.level ?? null, after: y?.level ?? null, evidenceAdded, evidenceRemoved });
  }

  return {
    from: a.day,
    to: b.day,
    entries: { before: ea.size, after: eb.size, added: count(eb, ea), removed: count(ea, eb) },
    addresses: { before: aa.size, after: ab.size, added: count(ab, aa), removed: count(aa, ab) },
    domains: { added: [...tb.keys()].filter((d) => !ta.has(d)).sort(), removed: [...ta.keys()].filter((d) => !tb.has(d)).sort() },
    classes,
    byDomain,
  };
}
