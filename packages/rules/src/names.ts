import { getDomain } from 'tldts';

/**
 * DNS names everywhere in the hitlist are lower case without the trailing dot.
 * Returns null for names we cannot use (empty, too long, characters outside
 * letters/digits/`-`/`_`/`*`, empty labels).
 */
export function normalizeName(raw: string): string | null {
  let s = raw;
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (s.length === 0 || s.length > 253) return null;
  s = s.toLowerCase();
  if (!NAME_RE.test(s)) return null;
  return s;
}
const NAME_RE = /^[a-z0-9_*-]{1,63}(\.[a-z0-9_*-]{1,63})*$/;

/**
 * Registered domain ("second-level domain") through the Public Suffix List (tldts), with the
 * PSL's private section: `x.cloudfront.net` and `y.cloudfront.net` belong to different
 * customers, so they must not count as one owner. A name that is itself a public suffix
 * (e.g. `ec2-1-2-3-4.compute-1.amazonaws.com` under `*.compute-1.amazonaws.com`) is its own
 * registered domain.
 */
export class RegisteredDomains {
  private readonly cache = new Map<string, string>();
  constructor(private readonly maxCache = 200_000) {}

  of(name: string): string {
    let r = this.cache.get(name);
    if (r !== undefined) return r;
    const host = name.startsWith('*.') ? name.slice(2) : name;
    r = getDomain(host, { allowPrivateDomains: true }) ?? host;
    // Bounded: the cache only speeds up repeats, it never holds the input.
    if (this.cache.size >= this.maxCache) this.cache.clear();
    this.cache.set(name, r);
    return r;
  }
}

/** True when `name` equals `domain` or lies below it. */
export function atOrBelow(name: string, domain: string): boolean {
  return name === domain || (name.length > domain.length && name.endsWith(domain) && name.charCodeAt(name.length - domain.length - 1) === 46);
}

/**
 * Expands the `{region}` placeholder of a dictionary name into one name per region (regional
 * twins: `a1.tuya{region}.com` with regions [eu, us] → `a1.tuyaeu.com`, `a1.tuyaus.com`).
 * A name without the placeholder is returned as is. Regions are lower-case labels or label
 * fragments; the caller checks that a name with the placeholder has regions.
 */
export function expandRegions(text: string, regions: readonly string[]): string[] {
  if (!text.includes('{region}')) return [text];
  return regions.map((r) => text.replaceAll('{region}', r));
}

/**
 * Dictionary name patterns:
 * - exact `api.example.com`;
 * - wildcard `*.transport.example.com`: one or more labels in front of the suffix;
 * - numbered family `avs-alexa-{n}-eu.amazon.com`: `{n}` stands for one or more digits
 *   (the iot_wild `new_domain_N` groups of numbered hosts).
 */
export type NamePattern =
  | { kind: 'exact'; text: string }
  | { kind: 'wildcard'; text: string; suffix: string }
  | { kind: 'family'; text: string; re: RegExp; tail: string };

export function compilePattern(text: string): NamePattern | string {
  const t = text.toLowerCase().replace(/\.$/, '');
  if (t.startsWith('*.')) {
    const suffix = t.slice(2);
    if (normalizeName(suffix) === null || suffix.includes('*') || suffix.includes('{')) return `invalid wildcard ${JSON.stringify(text)}`;
    return { kind: 'wildcard', text: t, suffix };
  }
  if (t.includes('{n}')) {
    const probe = t.replaceAll('{n}', '0');
    if (normalizeName(probe) === null || probe.includes('*')) return `invalid numbered family ${JSON.stringify(text)}`;
    const re = new RegExp('^' + t.split('{n}').map(escapeRe).join('[0-9]+') + '$');
    const lastBrace = t.lastIndexOf('{n}');
    const tail = t.slice(t.indexOf('.', lastBrace) + 1);
    return { kind: 'family', text: t, re, tail };
  }
  if (t.includes('*') || t.includes('{') || normalizeName(t) === null) return `invalid name ${JSON.stringify(text)}`;
  return { kind: 'exact', text: t };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The last two labels of a name: a cheap bucket key for pattern lookups. */
export function lastTwoLabels(name: string): string {
  const a = name.lastIndexOf('.');
  if (a < 0) return name;
  const b = name.lastIndexOf('.', a - 1);
  return b < 0 ? name : name.slice(b + 1);
}

export function patternMatches(p: NamePattern, name: string): boolean {
  switch (p.kind) {
    case 'exact':
      return p.text === name;
    case 'wildcard':
      return name.length > p.suffix.length + 1 && atOrBelow(name, p.suffix);
    case 'family':
      return p.re.test(name);
  }
}

/**
 * Maps names to the ids of the patterns that match them: exact names by hash, wildcards
 * and families bucketed by their last two labels, so a record costs one or two map lookups.
 */
export class PatternIndex<T> {
  private readonly exact = new Map<string, T[]>();
  private readonly buckets = new Map<string, { p: NamePattern; v: T }[]>();

  add(p: NamePattern, v: T): void {
    if (p.kind === 'exact') {
      const l = this.exact.get(p.text);
      if (l) l.push(v);
      else this.exact.set(p.text, [v]);
      return;
    }
    const key = lastTwoLabels(p.kind === 'wildcard' ? p.suffix : p.tail);
    const l = this.buckets.get(key);
    if (l) l.push({ p, v });
    else this.buckets.set(key, [{ p, v }]);
  }

  /** Values whose pattern matches `name` (may repeat if a value was added under two patterns). */
  match(name: string): T[] | null {
    const ex = this.exact.get(name);
    const b = this.buckets.size ? this.buckets.get(lastTwoLabels(name)) : undefined;
    if (!b) return ex ?? null;
    let out: T[] | null = ex ? [...ex] : null;
    for (const { p, v } of b) {
      if (patternMatches(p, name)) (out ??= []).push(v);
    }
    return out;
  }
}
