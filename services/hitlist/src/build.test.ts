import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseAddress } from '@haystack/common';
import { buildHitlist, type BuildResult } from './build.js';
import { CertFileInput } from './input/certs.js';
import { PdnsFileInput } from './input/pdns.js';
import { loadHitlist, PROTOCOL } from '@haystack/hitlist-contract';
import { loadRules } from '@haystack/rules';
import { at, cof, tempDir, TEST_SOURCES, writeFile } from './test-helpers.js';

/**
 * The paper's own cases (docs/method.md, steps 2–3), each with real files through the real build:
 * CNAME to an EC2 VM is dedicated, an Akamai edge shared with unrelated names is shared, a
 * domain missing from passive DNS is recovered from a certificate, a domain shared on one
 * day of the window is shared, IPv6, CNAME loops, churn.
 */
const RULES = `${TEST_SOURCES}
policy: { lookbackDays: 3, threshold: 1, minPrimaryDomains: 1, minDedicatedShare: 0.5 }
manufacturers:
  - { id: deva, name: DevA, source: [test] }
  - { id: devb, name: DevB, source: [test] }
  - { id: devc, name: DevC, source: [test] }
  - { id: devd, name: DevD, source: [test] }
  - { id: deve, name: DevE, source: [test] }
  - { id: devf, name: DevF, source: [test] }
  - { id: devg, name: DevG, source: [test] }
  - { id: devh, name: DevH, source: [test] }
products:
  - { id: deva-cam, name: A cam, manufacturer: deva, source: [test] }
  - { id: devb-tv, name: B tv, manufacturer: devb, source: [test] }
  - { id: devc-plug, name: C plug, manufacturer: devc, source: [test] }
  - { id: devd-hub, name: D hub, manufacturer: devd, source: [test] }
  - { id: deve-bulb, name: E bulb, manufacturer: deve, source: [test] }
  - { id: devf-lock, name: F lock, manufacturer: devf, source: [test] }
  - { id: devg-loop, name: G loop, manufacturer: devg, source: [test] }
  - { id: devh-fam, name: H family, manufacturer: devh, source: [test] }
domains:
  - { domain: api.deva.com, role: primary, ports: [tcp/443], used_by: [deva-cam], source: [test], product_evidence: [test] }
  - { domain: cdn.devb.com, role: primary, ports: [tcp/443], used_by: [devb-tv], source: [test], product_evidence: [test] }
  - { domain: api.devc.com, role: primary, ports: [tcp/8883], used_by: [devc-plug], source: [test], product_evidence: [test] }
  - { domain: v6.devd.com, role: primary, ports: [any/5683], used_by: [devd-hub], source: [test], product_evidence: [test] }
  - { domain: c.deve.com, role: primary, ports: [tcp/443], used_by: [deve-bulb], source: [test], product_evidence: [test] }
  - { domain: d.devf.com, role: primary, ports: [tcp/443], used_by: [devf-lock], source: [test], product_evidence: [test] }
  - { domain: loop.devg.com, role: primary, ports: [tcp/443], used_by: [devg-loop], source: [test], product_evidence: [test] }
  - { domain: "n{n}.devh.com", also: ["*.push.devh.com"], role: primary, ports: [udp/123], used_by: [devh-fam], source: [test], product_evidence: [test] }
`;

const D = '2024-05-10';
const D1 = '2024-05-08'; // first day of the 3-day window ending on D
const D2 = '2024-05-09';

function pdnsLines(): string[] {
  return [
    // Case 1: a domain behind an EC2 VM via CNAME is dedicated.
    cof('api.deva.com.', 'CNAME', 'deva-vm.compute-1.amazonaws.com.', D1, D),
    cof('deva-vm.compute-1.amazonaws.com.', 'A', '3.3.3.3', D1, D),
    // Unrelated traffic on other addresses.
    cof('www.example.org.', 'A', '8.8.4.4', D1, D),
    // Case 2: an Akamai edge serving unrelated names too.
    cof('cdn.devb.com.', 'CNAME', 'cdn.devb.com.edgekey.net.', D1, D),
    cof('cdn.devb.com.edgekey.net.', 'CNAME', 'e100.a.akamaiedge.net.', D1, D),
    cof('e100.a.akamaiedge.net.', 'A', '23.1.1.1', D1, D),
    cof('www.unrelated.com.', 'CNAME', 'www.unrelated.com.edgekey.net.', D1, D),
    cof('www.unrelated.com.edgekey.net.', 'CNAME', 'e200.a.akamaiedge.net.', D1, D),
    cof('e200.a.akamaiedge.net.', 'A', '23.1.1.1', D1, D),
    // Case 4: exclusive on two days, shared on the middle day of the window.
    cof('api.devc.com.', 'A', '7.7.7.7', D1, D),
    cof('other.example.net.', 'A', '7.7.7.7', D2, D2),
    // Case 5: IPv6, written two ways.
    cof('v6.devd.com.', 'AAAA', '2001:db8:0:0::1', D1, D),
    cof('v6.devd.com.', 'AAAA', '2001:DB8::1', D, D),
    // Case 6: a CNAME loop that still has an address.
    cof('loop.devg.com.', 'CNAME', 'l2.devg.com.', D1, D),
    cof('l2.devg.com.', 'CNAME', 'loop.devg.com.', D1, D),
    cof('l2.devg.com.', 'A', '9.9.9.9', D1, D),
    // Numbered family and wildcard.
    cof('n12.devh.com', 'A', '10.1.0.12', D, D),
    cof('a.push.devh.com', 'A', '10.1.0.13', D, D),
    cof('nx.devh.com', 'A', '10.1.0.99', D, D), // not a member of the family
    // Outside the window entirely.
    cof('api.deva.com.', 'A', '3.9.9.9', '2024-04-01', '2024-04-02'),
  ];
}

const h = (s: string) => s.padEnd(64, '0');
function certLines(): string[] {
  const t = new Date(at(D2) * 1000).toISOString();
  return [
    // Case 3: c.deve.com has no passive DNS; its certificate names lie under deve.com only.
    JSON.stringify({ fingerprint_sha256: h('aa'), names: ['c.deve.com', '*.deve.com'] }),
    JSON.stringify({
      ip: '5.5.5.1',
      services: [{ port: 443, transport_protocol: 'TCP', banner_hashes: ['sha256:b1'], tls: { certificates: { leaf_fp_sha256: h('aa') } } }],
      last_updated_at: t,
    }),
    JSON.stringify({ ip: '5.5.5.2', port: 443, fingerprint_sha256: h('aa'), banner_hash: 'sha256:b1', observed_at: t }),
    // Same certificate, other banner: not the same service.
    JSON.stringify({ ip: '5.5.5.3', port: 443, fingerprint_sha256: h('aa'), banner_hash: 'sha256:zz', observed_at: t }),
    // d.devf.com: its certificate carries an extra unrelated SAN: rejected.
    JSON.stringify({
      ip: '6.6.6.1',
      port: 443,
      fingerprint_sha256: h('bb'),
      names: ['d.devf.com', 'shop.unrelated.org'],
      banner_hash: 'sha256:b2',
      observed_at: t,
    }),
  ];
}

async function build(dir: string, lines: string[], day = D, previous: BuildResult | null = null, certs = true): Promise<BuildResult> {
  const rules = loadRules(join(dir, 'rules'));
  const pdns = writeFile(join(dir, `pdns-${day}-${Math.random()}.jsonl`), lines.join('\n') + '\n');
  const certFile = writeFile(join(dir, 'certs.jsonl'), certLines().join('\n') + '\n');
  return buildHitlist({
    day,
    rules,
    pdns: [new PdnsFileInput(pdns)],
    certs: certs ? [new CertFileInput(certFile)] : [],
    tmpDir: dir,
    previous: previous?.hitlist ?? null,
  });
}

function domain(r: BuildResult, key: string) {
  const d = r.classification.domains.find((x) => x.domain === key);
  assert.ok(d, `no decision for ${key}`);
  return d;
}

test('paper cases: EC2 via CNAME, Akamai edge, certificate fallback, one shared day, IPv6, loops, families', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(join(dir, 'rules', 'rules.yaml'), RULES);
  const r = await build(dir, pdnsLines());

  // 1. EC2 VM through a CNAME: exclusive (own chain), dedicated, in the hitlist.
  const a = domain(r, 'api.deva.com');
  assert.equal(a.status, 'dedicated', a.reason);
  assert.equal(a.via, 'passive-dns');
  assert.equal(a.addresses, 1, 'the record outside the window is not used');
  const hl = loadHitlist(r.hitlist);
  assert.deepEqual(hl.find('3.3.3.3', 443, 'tcp'), { domains: ['api.deva.com'], classes: ['deva', 'deva-cam'] });
  assert.equal(hl.find('3.9.9.9', 443, 'tcp'), null);
  assert.equal(hl.find('3.3.3.3', 80, 'tcp'), null, 'only the dictionary port');

  // 2. Akamai edge shared with an unrelated customer's edge name.
  const b = domain(r, 'cdn.devb.com');
  assert.equal(b.status, 'shared');
  assert.match(b.reason, /23\.1\.1\.1/);
  assert.match(b.reason, /e200\.a\.akamaiedge\.net|www\.unrelated\.com/);
  assert.equal(hl.find('23.1.1.1', 443, 'tcp'), null);
  const bc = r.classification.classes.find((c) => c.class === 'devb-tv')!;
  assert.equal(bc.status, 'removed');
  assert.match(bc.reason, /rests on shared infrastructure/);

  // 3. Certificate fallback: c.deve.com recovered from *.deve.com + c.deve.com on two addresses
  //    with the same banner; the third address has another banner.
  const c = domain(r, 'c.deve.com');
  assert.equal(c.status, 'dedicated', c.reason);
  assert.equal(c.via, 'certificate');
  assert.equal(c.addresses, 2);
  assert.match(c.reason, /1 address\(es\) left out as inconsistent/);
  assert.ok(hl.find('5.5.5.1', 443, 'tcp'));
  assert.ok(hl.find('5.5.5.2', 443, 'tcp'));
  assert.equal(hl.find('5.5.5.3', 443, 'tcp'), null);
  //    d.devf.com: its only certificate has an unrelated SAN: rejected, unresolved.
  const f = domain(r, 'd.devf.com');
  assert.equal(f.status, 'unresolved');
  assert.match(f.reason, /unrelated names/);
  assert.match(f.reason, /shop\.unrelated\.org/);
  assert.equal(hl.find('6.6.6.1', 443, 'tcp'), null);

  // 4. Exclusive on two days, shared on the middle one: shared, and the day is named.
  const cc = domain(r, 'api.devc.com');
  assert.equal(cc.status, 'shared');
  assert.match(cc.reason, /7\.7\.7\.7 on 2024-05-09 also serves other\.example\.net/);
  assert.match(cc.reason, /^shared: 1 address-day/);

  // 5. IPv6: one address however it was written, found by 16-byte lookup, both transports for any/.
  const v6 = domain(r, 'v6.devd.com');
  assert.equal(v6.status, 'dedicated');
  assert.equal(v6.addresses, 1);
  const addr = parseAddress('2001:db8::1');
  const i = hl.lookup(addr, 0, 5683, PROTOCOL.udp);
  assert.ok(i >= 0);
  assert.deepEqual(
    [...hl.entryDomains(i)].map((d) => hl.domainName(d)),
    ['v6.devd.com'],
  );
  assert.ok(hl.lookup(addr, 0, 5683, PROTOCOL.tcp) >= 0);
  assert.equal(hl.lookup(addr, 0, 5684, PROTOCOL.udp), -1);

  // 6. CNAME loop: guarded, noted, the address still found.
  const g = domain(r, 'loop.devg.com');
  assert.equal(g.status, 'dedicated');
  assert.match(g.reason, /CNAME loop/);
  assert.ok(hl.find('9.9.9.9', 443, 'tcp'));

  // Numbered family and wildcard collect their instances; a non-member does not count.
  const fam = domain(r, 'n{n}.devh.com');
  assert.equal(fam.status, 'dedicated');
  assert.equal(fam.addresses, 2);
  assert.equal(hl.find('10.1.0.99', 123, 'udp'), null);

  // The CSV-level view: one row per address, port, transport, domain and class.
  const rows = r.hitlist.entries.flatMap((e) =>
    e.domains.flatMap((d) =>
      r.hitlist.domains[d]!.classes.map((cl) => `${e.address} ${e.port} ${e.transport} ${r.hitlist.domains[d]!.name} ${r.hitlist.classes[cl]!.id}`),
    ),
  );
  assert.ok(rows.includes('3.3.3.3 443 tcp api.deva.com deva-cam'));
  assert.ok(rows.includes('3.3.3.3 443 tcp api.deva.com deva'));
});

test('reverse CNAMEs: an unrelated name aliasing the VM makes it shared; loops without addresses stay unresolved', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(join(dir, 'rules', 'rules.yaml'), RULES);
  const lines = [
    ...pdnsLines().filter((l) => !l.includes('l2.devg.com') || !l.includes('"A"')),
    cof('alias.unrelated.org.', 'CNAME', 'deva-vm.compute-1.amazonaws.com.', D, D),
  ];
  const r = await build(dir, lines, D, null, false);
  const a = domain(r, 'api.deva.com');
  assert.equal(a.status, 'shared');
  assert.match(a.reason, /alias\.unrelated\.org/);
  const g = domain(r, 'loop.devg.com');
  assert.equal(g.status, 'unresolved');
  assert.match(g.reason, /CNAME loop/);
  assert.match(g.reason, /no certificate data given/);
});

test('a window that does not reach the shared day sees the domain dedicated', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(join(dir, 'rules', 'rules.yaml'), RULES.replace('lookbackDays: 3', 'lookbackDays: 1'));
  const r = await build(dir, pdnsLines());
  assert.equal(domain(r, 'api.devc.com').status, 'dedicated');
  assert.equal(r.hitlist.window.days, 1);
  assert.equal(r.hitlist.window.from, D);
});

test('churn against the previous day', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(join(dir, 'rules', 'rules.yaml'), RULES);
  const day1 = await build(dir, pdnsLines(), D);
  const next = '2024-05-11';
  const moved = [
    cof('api.deva.com.', 'CNAME', 'deva-vm.compute-1.amazonaws.com.', D1, next),
    cof('deva-vm.compute-1.amazonaws.com.', 'A', '3.3.3.3', D1, D),
    cof('deva-vm.compute-1.amazonaws.com.', 'A', '3.3.3.4', next, next),
    cof('v6.devd.com.', 'AAAA', '2001:db8::1', D1, next),
  ];
  const day2 = await build(dir, moved, next, day1, false);
  const ch = day2.churn!;
  assert.ok(ch, 'churn computed');
  assert.equal(ch.from, D);
  assert.equal(ch.to, next);
  const deva = ch.byDomain.find((x) => x.domain === 'api.deva.com')!;
  // Day 2's hitlist holds what the domain resolved to on day 2: 3.3.3.4 replaces 3.3.3.3.
  assert.deepEqual({ added: deva.added, removed: deva.removed, kept: deva.kept }, { added: 1, removed: 1, kept: 0 });
  assert.ok(ch.domains.removed.includes('loop.devg.com'));
  assert.ok(ch.domains.removed.includes('c.deve.com'));
  assert.ok(ch.classes.some((c) => c.class === 'devg-loop' && c.before === 'product' && c.after === null));
  assert.ok(ch.addresses.added >= 1);
});
