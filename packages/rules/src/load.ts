import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar, type Document } from 'yaml';
import type { z } from 'zod';
import { atOrBelow, compilePattern, expandRegions, patternMatches, type NamePattern } from './names.js';
import { PORT_RE, policySchema, rulesFileSchema, type Policy } from './schema.js';

import type { ClassKind } from '@haystack/hitlist-contract';
export type { ClassKind };

export interface Located {
  file: string;
  line: number;
}

export interface ClassDef extends Located {
  id: string;
  kind: ClassKind;
  name: string;
  labels: string[];
  manufacturer: string | null;
  platforms: string[];
  operator: string | null;
  source: string[];
  note: string | null;
}

export interface PortSpec {
  transport: 'tcp' | 'udp' | 'any';
  port: number;
}

export interface GenericDef extends Located {
  kind: 'suffix' | 'name';
  value: string;
  source: string[];
  why: string;
}

export interface DomainDef extends Located {
  /** The canonical name or pattern (as written, `{region}` included): the domain's identity in hitlists, rules and history. */
  key: string;
  patterns: NamePattern[];
  /**
   * A family: the entry names a set of names (a zone `*.suffix`, numbered shards `{n}`, regional
   * twins `{region}`), not one name. The hitlist build judges a family name by name: each name
   * matched in passive DNS must be dedicated on its own, and only dedicated names' addresses are
   * kept, so one name on a CDN never takes the family's other addresses with it, nor enters itself.
   */
  family: boolean;
  /** Regions substituted for `{region}` (empty: none). */
  regions: string[];
  /** Names under the entry that serve the maker's website, apps or content: never evidence. */
  exceptions: NamePattern[];
  role: 'primary' | 'support' | 'app';
  ports: PortSpec[];
  usedBy: string[];
  source: string[];
  roleSource: string[];
  note: string | null;
  /** The generic-list entry that matches this domain: it never counts as evidence. */
  generic: GenericDef | null;
  /** Sources showing its product alone (among the maker's products) uses it. */
  productEvidence: string[];
  /**
   * Whether it can be evidence of a single product: it names a product in `used_by` and either
   * a source says that product alone uses it, or the dictionary lists that maker's other
   * products (whose lab traffic did not show it). Else it is at most manufacturer evidence.
   */
  productLevel: boolean;
}

export interface SourceDef extends Located {
  id: string;
  title: string;
  url: string | null;
}

export interface Dictionary {
  dir: string;
  files: string[];
  /** SHA-256 over the rules files (names and contents): which dictionary built a hitlist. */
  digest: string;
  sources: Map<string, SourceDef>;
  classes: Map<string, ClassDef>;
  domains: DomainDef[];
  generic: GenericDef[];
  policy: Policy;
  /** The day the dictionary was last reviewed (`updated:`), or null when no file says. */
  updated: string | null;
}

export interface RulesIssue {
  file: string;
  line: number;
  col: number;
  message: string;
}

export class RulesError extends Error {
  readonly userFacing = true;
  readonly exitCode = 2;
  constructor(readonly issues: RulesIssue[]) {
    super(`invalid rules (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` + issues.map((i) => `  ${i.file}:${i.line}:${i.col}: ${i.message}`).join('\n'));
    this.name = 'RulesError';
  }
}

function listYaml(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

interface Parsed {
  file: string;
  doc: Document;
  lc: LineCounter;
  data: z.infer<typeof rulesFileSchema>;
}

/** Position of the YAML node at `path` (or its nearest existing parent). */
function position(p: { doc: Document; lc: LineCounter }, path: readonly PropertyKey[], key?: string): { line: number; col: number } {
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n) as (string | number)[];
    const node = sub.length === 0 ? p.doc.contents : p.doc.getIn(sub, true);
    if (node && typeof node === 'object' && 'range' in node && (node as { range?: [number, number, number] }).range) {
      // For an unknown key, point at the key itself.
      if (key !== undefined && n === path.length && isMap(node)) {
        const pair = node.items.find((it) => isScalar(it.key) && it.key.value === key);
        if (pair && isScalar(pair.key) && pair.key.range) {
          const lp = p.lc.linePos(pair.key.range[0]);
          return { line: lp.line, col: lp.col };
        }
      }
      const lp = p.lc.linePos((node as { range: [number, number, number] }).range[0]);
      return { line: lp.line, col: lp.col };
    }
  }
  return { line: 1, col: 1 };
}

/**
 * Load every `*.yaml` under `dir` (recursively), validate each against the schema, then
 * check references across files. All problems are collected and thrown together as a
 * {@link RulesError}, each with file, line and column.
 */
export function loadRules(dir: string): Dictionary {
  const issues: RulesIssue[] = [];
  let files: string[];
  try {
    files = listYaml(dir);
  } catch (e) {
    throw new RulesError([{ file: dir, line: 0, col: 0, message: `cannot read rules directory: ${(e as Error).message}` }]);
  }
  if (files.length === 0) throw new RulesError([{ file: dir, line: 0, col: 0, message: 'no *.yaml files' }]);
  const hash = createHash('sha256');
  const parsed: Parsed[] = [];
  for (const path of files) {
    const file = relative(process.cwd(), path) || path;
    const text = readFileSync(path, 'utf8');
    hash.update(relative(dir, path)).update('\0').update(text).update('\0');
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length) {
      for (const e of doc.errors) {
        const lp = lc.linePos(e.pos[0]);
        issues.push({ file, line: lp.line, col: lp.col, message: `YAML: ${e.message.split('\n')[0]}` });
      }
      continue;
    }
    const res = rulesFileSchema.safeParse(doc.toJS() ?? {});
    if (!res.success) {
      for (const i of res.error.issues) {
        if (i.code === 'unrecognized_keys') {
          for (const k of i.keys) {
            const pos = position({ doc, lc }, i.path, k);
            issues.push({ file, ...pos, message: `${[...i.path, k].join('.')}: unknown field "${k}"` });
          }
          continue;
        }
        const pos = position({ doc, lc }, i.path);
        issues.push({ file, ...pos, message: `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}` });
      }
      continue;
    }
    parsed.push({ file, doc, lc, data: res.data });
  }
  if (issues.length) throw new RulesError(issues);

  const at = (p: Parsed, path: (string | number)[]) => ({ file: p.file, ...position(p, path) });
  const problem = (p: Parsed, path: (string | number)[], message: string) => {
    const loc = at(p, path);
    issues.push({ file: loc.file, line: loc.line, col: loc.col, message });
  };

  const sources = new Map<string, SourceDef>();
  const classes = new Map<string, ClassDef>();
  const labels = new Map<string, string>();
  let policy: Policy | null = null;
  let updated: string | null = null;

  for (const p of parsed) {
    if (p.data.updated !== undefined) {
      if (updated !== null) problem(p, ['updated'], 'updated is given more than once');
      updated = p.data.updated;
    }
    p.data.sources?.forEach((s, i) => {
      if (sources.has(s.id)) return problem(p, ['sources', i, 'id'], `duplicate source id "${s.id}"`);
      sources.set(s.id, { id: s.id, title: s.title, url: s.url ?? null, ...lineOf(p, ['sources', i]) });
    });
    if (p.data.policy) {
      if (policy) problem(p, ['policy'], 'policy is given more than once');
      policy = p.data.policy;
    }
  }

  const addClass = (p: Parsed, section: 'platforms' | 'manufacturers' | 'products', kind: ClassKind) => {
    p.data[section]?.forEach((c, i) => {
      if (classes.has(c.id)) return problem(p, [section, i, 'id'], `duplicate class id "${c.id}" (also at ${classes.get(c.id)!.file}:${classes.get(c.id)!.line})`);
      const x = c as { manufacturer?: string; platforms?: string[]; operator?: string };
      const def: ClassDef = {
        id: c.id,
        kind,
        name: c.name,
        labels: c.labels ?? [],
        manufacturer: x.manufacturer ?? null,
        platforms: x.platforms ?? [],
        operator: x.operator ?? null,
        source: c.source,
        note: c.note ?? null,
        ...lineOf(p, [section, i]),
      };
      classes.set(c.id, def);
      c.labels?.forEach((l, j) => {
        if (labels.has(l)) problem(p, [section, i, 'labels', j], `label "${l}" is already mapped to class "${labels.get(l)}"`);
        else labels.set(l, c.id);
      });
    });
  };
  for (const p of parsed) {
    addClass(p, 'platforms', 'platform');
    addClass(p, 'manufacturers', 'manufacturer');
    addClass(p, 'products', 'product');
  }

  const checkSources = (p: Parsed, path: (string | number)[], refs: string[] | undefined) => {
    refs?.forEach((r, j) => {
      if (!sources.has(r)) problem(p, [...path, j], `unknown source "${r}"`);
    });
  };

  for (const p of parsed) {
    for (const section of ['platforms', 'manufacturers', 'products'] as const) {
      p.data[section]?.forEach((c, i) => {
        checkSources(p, [section, i, 'source'], c.source);
        if (section === 'products') {
          const pc = c as { manufacturer?: string; platforms?: string[] };
          if (pc.manufacturer !== undefined && classes.get(pc.manufacturer)?.kind !== 'manufacturer')
            problem(p, [section, i, 'manufacturer'], `"${pc.manufacturer}" is not a manufacturer class`);
          pc.platforms?.forEach((pl, j) => {
            if (classes.get(pl)?.kind !== 'platform') problem(p, [section, i, 'platforms', j], `"${pl}" is not a platform class`);
          });
        }
      });
    }
  }

  const generic: GenericDef[] = [];
  for (const p of parsed) {
    p.data.generic?.forEach((g, i) => {
      checkSources(p, ['generic', i, 'source'], g.source);
      const raw = (g.suffix ?? g.name)!;
      const pat = compilePattern(raw);
      if (typeof pat === 'string' || pat.kind !== 'exact') return problem(p, ['generic', i], `generic entries are plain names: ${typeof pat === 'string' ? pat : raw}`);
      generic.push({ kind: g.suffix !== undefined ? 'suffix' : 'name', value: pat.text, source: g.source, why: g.why, ...lineOf(p, ['generic', i]) });
    });
  }
  const genericOf = (name: string): GenericDef | null => {
    for (const g of generic) if (g.kind === 'name' ? g.value === name : atOrBelow(name, g.value)) return g;
    return null;
  };

  const domains: DomainDef[] = [];
  /** Pattern → the entry that holds it, and whether that entry is a family. */
  const seenPattern = new Map<string, { key: string; family: boolean }>();
  const seenKey = new Map<string, string>();
  for (const p of parsed) {
    p.data.domains?.forEach((d, i) => {
      checkSources(p, ['domains', i, 'source'], d.source);
      checkSources(p, ['domains', i, 'role_source'], d.role_source);
      checkSources(p, ['domains', i, 'product_evidence'], d.product_evidence);
      const patterns: NamePattern[] = [];
      const regions = d.regions ?? [];
      const key = d.domain.toLowerCase().replace(/\.$/, '');
      const where = `${p.file}:${position(p, ['domains', i]).line}`;
      if (seenKey.has(key)) problem(p, ['domains', i, 'domain'], `domain "${key}" is given twice (also at ${seenKey.get(key)}): merge the entries`);
      seenKey.set(key, where);
      let placeholder = false;
      const texts = [d.domain, ...(d.also ?? [])];
      const isFamily = texts.some((t) => t.includes('{') || t.startsWith('*.'));
      texts.forEach((text, j) => {
        const path = j === 0 ? ['domains', i, 'domain'] : ['domains', i, 'also', j - 1];
        if (text.includes('{region}')) {
          placeholder = true;
          if (regions.length === 0) return problem(p, path, `"${text}" has {region} but the entry lists no regions`);
        }
        for (const one of expandRegions(text, regions)) {
          const pat = compilePattern(one);
          if (typeof pat === 'string') return problem(p, path, pat);
          // A family may spell out a name a single-name entry holds (a twin or shard already seen):
          // the name then counts for both, the single entry keeping its finer level.
          const other = seenPattern.get(pat.text);
          if (other && !(other.family !== isFamily && pat.kind !== 'wildcard'))
            return problem(p, path, `"${pat.text}" already belongs to domain "${other.key}"`);
          if (!other || isFamily === false) seenPattern.set(pat.text, { key, family: isFamily });
          patterns.push(pat);
        }
      });
      if (isFamily && patterns.length && patterns.every((q) => q.kind === 'exact' && seenPattern.get(q.text)?.family === false))
        problem(p, ['domains', i, 'domain'], 'a family must name something besides the single names other entries hold (a zone, shards, or a twin no entry spells)');
      if (regions.length && !placeholder && !(d.except ?? []).some((t) => t.includes('{region}')))
        problem(p, ['domains', i, 'regions'], 'regions are given but no name has a {region} placeholder');
      (d.except ?? []).forEach((t, j) => {
        if (t.includes('{region}') && regions.length === 0) problem(p, ['domains', i, 'except', j], `"${t}" has {region} but the entry lists no regions`);
      });
      const exceptions: NamePattern[] = [];
      (d.except ?? []).forEach((text, j) => {
        for (const one of expandRegions(text, regions)) {
          const pat = compilePattern(one);
          if (typeof pat === 'string') return problem(p, ['domains', i, 'except', j], pat);
          const probe = pat.kind === 'exact' ? pat.text : pat.kind === 'wildcard' ? `x.${pat.suffix}` : pat.text.replaceAll('{n}', '0');
          if (!patterns.some((q) => patternMatches(q, probe)))
            return problem(p, ['domains', i, 'except', j], `exception "${pat.text}" is not covered by any name of the entry`);
          exceptions.push(pat);
        }
      });
      d.used_by.forEach((u, j) => {
        if (!classes.has(u)) problem(p, ['domains', i, 'used_by', j], `unknown class "${u}"`);
      });
      if (patterns.length === 0) return;
      let gen: GenericDef | null = null;
      for (const pat of patterns) {
        const probe = pat.kind === 'exact' ? pat.text : pat.kind === 'wildcard' ? pat.suffix : pat.text.replaceAll('{n}', '0');
        gen ??= genericOf(probe);
      }
      domains.push({
        key,
        patterns,
        family: placeholder || patterns.some((q) => q.kind !== 'exact'),
        regions,
        exceptions,
        role: d.role,
        ports: dedupePorts(d.ports.map(parsePort)),
        usedBy: [...new Set(d.used_by)],
        source: d.source,
        roleSource: d.role_source ?? d.source,
        note: d.note ?? null,
        generic: gen,
        productEvidence: d.product_evidence ?? [],
        productLevel: false,
        ...lineOf(p, ['domains', i]),
      });
    });
  }

  if (issues.length) throw new RulesError(issues);
  const effectivePolicy = policy ?? policySchema.parse({});
  // Website names right under a zone are exceptions of every zone (policy.websiteLabels).
  for (const d of domains) {
    for (const pat of d.patterns) {
      if (pat.kind !== 'wildcard') continue;
      for (const label of effectivePolicy.websiteLabels) {
        const ex = compilePattern(`${label}.${pat.suffix}`);
        if (typeof ex !== 'string' && !d.exceptions.some((e) => e.text === ex.text)) d.exceptions.push(ex);
      }
    }
  }
  // A name the dictionary marks as app or support traffic is never evidence through a primary
  // family that covers it: a phone app's API host under a maker's device zone stays app traffic.
  for (const f of domains) {
    if (!f.family || f.role !== 'primary') continue;
    for (const e of domains) {
      if (e === f || e.role === 'primary') continue;
      for (const pat of e.patterns) {
        const probe = pat.kind === 'exact' ? pat.text : pat.kind === 'wildcard' ? `x.${pat.suffix}` : pat.text.replaceAll('{n}', '0');
        if (f.patterns.some((q) => patternMatches(q, probe)) && !f.exceptions.some((x) => x.text === pat.text)) f.exceptions.push(pat);
      }
    }
  }
  // Families are matched on the device protocols' ports too (policy.familyPorts).
  const familyPorts = effectivePolicy.familyPorts.map(parsePort);
  for (const d of domains) if (d.family) d.ports = dedupePorts([...d.ports, ...familyPorts]);
  // Honest levels: product evidence needs a reason to believe no sibling product uses the domain.
  const productsOf = new Map<string, number>();
  for (const c of classes.values()) if (c.kind === 'product' && c.manufacturer) productsOf.set(c.manufacturer, (productsOf.get(c.manufacturer) ?? 0) + 1);
  for (const d of domains) {
    const users = d.usedBy.map((u) => classes.get(u)).filter((c): c is ClassDef => c !== undefined);
    d.productLevel =
      users.length > 0 &&
      users.every((c) => c.kind === 'product') &&
      (d.productEvidence.length > 0 || users.every((c) => c.manufacturer !== null && (productsOf.get(c.manufacturer) ?? 0) >= 2));
  }
  return {
    dir,
    files: files.map((f) => relative(dir, f)),
    digest: hash.digest('hex'),
    sources,
    classes,
    domains,
    generic,
    policy: effectivePolicy,
    updated,
  };
}

function lineOf(p: Parsed, path: (string | number)[]): Located {
  return { file: p.file, line: position(p, path).line };
}

export function parsePort(s: string): PortSpec {
  const m = PORT_RE.exec(s)!;
  return { transport: m[1] as PortSpec['transport'], port: Number(m[2]) };
}

function dedupePorts(ps: PortSpec[]): PortSpec[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const k = `${p.transport}/${p.port}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Members of a class for the evidence rule: a domain is evidence of class C when every class
 * that uses it is a member of C. A product's members: itself. A manufacturer's: itself and its
 * products. A platform's: itself and the products that list it.
 */
export function membersOf(dict: Dictionary, id: string): Set<string> {
  const c = dict.classes.get(id);
  const out = new Set<string>([id]);
  if (!c) return out;
  for (const other of dict.classes.values()) {
    if (other.kind !== 'product') continue;
    if (c.kind === 'manufacturer' && other.manufacturer === id) out.add(other.id);
    if (c.kind === 'platform' && other.platforms.includes(id)) out.add(other.id);
  }
  return out;
}

/** True when `name` matches one of the entry's exceptions (its maker's website, apps or content). */
export function isException(d: DomainDef, name: string): boolean {
  for (const p of d.exceptions) if (patternMatches(p, name)) return true;
  return false;
}
