import { join } from 'node:path';
import type { Window } from './days.js';
import { forEachLine } from './input/lines.js';
import type { PdnsInput, PdnsRecord } from './input/pdns.js';
import { InputReport } from './input/report.js';
import { PatternIndex, RegisteredDomains, isException, patternMatches } from '@haystack/rules';
import type { DomainDef } from '@haystack/rules';
import { SpillWriter } from './spill.js';

/**
 * Passive DNS → service addresses of the dictionary's domains, and whether each domain is
 * dedicated (docs/method.md, step 2), in streaming passes with memory bounded by the IoT
 * domains' own records:
 *
 * 1. The inputs are read once. Records valid in the window are normalised into a spill file
 *    on disk; records of dictionary names are kept.
 * 2. Forward passes over the spill follow CNAME targets of kept names, one hop per pass,
 *    keeping only records of names newly reached (depth limit).
 * 3. Reverse passes collect, for every address reached, the names with A/AAAA records on it
 *    (grouped by registered domain, capped), then CNAMEs pointing at those names, one hop
 *    per pass (reverse depth limit): everything that maps to the address.
 * 4. Per day of the window, each domain's names are resolved through CNAME chains (cycle
 *    guard, depth limit) using only records valid that day; an address is exclusive to the
 *    domain on that day when every name mapping to it belongs to the domain's registered
 *    domain or to its own CNAME chain. A domain is dedicated when all its addresses were
 *    exclusive on every day; otherwise it is shared, with the first offending evidence.
 */
export interface ResolveOptions {
  window: Window;
  maxCnameDepth: number;
  maxReverseDepth: number;
  tmpDir: string;
  /** Distinct registered domains remembered per address; beyond it the address is shared on those days. Default 16. */
  maxRegdomsPerAddress?: number;
  /** Names remembered per registered domain per address (for the reverse passes). Default 64. */
  maxNamesPerRegdom?: number;
  /**
   * Whether two entries are of one maker (a common class, or one's products of the other's
   * maker or platform): a family counts such an entry's names on its addresses as its own.
   * Default: a class id in common.
   */
  sameMaker?: (a: DomainDef, b: DomainDef) => boolean;
  onProgress?: (msg: string, data: Record<string, unknown>) => void;
}

export interface SharedFinding {
  address: string;
  day: string;
  /** Names (or a description) that map to the address but are neither in the domain's registered domain nor its chain. */
  foreign: string[];
}

/** How a family (DomainDef.family) fared, name by name. */
export interface FamilyResolution {
  /** Names matched in passive DNS (exceptions not counted). */
  names: number;
  /** Names matched but listed as the maker's website, apps or content (`except`). */
  excepted: string[];
  /** Names dedicated on every day of the window: their addresses are kept. */
  dedicatedNames: number;
  /** Names with at least one address that was not exclusive on some day: dropped. */
  sharedNames: number;
  /** Addresses kept (of dedicated names) and dropped (only of shared names). */
  addressesKept: number;
  addressesDropped: number;
  /** The first few dropped names with the address and what else it serves. */
  dropped: { name: string; address: string; day: string; foreign: string[] }[];
}

export interface DomainResolution {
  key: string;
  /** Names seen in passive DNS that match the domain's patterns. */
  instances: string[];
  /** Set for families: the name-by-name account (null for single-name entries). */
  family: FamilyResolution | null;
  status: 'dedicated' | 'shared' | 'no-data';
  /** Address → mask of window days it served the domain. */
  addresses: Map<string, number>;
  /** Number of (address, day) pairs that were not exclusive, and the first few. */
  sharedPairs: number;
  shared: SharedFinding[];
  notes: string[];
}

export interface ResolveStats {
  records: number;
  inWindow: number;
  spilled: number;
  forwardPasses: number;
  reversePasses: number;
  forwardNames: number;
  addresses: number;
  reverseNames: number;
}

interface FwdNode {
  depth: number;
  cnames: Map<string, number>;
  addrs: Map<string, number>;
}

interface RegdomSlot {
  mask: number;
  /** Stored names with their masks; null once more than the cap were seen. */
  names: Map<string, number> | null;
  /** Days on which names beyond the cap were seen. */
  overflowMask: number;
}

/** Who maps to an address (or CNAMEs to a name): grouped by registered domain, bounded. */
class Occupancy {
  readonly regdoms = new Map<string, RegdomSlot>();
  /** Days on which names of registered domains beyond the cap were seen. */
  overflowMask = 0;

  constructor(
    private readonly maxRegdoms: number,
    private readonly maxNames: number,
  ) {}

  /** Returns true when `name` is newly remembered (worth following in the reverse passes). */
  add(name: string, regdom: string, mask: number): boolean {
    let slot = this.regdoms.get(regdom);
    if (!slot) {
      if (this.regdoms.size >= this.maxRegdoms) {
        this.overflowMask |= mask;
        return false;
      }
      slot = { mask: 0, names: new Map(), overflowMask: 0 };
      this.regdoms.set(regdom, slot);
    }
    slot.mask |= mask;
    if (slot.names === null) {
      slot.overflowMask |= mask;
      return false;
    }
    const prev = slot.names.get(name);
    if (prev !== undefined) {
      slot.names.set(name, prev | mask);
      return false;
    }
    if (slot.names.size >= this.maxNames) {
      slot.overflowMask |= mask;
      return false;
    }
    slot.names.set(name, mask);
    return true;
  }
}

const MAX_FINDINGS = 5;

/**
 * Whose names may share an address with a domain without making it shared (docs/method.md,
 * step 2). A single name: every name of its registered domain, or of its CNAME chain. A family:
 * only the names it matches, its chain and names of the same maker's entries, never its
 * exceptions (the maker's website on a sub-zone's address makes the address shared).
 */
interface Ownership {
  own(name: string): boolean;
  /** Every name of this registered domain is own: no per-name check, nor a cap, matters. */
  wholeRegdom(rd: string): boolean;
  excepted(name: string): boolean;
}

export class PdnsResolver {
  private readonly regdoms = new RegisteredDomains();
  private readonly index = new PatternIndex<number>();
  private readonly fwd = new Map<string, FwdNode>();
  /** Entry index → names matching it. */
  private readonly instances: Set<string>[];
  /** Entry index → names matching it that are its exceptions. */
  private readonly excepted: Set<string>[];
  private readonly ipOcc = new Map<string, Occupancy>();
  private readonly revEdges = new Map<string, Occupancy>();
  private readonly revDepth = new Map<string, number>();
  /** Name matched in passive DNS → the entries it is an instance of. */
  private readonly entriesOf = new Map<string, number[]>();
  /** Address → dictionary-reached names with records on it (built after the forward passes). */
  private readonly fwdByAddr = new Map<string, string[]>();
  private readonly maxRegdoms: number;
  private readonly maxNames: number;
  readonly stats: ResolveStats = { records: 0, inWindow: 0, spilled: 0, forwardPasses: 0, reversePasses: 0, forwardNames: 0, addresses: 0, reverseNames: 0 };

  constructor(
    private readonly domains: readonly DomainDef[],
    private readonly opts: ResolveOptions,
  ) {
    domains.forEach((d, i) => {
      for (const p of d.patterns) this.index.add(p, i);
    });
    this.instances = domains.map(() => new Set());
    this.excepted = domains.map(() => new Set());
    this.maxRegdoms = opts.maxRegdomsPerAddress ?? 16;
    this.maxNames = opts.maxNamesPerRegdom ?? 64;
  }

  /** Read every input once, then run the forward and reverse passes over the spill. */
  async collect(inputs: readonly PdnsInput[]): Promise<InputReport[]> {
    const spillPath = join(this.opts.tmpDir, 'pdns.spill');
    const spill = new SpillWriter(spillPath);
    const reports: InputReport[] = [];
    const w = this.opts.window;
    try {
      for (const input of inputs) {
        const report = new InputReport(input.name);
        reports.push(report);
        await input.read((r: PdnsRecord) => {
          this.stats.records++;
          const mask = w.mask(r.timeFirst, r.timeLast);
          if (mask === 0) return report.ignore('outside the window');
          this.stats.inWindow++;
          const kind = r.rrtype === 'CNAME' ? 'C' : 'A';
          spill.write(`${kind}\t${r.rrname}\t${r.rdata}\t${mask}`);
          const hit = this.index.match(r.rrname);
          if (hit) {
            let kept = false;
            for (const i of hit) {
              if (this.domains[i]!.exceptions.length && isException(this.domains[i]!, r.rrname)) this.excepted[i]!.add(r.rrname);
              else {
                if (!this.instances[i]!.has(r.rrname)) {
                  this.instances[i]!.add(r.rrname);
                  const l = this.entriesOf.get(r.rrname);
                  if (l) l.push(i);
                  else this.entriesOf.set(r.rrname, [i]);
                }
                kept = true;
              }
            }
            if (kept) this.record(this.node(r.rrname, 0), kind, r.rdata, mask);
          }
        }, report);
        this.opts.onProgress?.('passive DNS input read', { input: input.name, lines: report.lines, records: report.records, skipped: report.skippedTotal });
      }
    } finally {
      spill.close();
    }
    this.stats.spilled = spill.lines;
    await this.forward(spillPath);
    await this.reverse(spillPath);
    return reports;
  }

  private node(name: string, depth: number): FwdNode {
    let n = this.fwd.get(name);
    if (!n) {
      n = { depth, cnames: new Map(), addrs: new Map() };
      this.fwd.set(name, n);
    } else if (depth < n.depth) n.depth = depth;
    return n;
  }

  private record(n: FwdNode, kind: string, data: string, mask: number): void {
    const m = kind === 'C' ? n.cnames : n.addrs;
    m.set(data, (m.get(data) ?? 0) | mask);
  }

  /** Names reached by a CNAME from a kept name and not kept yet (within the depth limit). */
  private frontier(): Map<string, number> {
    const out = new Map<string, number>();
    for (const n of this.fwd.values()) {
      if (n.depth >= this.opts.maxCnameDepth) continue;
      for (const t of n.cnames.keys()) {
        if (!this.fwd.has(t)) {
          const d = out.get(t);
          if (d === undefined || n.depth + 1 < d) out.set(t, n.depth + 1);
        }
      }
    }
    return out;
  }

  private async forward(spillPath: string): Promise<void> {
    for (;;) {
      const pending = this.frontier();
      if (pending.size === 0) break;
      for (const [name, depth] of pending) this.node(name, depth);
      this.stats.forwardPasses++;
      await forEachLine(spillPath, (line) => {
        const a = line.indexOf('\t');
        const b = line.indexOf('\t', a + 1);
        const name = line.slice(a + 1, b);
        if (!pending.has(name)) return;
        const c = line.indexOf('\t', b + 1);
        this.record(this.fwd.get(name)!, line.slice(0, a), line.slice(b + 1, c), Number(line.slice(c + 1)));
      });
      this.opts.onProgress?.('forward pass', { pass: this.stats.forwardPasses, names: pending.size });
    }
    this.stats.forwardNames = this.fwd.size;
    for (const [name, n] of this.fwd) {
      for (const a of n.addrs.keys()) {
        if (!this.ipOcc.has(a)) this.ipOcc.set(a, new Occupancy(this.maxRegdoms, this.maxNames));
        const l = this.fwdByAddr.get(a);
        if (l) l.push(name);
        else this.fwdByAddr.set(a, [name]);
      }
    }
    this.stats.addresses = this.ipOcc.size;
  }

  private async reverse(spillPath: string): Promise<void> {
    if (this.ipOcc.size === 0) return;
    // Chain names are followed backwards from depth 0, like names with records on an address.
    let pending = new Set<string>();
    for (const name of this.fwd.keys()) {
      this.revDepth.set(name, 0);
      pending.add(name);
    }
    let first = true;
    for (;;) {
      const added = new Set<string>();
      const followCnames = this.opts.maxReverseDepth > 0;
      if (!first && (pending.size === 0 || !followCnames)) break;
      this.stats.reversePasses++;
      const wantA = first;
      const cur = pending;
      await forEachLine(spillPath, (line) => {
        const a = line.indexOf('\t');
        const b = line.indexOf('\t', a + 1);
        const c = line.indexOf('\t', b + 1);
        const data = line.slice(b + 1, c);
        if (line.charCodeAt(0) === 65 /* A */) {
          if (!wantA) return;
          const occ = this.ipOcc.get(data);
          if (!occ) return;
          const name = line.slice(a + 1, b);
          if (this.fwd.has(name)) return; // chain names are known exactly from the forward passes
          if (occ.add(name, this.regdoms.of(name), Number(line.slice(c + 1))) && !this.revDepth.has(name)) {
            this.revDepth.set(name, 0);
            added.add(name);
          }
          return;
        }
        if (!followCnames || !cur.has(data)) return;
        const depth = this.revDepth.get(data)! + 1;
        if (depth > this.opts.maxReverseDepth) return;
        const name = line.slice(a + 1, b);
        let occ = this.revEdges.get(data);
        if (!occ) {
          occ = new Occupancy(this.maxRegdoms, this.maxNames);
          this.revEdges.set(data, occ);
        }
        if (occ.add(name, this.regdoms.of(name), Number(line.slice(c + 1))) && !this.revDepth.has(name)) {
          this.revDepth.set(name, depth);
          added.add(name);
        }
      });
      this.opts.onProgress?.('reverse pass', { pass: this.stats.reversePasses, followed: cur.size, found: added.size });
      first = false;
      // Names found on an address in the first pass still need their own CNAME sources.
      pending = added;
    }
    this.stats.reverseNames = this.revDepth.size;
  }

  /** Resolve every domain on every day of the window and decide dedicated or shared. */
  evaluate(): DomainResolution[] {
    return this.domains.map((d, i) => {
      const inst = [...this.instances[i]!].sort();
      const res: DomainResolution = {
        key: d.key,
        instances: inst,
        family: null,
        status: 'no-data',
        addresses: new Map(),
        sharedPairs: 0,
        shared: [],
        notes: [],
      };
      if (d.family) {
        res.family = {
          names: inst.length,
          excepted: [...this.excepted[i]!].sort(),
          dedicatedNames: 0,
          sharedNames: 0,
          addressesKept: 0,
          addressesDropped: 0,
          dropped: [],
        };
      }
      if (inst.length === 0) {
        res.notes.push(
          this.excepted[i]!.size ? `no passive DNS record in the window of a name other than its exceptions` : 'no passive DNS record in the window',
        );
        return res;
      }
      const excepted = d.exceptions.length ? (n: string) => isException(d, n) : () => false;
      const allowed = new Set(inst.map((n) => this.regdoms.of(n)));
      if (!d.family) {
        const plain = d.exceptions.length === 0;
        return this.evaluateDomain(inst, res, {
          own: (n) => allowed.has(this.regdoms.of(n)) && !excepted(n),
          wholeRegdom: (rd) => plain && allowed.has(rd),
          excepted,
        });
      }
      const siblings = this.siblingsOf(i);
      return this.evaluateFamily(d, inst, res, {
        own: (n) => (d.patterns.some((p) => patternMatches(p, n)) && !excepted(n)) || (this.entriesOf.get(n)?.some((j) => siblings.has(j)) ?? false),
        wholeRegdom: () => false,
        excepted,
      });
    });
  }

  /** Entries of the same maker as entry `i` (primary ones: a support or app host is not the family's). */
  private siblingsOf(i: number): Set<number> {
    const d = this.domains[i]!;
    const same = this.opts.sameMaker ?? ((a: DomainDef, b: DomainDef) => a.usedBy.some((u) => b.usedBy.includes(u)));
    const out = new Set<number>();
    this.domains.forEach((e, j) => {
      if (j !== i && e.role === 'primary' && same(d, e)) out.add(j);
    });
    return out;
  }

  /** The paper's rule for one domain: dedicated when all its addresses are exclusive on every day. */
  private evaluateDomain(inst: string[], res: DomainResolution, who: Ownership): DomainResolution {
    const w = this.opts.window;
    const notes = new Set<string>();
    for (let bit = 0; bit < w.days; bit++) {
      const dayBit = 1 << bit;
      const chain = new Set<string>();
      const addrs = new Set<string>();
      for (const n of inst) this.walk(n, dayBit, chain, addrs, notes);
      for (const a of addrs) {
        res.addresses.set(a, (res.addresses.get(a) ?? 0) | dayBit);
        const foreign = this.foreignOn(a, dayBit, who, chain);
        if (foreign.length) {
          res.sharedPairs++;
          if (res.shared.length < MAX_FINDINGS) res.shared.push({ address: a, day: w.dayOf(bit), foreign });
        }
      }
    }
    res.notes.push(...notes);
    if (res.addresses.size === 0) {
      res.notes.push('names seen in passive DNS, but none resolved to an address in the window');
      return res;
    }
    res.status = res.sharedPairs > 0 ? 'shared' : 'dedicated';
    return res;
  }

  /**
   * A family, name by name: each matched name is a domain of the paper's rule (all its addresses
   * exclusive on every day, the family's own names and chains counting as its own), and only
   * the addresses of dedicated names are kept. The family is dedicated when one name is.
   */
  private evaluateFamily(d: DomainDef, inst: string[], res: DomainResolution, who: Ownership): DomainResolution {
    const w = this.opts.window;
    const fam = res.family!;
    const notes = new Set<string>();
    // Per day: the family's chain names (any name of it may CNAME to another) and each name's addresses.
    const perName = new Map<string, { addrs: Map<string, number>; sharedPairs: number; first: SharedFinding | null }>();
    for (const n of inst) perName.set(n, { addrs: new Map(), sharedPairs: 0, first: null });
    for (let bit = 0; bit < w.days; bit++) {
      const dayBit = 1 << bit;
      const chain = new Set<string>();
      const dayAddrs = new Map<string, Set<string>>();
      for (const n of inst) {
        const addrs = new Set<string>();
        this.walk(n, dayBit, chain, addrs, notes);
        dayAddrs.set(n, addrs);
      }
      const verdict = new Map<string, string[]>();
      for (const [n, addrs] of dayAddrs) {
        const pn = perName.get(n)!;
        for (const a of addrs) {
          pn.addrs.set(a, (pn.addrs.get(a) ?? 0) | dayBit);
          let foreign = verdict.get(a);
          if (foreign === undefined) verdict.set(a, (foreign = this.foreignOn(a, dayBit, who, chain)));
          if (foreign.length) {
            pn.sharedPairs++;
            pn.first ??= { address: a, day: w.dayOf(bit), foreign };
          }
        }
      }
    }
    res.notes.push(...notes);
    const dropped = new Set<string>();
    for (const [n, pn] of perName) {
      if (pn.addrs.size === 0) continue;
      if (pn.sharedPairs > 0) {
        fam.sharedNames++;
        res.sharedPairs += pn.sharedPairs;
        for (const a of pn.addrs.keys()) dropped.add(a);
        if (res.shared.length < MAX_FINDINGS) res.shared.push(pn.first!);
        if (fam.dropped.length < MAX_FINDINGS) fam.dropped.push({ name: n, ...pn.first! });
        continue;
      }
      fam.dedicatedNames++;
      for (const [a, m] of pn.addrs) res.addresses.set(a, (res.addresses.get(a) ?? 0) | m);
    }
    for (const a of res.addresses.keys()) dropped.delete(a);
    fam.addressesKept = res.addresses.size;
    fam.addressesDropped = dropped.size;
    if (fam.dedicatedNames + fam.sharedNames === 0) {
      res.notes.push('names seen in passive DNS, but none resolved to an address in the window');
      return res;
    }
    res.status = fam.dedicatedNames > 0 ? 'dedicated' : 'shared';
    return res;
  }

  /** Depth-first resolution of `name` on one day: collects chain names and addresses, notes loops and truncation. */
  private walk(start: string, dayBit: number, chain: Set<string>, addrs: Set<string>, notes: Set<string>): void {
    const onPath = new Set<string>();
    const done = new Set<string>();
    const visit = (name: string, depth: number) => {
      const n = this.fwd.get(name);
      chain.add(name);
      if (!n) return;
      onPath.add(name);
      for (const [a, m] of n.addrs) if (m & dayBit) addrs.add(a);
      for (const [t, m] of n.cnames) {
        if (!(m & dayBit)) continue;
        if (onPath.has(t)) {
          notes.add(`CNAME loop: ${name} → ${t}`);
          continue;
        }
        if (done.has(t)) continue;
        if (depth + 1 > this.opts.maxCnameDepth) {
          notes.add(`CNAME chain from ${start} longer than ${this.opts.maxCnameDepth}; truncated at ${name}`);
          continue;
        }
        visit(t, depth + 1);
      }
      onPath.delete(name);
      done.add(name);
    };
    visit(start, 0);
  }

  /** Names mapping to `addr` on the day that are not the domain's own (see Ownership) nor of its chain. */
  private foreignOn(addr: string, dayBit: number, who: Ownership, chain: Set<string>): string[] {
    const out: string[] = [];
    const push = (s: string) => {
      if (out.length < 5 && !out.includes(s)) out.push(s);
    };
    const occ = this.ipOcc.get(addr);
    const seeds: string[] = [];
    // Names of other dictionary domains' chains on this address.
    for (const name of this.fwdByAddr.get(addr) ?? []) {
      const m = this.fwd.get(name)!.addrs.get(addr);
      if (m === undefined || !(m & dayBit)) continue;
      seeds.push(name);
      if (chain.has(name) ? who.excepted(name) : !who.own(name)) push(name);
    }
    if (occ) {
      if (occ.overflowMask & dayBit) push(`(names of more than ${this.maxRegdoms} registered domains)`);
      this.scanOccupancy(occ, dayBit, who, chain, push, seeds);
    }
    // Names that reach the address through CNAMEs, within the reverse depth collected.
    const seen = new Set(seeds);
    const queue = [...seeds];
    while (queue.length) {
      const t = queue.shift()!;
      const edges = this.revEdges.get(t);
      if (!edges) continue;
      const next: string[] = [];
      this.scanOccupancy(edges, dayBit, who, chain, push, next);
      if (edges.overflowMask & dayBit) push(`(names of more than ${this.maxRegdoms} registered domains point at ${t})`);
      for (const s of next) {
        if (seen.has(s)) continue;
        seen.add(s);
        queue.push(s);
      }
    }
    return out;
  }

  private scanOccupancy(occ: Occupancy, dayBit: number, who: Ownership, chain: Set<string>, push: (s: string) => void, names: string[]): void {
    for (const [rd, slot] of occ.regdoms) {
      if (!(slot.mask & dayBit)) continue;
      const whole = who.wholeRegdom(rd);
      // Names beyond the cap were not remembered: unless the whole registered domain is the
      // domain's own, one of them may be foreign (an exception, another tenant): not exclusive.
      if (!whole && slot.overflowMask & dayBit) push(`(many names of ${rd})`);
      if (!slot.names) continue;
      for (const [name, m] of slot.names) {
        if (!(m & dayBit)) continue;
        names.push(name);
        if (whole ? false : chain.has(name) ? who.excepted(name) : !who.own(name)) push(name);
      }
    }
  }
}
