import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildHitlist, type BuildResult } from './build.js';
import { PdnsFileInput } from './input/pdns.js';
import { loadRules, type Dictionary, type DomainDef, type NamePattern } from '@haystack/rules';
import { addDays } from './days.js';
import { cof, repoRoot, tempDir, writeFile } from './test-helpers.js';

/**
 * The shipped dictionary generalises as it claims (issue: a dictionary that generalises):
 * every family matches names it never listed — sibling names under its zone, other numbered
 * shards, every regional twin — and never its exceptions; and popular names that are not IoT
 * backends never enter a hitlist. Both through the real build, each name on an address of
 * its own, so exclusivity cannot hide a pattern that reaches too far.
 */
const D = '2026-12-01';

let next = 0;
/** A fresh address per name: 198.18.0.0/15 (benchmarking range), then on. */
function freshAddress(): string {
  const n = next++;
  return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

/** Names a pattern claims that no entry spells out: siblings, other shards, the twins themselves. */
function claimed(p: NamePattern): string[] {
  switch (p.kind) {
    case 'exact':
      return [p.text];
    case 'wildcard':
      return [`hx-sibling-7.${p.suffix}`, `a1.edge-eu.${p.suffix}`];
    case 'family':
      return [p.text.replaceAll('{n}', '7'), p.text.replaceAll('{n}', '4711')];
  }
}

function exceptionNames(d: DomainDef): string[] {
  return d.exceptions.map((e) => (e.kind === 'wildcard' ? `x9.${e.suffix}` : e.kind === 'family' ? e.text.replaceAll('{n}', '3') : e.text));
}

async function build(dir: string, dict: Dictionary, lines: string[]): Promise<BuildResult> {
  const pdns = writeFile(join(dir, `pdns-${Math.random()}.jsonl`), lines.join('\n') + '\n');
  return buildHitlist({ day: D, rules: dict, pdns: [new PdnsFileInput(pdns)], tmpDir: dir, now: new Date(0) });
}

test('every family of the shipped dictionary matches its siblings, shards and regional twins, never its exceptions', async () => {
  const t = tempDir();
  try {
    const dict = loadRules(join(repoRoot, 'rules'));
    const families = dict.domains.filter((d) => d.family && d.generic === null);
    assert.ok(families.length >= 50, `${families.length} families`);
    const from = addDays(D, -(dict.policy.lookbackDays - 1));
    const lines: string[] = [];
    const want: { family: DomainDef; name: string; address: string }[] = [];
    const never: { family: DomainDef; name: string; address: string }[] = [];
    let twins = 0;
    for (const f of families) {
      for (const p of f.patterns) {
        for (const name of claimed(p)) {
          if (f.exceptions.some((e) => e.text === name)) continue;
          const address = freshAddress();
          lines.push(cof(name, 'A', address, from, D));
          want.push({ family: f, name, address });
        }
      }
      if (f.regions.length) twins += f.patterns.length;
      for (const name of exceptionNames(f)) {
        const address = freshAddress();
        lines.push(cof(name, 'A', address, from, D));
        never.push({ family: f, name, address });
      }
      // A sibling on the same address as an exception (the website's server): not the family's.
      const zone = f.patterns.find((p) => p.kind === 'wildcard');
      // (an exception another entry holds as a device name, e.g. www.samsungotn.net, is the maker's own)
      const ex = exceptionNames(f).find((n) => !dict.domains.some((d) => d !== f && d.patterns.some((p) => p.kind === 'exact' && p.text === n)));
      if (zone && zone.kind === 'wildcard' && ex) {
        const address = freshAddress();
        const name = `hx-beside-website.${zone.suffix}`;
        lines.push(cof(name, 'A', address, from, D), cof(ex, 'A', address, from, D));
        never.push({ family: f, name, address });
      }
    }
    assert.ok(twins >= 20, `only ${twins} regional twin names`);
    const r = await build(t.dir, dict, lines);

    const domainsAt = new Map<string, Set<string>>();
    const classesAt = new Map<string, Set<string>>();
    for (const e of r.hitlist.entries) {
      const s = domainsAt.get(e.address) ?? new Set<string>();
      const c = classesAt.get(e.address) ?? new Set<string>();
      for (const i of e.domains) {
        s.add(r.hitlist.domains[i]!.name);
        for (const k of r.hitlist.domains[i]!.classes) c.add(r.hitlist.classes[k]!.id);
      }
      domainsAt.set(e.address, s);
      classesAt.set(e.address, c);
    }
    const decisions = new Map(r.classification.domains.map((d) => [d.domain, d]));
    // A primary family is evidence of a class: its `used_by` names classes with a common one.
    const deadWeight = families.filter((f) => f.role === 'primary' && decisions.get(f.key)!.evidenceFor.length === 0).map((f) => f.key);
    assert.deepEqual(deadWeight, [], 'primary families that are evidence of nothing');
    let checked = 0;
    for (const w of want) {
      const dec = decisions.get(w.family.key)!;
      assert.equal(dec.status, 'dedicated', `${w.family.key}: ${dec.reason}`);
      if (w.family.role !== 'primary') continue;
      // Listed for the family, or (one flow is one piece of evidence) for a domain evidencing the same classes.
      const listed = domainsAt.get(w.address)?.has(w.family.key) || dec.evidenceFor.every((c) => classesAt.get(w.address)?.has(c));
      assert.ok(listed, `${w.name} (${w.address}) is not in the hitlist for ${w.family.key}`);
      checked++;
    }
    assert.ok(checked > 100, `only ${checked} names checked`);
    for (const n of never) assert.ok(!domainsAt.get(n.address)?.has(n.family.key), `exception ${n.name} entered the hitlist for ${n.family.key}`);
    // The report says per family how many names matched, and what was kept.
    const tp = decisions.get('*.tplinkcloud.com')!;
    assert.ok(tp.family && tp.family.names >= 3 && tp.family.excepted >= 1 && tp.family.addressesKept >= 3, JSON.stringify(tp.family));
  } finally {
    t.cleanup();
  }
});

test('popular names that are not IoT backends, and the makers own websites, never enter the hitlist', async () => {
  const t = tempDir();
  try {
    const dict = loadRules(join(repoRoot, 'rules'));
    const names = readFileSync(join(repoRoot, 'services', 'hitlist', 'testdata', 'popular-non-iot.txt'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    assert.ok(names.length > 200, `${names.length} names`);
    const from = addDays(D, -(dict.policy.lookbackDays - 1));
    const r = await build(
      t.dir,
      dict,
      names.map((n) => cof(n, 'A', freshAddress(), from, D)),
    );
    const inHitlist = r.hitlist.entries.map((e) => `${e.address} ${e.domains.map((i) => r.hitlist.domains[i]!.name).join(',')}`);
    assert.deepEqual(inHitlist, []);
    // They were read: the build saw every name.
    assert.equal(r.report.inputs.pdns[0]!.records, names.length);
  } finally {
    t.cleanup();
  }
});
