import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { classify, type DomainOutcome, type DomainStatus } from './classify.js';
import { loadRules, type Dictionary } from '@haystack/rules';
import { policySchema } from '@haystack/rules';
import { tempDir, TEST_SOURCES, writeFile } from './test-helpers.js';

/**
 * Level decisions on a small dictionary whose expected levels are known:
 *
 *   platform P ── products q1 (maker M2), r1 (maker M3), white-label w1
 *   maker M1  ── products p1, p2          maker M4 ── s1      maker M5 ── s2
 *   maker M6  ── t1                        maker M7 ── u1
 *
 *   d1  used by p1 only                    → evidence of p1 (and M1)         p1: product
 *   d2  used by p1, p2                     → evidence of M1                  p2: manufacturer
 *   d3  used by q1, r1 and P itself        → evidence of P                   q1, r1: platform
 *   d3b used by w1 and P                   → evidence of P                   w1: platform
 *   d4  shared in passive DNS (s1's only)  → s1 rests on shared infrastructure: removed
 *   d5  unresolved (s2's only)             → s2 keeps too few usable domains: removed
 *   d6  used by t1 and u1 (no common class)→ evidence of nothing             t1, u1: not detectable
 *   d7  generic, used by p1                → never evidence
 *   d8  support role, used by p2 only      → not evidence (primary only)
 */
const RULES = `${TEST_SOURCES}
platforms:
  - { id: plat, name: P, operator: P Inc, source: [test] }
manufacturers:
  - { id: m1, name: M1, source: [test] }
  - { id: m2, name: M2, source: [test] }
  - { id: m3, name: M3, source: [test] }
  - { id: m4, name: M4, source: [test] }
  - { id: m5, name: M5, source: [test] }
  - { id: m6, name: M6, source: [test] }
  - { id: m7, name: M7, source: [test] }
products:
  - { id: p1, name: p1, manufacturer: m1, source: [test] }
  - { id: p2, name: p2, manufacturer: m1, source: [test] }
  - { id: q1, name: q1, manufacturer: m2, platforms: [plat], source: [test] }
  - { id: r1, name: r1, manufacturer: m3, platforms: [plat], source: [test] }
  - { id: w1, name: w1, platforms: [plat], source: [test] }
  - { id: s1, name: s1, manufacturer: m4, source: [test] }
  - { id: s2, name: s2, manufacturer: m5, source: [test] }
  - { id: t1, name: t1, manufacturer: m6, source: [test] }
  - { id: u1, name: u1, manufacturer: m7, source: [test] }
domains:
  - { domain: d1.m1.com, role: primary, ports: [tcp/443], used_by: [p1], source: [test] }
  - { domain: d2.m1.com, role: primary, ports: [tcp/443], used_by: [p1, p2], source: [test] }
  - { domain: d3.plat.com, role: primary, ports: [tcp/443], used_by: [q1, r1, plat], source: [test] }
  - { domain: d3b.plat.com, role: primary, ports: [tcp/443], used_by: [w1, plat], source: [test] }
  - { domain: d4.m4.com, role: primary, ports: [tcp/443], used_by: [s1], source: [test] }
  - { domain: d5.m5.com, role: primary, ports: [tcp/443], used_by: [s2], source: [test] }
  - { domain: d6.shared.com, role: primary, ports: [tcp/443], used_by: [t1, u1], source: [test] }
  - { domain: d7.cdn.example, role: primary, ports: [tcp/443], used_by: [p1], source: [test] }
  - { domain: d8.m1.com, role: support, ports: [tcp/443], used_by: [p2], source: [test] }
generic:
  - { suffix: cdn.example, source: [test], why: a CDN }
`;

function outcomes(dict: Dictionary, status: Record<string, DomainStatus>): DomainOutcome[] {
  return dict.domains.map((def) => {
    const s = def.generic ? 'generic' : (status[def.key] ?? 'dedicated');
    return {
      def,
      status: s,
      via: s === 'dedicated' ? 'passive-dns' : null,
      addresses: s === 'dedicated' || s === 'shared' ? new Map([[`10.0.0.${def.line}`, 1]]) : new Map(),
      reason: s,
    };
  });
}

test('levels: product, manufacturer, platform, removed and not detectable, each with its reason', (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(join(dir, 'r.yaml'), RULES);
  const dict = loadRules(dir);
  const policy = policySchema.parse({});
  const c = classify(dict, outcomes(dict, { 'd4.m4.com': 'shared', 'd5.m5.com': 'unresolved' }), policy);
  const by = new Map(c.classes.map((x) => [x.class, x]));
  const expect = (id: string, status: string, level: string | null, detectedAs: string | null) => {
    const x = by.get(id)!;
    assert.deepEqual([x.status, x.level, x.detectedAs], [status, level, detectedAs], `${id}: ${x.reason}`);
    return x;
  };
  assert.deepEqual(expect('p1', 'detectable', 'product', 'p1').evidence, ['d1.m1.com']);
  assert.match(expect('p2', 'coarser', 'manufacturer', 'm1').reason, /also used by p1/);
  assert.deepEqual(expect('m1', 'detectable', 'manufacturer', 'm1').evidence, ['d1.m1.com', 'd2.m1.com']);
  expect('q1', 'coarser', 'platform', 'plat');
  expect('r1', 'coarser', 'platform', 'plat');
  expect('w1', 'coarser', 'platform', 'plat');
  assert.deepEqual(expect('plat', 'detectable', 'platform', 'plat').evidence, ['d3.plat.com', 'd3b.plat.com']);
  expect('m2', 'not-detectable', null, null);
  assert.match(expect('s1', 'removed', null, null).reason, /rests on shared infrastructure: 1 of 1/);
  assert.match(expect('s2', 'removed', null, null).reason, /too few usable primary domains: 0 of 1.*without passive DNS or certificate data/);
  assert.match(expect('t1', 'not-detectable', null, null).reason, /shared with classes outside its manufacturer and platforms \(u1\)/);
  expect('u1', 'not-detectable', null, null);
  expect('m6', 'not-detectable', null, null);

  const d = new Map(c.domains.map((x) => [x.domain, x]));
  assert.deepEqual(d.get('d1.m1.com')!.evidenceFor, ['m1', 'p1']);
  assert.deepEqual(d.get('d2.m1.com')!.evidenceFor, ['m1']);
  assert.deepEqual(d.get('d3.plat.com')!.evidenceFor, ['plat']);
  assert.deepEqual(d.get('d6.shared.com')!.evidenceFor, []);
  assert.match(d.get('d6.shared.com')!.reason, /no common detectable class/);
  assert.equal(d.get('d7.cdn.example')!.status, 'generic');
  assert.deepEqual(d.get('d7.cdn.example')!.evidenceFor, []);
  assert.match(d.get('d8.m1.com')!.reason, /not evidence: support domain/);
  assert.deepEqual(d.get('d4.m4.com')!.evidenceFor, []);

  assert.deepEqual(c.rules.map((r) => `${r.class}:${r.level}:${r.evidence.length}:${r.threshold}`).sort(), [
    'm1:manufacturer:2:1',
    'p1:product:1:1',
    'plat:platform:2:1',
  ]);
});

test('policy changes the decisions: threshold, minimum domains, support as evidence', (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(join(dir, 'r.yaml'), RULES);
  const dict = loadRules(dir);
  const out = outcomes(dict, { 'd4.m4.com': 'shared', 'd5.m5.com': 'unresolved' });

  // Threshold 2: p1 has one evidence domain of its own → detected through m1 (two).
  const t2 = classify(dict, out, policySchema.parse({ threshold: 2 }));
  const p1 = t2.classes.find((x) => x.class === 'p1')!;
  assert.deepEqual([p1.status, p1.detectedAs], ['coarser', 'm1']);
  assert.match(p1.reason, /only 1 evidence domain\(s\), threshold 2/);

  // minPrimaryDomains 2: p2 keeps one primary domain → removed; its domain d2 no longer counts.
  const mp = classify(dict, out, policySchema.parse({ minPrimaryDomains: 2 }));
  assert.equal(mp.classes.find((x) => x.class === 'p2')!.status, 'removed');
  assert.deepEqual(mp.classes.find((x) => x.class === 'm1')!.evidence, ['d1.m1.com']);

  // Support domains as evidence: d8 (p2 only) makes p2 detectable at product level.
  const sup = classify(dict, out, policySchema.parse({ evidenceRoles: ['primary', 'support'] }));
  const p2 = sup.classes.find((x) => x.class === 'p2')!;
  assert.deepEqual([p2.status, p2.evidence], ['detectable', ['d8.m1.com']]);

  // A share threshold of 0: s1 is no longer removed for resting on shared infrastructure,
  // but still keeps no dedicated domain.
  const sh = classify(dict, out, policySchema.parse({ minDedicatedShare: 0 }));
  assert.match(sh.classes.find((x) => x.class === 's1')!.reason, /too few usable/);
});

test('honest levels: a domain seen with the only product listed for its maker is manufacturer evidence unless a source says that product alone uses it', (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  // The D-Link case: the shared cloud was listed as used by the motion sensor only, so every
  // other D-Link device (hub, siren, plug, camera) was "detected" as a motion sensor.
  const rules = `${TEST_SOURCES}
manufacturers:
  - { id: dl, name: D-Link, source: [test] }
  - { id: tp, name: TP-Link, source: [test] }
  - { id: hue, name: Philips, source: [test] }
products:
  - { id: dl-sensor, name: D-Link motion sensor, manufacturer: dl, source: [test] }
  - { id: tp-plug, name: TP-Link plug, manufacturer: tp, source: [test] }
  - { id: tp-bulb, name: TP-Link bulb, manufacturer: tp, source: [test] }
  - { id: hue-bridge, name: Hue bridge, manufacturer: hue, source: [test] }
domains:
  - { domain: r0801.dch.dl.example, role: primary, ports: [tcp/443], used_by: [dl-sensor], source: [test] }
  - { domain: plug.tp.example, role: primary, ports: [tcp/443], used_by: [tp-plug], source: [test] }
  - { domain: bulb.tp.example, role: primary, ports: [tcp/443], used_by: [tp-bulb], source: [test] }
  - { domain: bridge.hue.example, role: primary, ports: [tcp/80], used_by: [hue-bridge], source: [test], product_evidence: [test] }
`;
  writeFile(join(dir, 'r.yaml'), rules);
  const dict = loadRules(dir);
  const c = classify(dict, outcomes(dict, {}), policySchema.parse({}));
  const of = (id: string) => c.classes.find((x) => x.class === id)!;
  assert.equal(of('dl-sensor').status, 'coarser');
  assert.equal(of('dl-sensor').level, 'manufacturer');
  assert.equal(of('dl-sensor').detectedAs, 'dl');
  assert.match(of('dl-sensor').reason, /no evidence that r0801\.dch\.dl\.example is used by this product alone among D-Link's products/);
  assert.deepEqual(
    c.rules.map((r) => `${r.class}:${r.level}`).sort(),
    ['dl:manufacturer', 'hue-bridge:product', 'hue:manufacturer', 'tp-bulb:product', 'tp-plug:product', 'tp:manufacturer'],
    'no product rule for the D-Link sensor; siblings listed (TP-Link) or a stated source (Hue) keep product level',
  );
});
