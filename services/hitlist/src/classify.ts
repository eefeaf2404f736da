import { membersOf, type ClassKind, type Dictionary, type DomainDef } from '@haystack/rules';
import type { Policy } from '@haystack/rules';
import type { FamilyResolution } from './resolve.js';

/**
 * Steps 4 and 5 of the method (docs/method.md): remove products that rest on shared
 * infrastructure or keep too few usable primary domains, then give every class its level.
 *
 * The level rule, in one sentence: a usable domain is evidence of class C when every class
 * that uses it is a member of C (a product: itself; a manufacturer: itself and its products;
 * a platform: itself and the products that list it). So a domain only one product uses is
 * evidence of that product — and of its manufacturer and platforms; a domain sibling
 * products share is evidence of their manufacturer; a domain that products of several
 * manufacturers share through a platform (or that names the platform itself in `used_by`)
 * is evidence of the platform only. A product is detected at product level when it has
 * enough evidence of its own, else through its manufacturer, else through a platform.
 */
export type DomainStatus = 'dedicated' | 'shared' | 'unresolved' | 'generic';

export interface DomainOutcome {
  def: DomainDef;
  status: DomainStatus;
  via: 'passive-dns' | 'certificate' | null;
  addresses: Map<string, number>;
  /** For a family resolved through passive DNS: its name-by-name account. */
  family?: FamilyResolution;
  /** Why it has this status, for the operator. */
  reason: string;
}

export interface DomainDecision {
  domain: string;
  role: 'primary' | 'support' | 'app';
  usedBy: string[];
  status: DomainStatus;
  via: 'passive-dns' | 'certificate' | null;
  addresses: number;
  /** Families only: names matched, dedicated and shared, addresses kept and dropped. */
  family?: { names: number; excepted: number; dedicatedNames: number; sharedNames: number; addressesKept: number; addressesDropped: number };
  /** Detectable classes this domain is evidence of (empty: not in the hitlist). */
  evidenceFor: string[];
  reason: string;
}

export type ClassStatus = 'detectable' | 'coarser' | 'removed' | 'not-detectable';

export interface ClassDecision {
  class: string;
  kind: ClassKind;
  name: string;
  status: ClassStatus;
  /** Level at which lines hosting it are detected (null: not detectable). */
  level: ClassKind | null;
  /** The class whose rule detects it (itself, its manufacturer or a platform). */
  detectedAs: string | null;
  /** Its own evidence domains (for a detectable class: the rule's). */
  evidence: string[];
  primaryDomains: number;
  dedicatedPrimary: number;
  sharedPrimary: number;
  unresolvedPrimary: number;
  /** Distinct addresses of its evidence domains. */
  addresses: number;
  reason: string;
}

export interface Rule {
  class: string;
  level: ClassKind;
  name: string;
  evidence: string[];
  threshold: number;
}

export interface Classification {
  classes: ClassDecision[];
  domains: DomainDecision[];
  rules: Rule[];
}

const list = (xs: string[], max = 4) => (xs.length <= max ? xs.join(', ') : `${xs.slice(0, max).join(', ')} and ${xs.length - max} more`);

export function classify(dict: Dictionary, outcomes: DomainOutcome[], policy: Policy): Classification {
  const roles = new Set(policy.evidenceRoles);
  const countsAsPrimary = (o: DomainOutcome) => o.status !== 'generic' && roles.has(o.def.role);

  // Step 4: products that rest on shared infrastructure or keep too few usable primary domains.
  const removed = new Map<string, string>();
  const productStats = new Map<string, { all: DomainOutcome[]; ded: DomainOutcome[]; shared: DomainOutcome[]; unres: DomainOutcome[] }>();
  for (const c of dict.classes.values()) {
    if (c.kind !== 'product') continue;
    const all = outcomes.filter((o) => countsAsPrimary(o) && o.def.usedBy.includes(c.id));
    const ded = all.filter((o) => o.status === 'dedicated');
    const shared = all.filter((o) => o.status === 'shared');
    const unres = all.filter((o) => o.status === 'unresolved');
    productStats.set(c.id, { all, ded, shared, unres });
    const roleText = policy.evidenceRoles.join('/');
    if (all.length === 0) {
      removed.set(c.id, `no ${roleText} domain in the dictionary (generic domains never count)`);
      continue;
    }
    const resolved = ded.length + shared.length;
    if (resolved > 0 && ded.length / resolved < policy.minDedicatedShare) {
      removed.set(
        c.id,
        `rests on shared infrastructure: ${shared.length} of ${resolved} resolved ${roleText} domains are shared ` +
          `(minimum dedicated share ${policy.minDedicatedShare}): ${shared
            .slice(0, 3)
            .map((o) => `${o.def.key} (${o.reason})`)
            .join('; ')}`,
      );
      continue;
    }
    if (ded.length < policy.minPrimaryDomains) {
      const why = [shared.length ? `${shared.length} shared` : '', unres.length ? `${unres.length} without passive DNS or certificate data` : '']
        .filter(Boolean)
        .join(', ');
      removed.set(
        c.id,
        `keeps too few usable ${roleText} domains: ${ded.length} of ${all.length} dedicated (minimum ${policy.minPrimaryDomains})${why ? `; ${why}` : ''}`,
      );
    }
  }

  // Step 5: evidence per class.
  const members = new Map<string, Set<string>>();
  for (const id of dict.classes.keys()) members.set(id, membersOf(dict, id));
  const usable = outcomes.filter((o) => countsAsPrimary(o) && o.status === 'dedicated' && !o.def.usedBy.some((u) => removed.has(u)));
  const evidence = new Map<string, DomainOutcome[]>();
  for (const [id, c] of dict.classes) {
    const m = members.get(id)!;
    // A product's own evidence must be known to be its alone among its maker's products (DomainDef.productLevel).
    evidence.set(
      id,
      usable.filter((o) => o.def.usedBy.every((u) => m.has(u)) && (c.kind !== 'product' || o.def.productLevel)),
    );
  }
  const detectable = (id: string) => !removed.has(id) && evidence.get(id)!.length >= policy.threshold;
  const addrCount = (os: DomainOutcome[]) => {
    const s = new Set<string>();
    for (const o of os) for (const a of o.addresses.keys()) s.add(a);
    return s.size;
  };

  const classes: ClassDecision[] = [];
  for (const c of dict.classes.values()) {
    const ev = evidence.get(c.id)!;
    const st = productStats.get(c.id);
    const base = {
      class: c.id,
      kind: c.kind,
      name: c.name,
      evidence: ev.map((o) => o.def.key).sort(),
      primaryDomains: st?.all.length ?? 0,
      dedicatedPrimary: st?.ded.length ?? 0,
      sharedPrimary: st?.shared.length ?? 0,
      unresolvedPrimary: st?.unres.length ?? 0,
      addresses: addrCount(ev),
    };
    if (removed.has(c.id)) {
      classes.push({ ...base, status: 'removed', level: null, detectedAs: null, evidence: [], addresses: 0, reason: removed.get(c.id)! });
      continue;
    }
    if (detectable(c.id)) {
      classes.push({
        ...base,
        status: 'detectable',
        level: c.kind,
        detectedAs: c.id,
        reason: `${ev.length} evidence domain(s) used only by its ${c.kind === 'product' ? 'own lab traffic' : 'members'}`,
      });
      continue;
    }
    const shortOf = ev.length > 0 ? `only ${ev.length} evidence domain(s), threshold ${policy.threshold}` : null;
    if (c.kind !== 'product') {
      const why =
        shortOf ??
        (c.kind === 'manufacturer' ? 'no dedicated domain is used only by its products' : 'no dedicated domain is used only by products on this platform');
      classes.push({ ...base, status: 'not-detectable', level: null, detectedAs: null, reason: why });
      continue;
    }
    // A product without enough evidence of its own: through its manufacturer, else a platform.
    const own = st!.ded.map((o) => o.def.key);
    const sharedWith = (keys: string[]) => {
      const others = new Set<string>();
      for (const o of st!.ded) if (keys.includes(o.def.key)) for (const u of o.def.usedBy) if (u !== c.id) others.add(u);
      return [...others].sort();
    };
    const unproven = st!.ded.filter((o) => o.def.usedBy.every((u) => u === c.id) && !o.def.productLevel);
    const maker = c.manufacturer ? (dict.classes.get(c.manufacturer)?.name ?? c.manufacturer) : 'its maker';
    const ownWhy =
      shortOf ??
      (unproven.length && sharedWith(own).length === 0
        ? `no evidence that ${list(unproven.map((o) => o.def.key))} ${unproven.length === 1 ? 'is' : 'are'} used by this product alone among ${maker}'s products ` +
          `(the dictionary lists no other ${maker} product, and no product_evidence source)`
        : `none of its dedicated domains is its own: they are also used by ${list(sharedWith(own))}`);
    const via = [c.manufacturer, ...c.platforms].filter((x): x is string => x !== null);
    let done = false;
    for (const parent of via) {
      if (!detectable(parent)) continue;
      const overlap = evidence.get(parent)!.filter((o) => own.includes(o.def.key));
      if (overlap.length === 0) continue;
      const pk = dict.classes.get(parent)!.kind;
      classes.push({
        ...base,
        status: 'coarser',
        level: pk,
        detectedAs: parent,
        reason: `detectable only at ${pk} level (${parent}): ${ownWhy}`,
      });
      done = true;
      break;
    }
    if (!done) {
      classes.push({
        ...base,
        status: 'not-detectable',
        level: null,
        detectedAs: null,
        reason:
          own.length === 0
            ? 'no usable domain'
            : `its dedicated domains are shared with classes outside its manufacturer and platforms (${list(sharedWith(own))}), and no manufacturer or platform of it is detectable through them`,
      });
    }
  }

  const rules: Rule[] = classes
    .filter((c) => c.status === 'detectable')
    .map((c) => ({ class: c.class, level: c.kind, name: c.name, evidence: c.evidence, threshold: policy.threshold }));
  const evidenceFor = new Map<string, string[]>();
  for (const r of rules) for (const k of r.evidence) evidenceFor.set(k, [...(evidenceFor.get(k) ?? []), r.class]);

  const domains: DomainDecision[] = outcomes.map((o) => {
    const ef = (evidenceFor.get(o.def.key) ?? []).sort();
    let reason = o.reason;
    if (o.status === 'dedicated' && ef.length === 0) {
      const rm = o.def.usedBy.filter((u) => removed.has(u));
      if (!roles.has(o.def.role)) reason += `; not evidence: ${o.def.role} domain`;
      else if (rm.length) reason += `; not evidence: used by removed class ${list(rm)}`;
      else reason += `; not evidence: its users (${list(o.def.usedBy)}) have no common detectable class`;
    }
    return {
      domain: o.def.key,
      role: o.def.role,
      usedBy: o.def.usedBy,
      status: o.status,
      via: o.via,
      addresses: o.addresses.size,
      ...(o.family
        ? {
            family: {
              names: o.family.names,
              excepted: o.family.excepted.length,
              dedicatedNames: o.family.dedicatedNames,
              sharedNames: o.family.sharedNames,
              addressesKept: o.family.addressesKept,
              addressesDropped: o.family.addressesDropped,
            },
          }
        : {}),
      evidenceFor: ef,
      reason,
    };
  });
  return { classes, domains, rules };
}
