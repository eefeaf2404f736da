import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { classify, type DomainOutcome } from './classify.js';
import { repoRoot, tempDir, TEST_SOURCES, writeFile } from './test-helpers.js';
import { loadRules, RulesError } from '@haystack/rules';

function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof RulesError, `expected RulesError, got ${(e as Error).message}`);
    return e.issues.map((i) => `${i.file.split('/').pop()}:${i.line}: ${i.message}`);
  }
  assert.fail('no error');
}

test('schema errors carry file and line, all of them at once', (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(
    join(dir, 'a.yaml'),
    `${TEST_SOURCES}
products:
  - id: good
    name: Good
    source: [test]
  - id: Bad_Id
    name: Bad
    source: [test]
    colour: red
domains:
  - domain: api.example.com
    role: primary
    ports: [tcp/443, http]
    used_by: [good]
    source: [test]
`,
  );
  writeFile(join(dir, 'sub', 'b.yaml'), 'domains:\n  - domain: x.example.com\n    role: main\n');
  const errs = errorsOf(() => loadRules(dir));
  assert.ok(errs.includes('a.yaml:9: products.1.id: ids are lower-case letters, digits and "-"'), errs.join('\n'));
  assert.ok(errs.includes('a.yaml:12: products.1.colour: unknown field "colour"'), errs.join('\n'));
  assert.ok(
    errs.some((e) => e.startsWith('a.yaml:16: domains.0.ports.1: ports are written')),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => e.startsWith('b.yaml:3: domains.0.role:')),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => e.startsWith('b.yaml:2: domains.0.ports:')),
    errs.join('\n'),
  );
  assert.ok(!errs.some((e) => e.includes('port above 65535')), 'a malformed port is reported once');
});

test('reference errors across files: unknown classes and sources, duplicates, bad patterns, YAML syntax', (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(
    join(dir, 'classes.yaml'),
    `${TEST_SOURCES}
manufacturers:
  - { id: acme, name: Acme, source: [test] }
products:
  - { id: widget, name: W, manufacturer: acme, platforms: [acme], labels: [w], source: [test] }
  - { id: gadget, name: G, manufacturer: nobody, labels: [w], source: [nosuch] }
  - { id: acme, name: dup, source: [test] }
`,
  );
  writeFile(
    join(dir, 'domains.yaml'),
    `domains:
  - { domain: a.acme.com, role: primary, ports: [tcp/443], used_by: [widget, ghost], source: [test] }
  - { domain: "*.*.acme.com", role: primary, ports: [tcp/443], used_by: [widget], source: [test] }
  - { domain: b.acme.com, also: [a.acme.com], role: primary, ports: [udp/99999], used_by: [widget], source: [test] }
`,
  );
  writeFile(join(dir, 'broken.yaml'), 'generic:\n  - suffix: [unclosed\n');
  const errs = errorsOf(() => loadRules(dir));
  // YAML syntax errors are reported first (file by file), with their line.
  assert.ok(
    errs.some((e) => /^broken\.yaml:\d+: YAML:/.test(e)),
    errs.join('\n'),
  );
  writeFile(join(dir, 'broken.yaml'), 'generic:\n  - { suffix: cdn.example, source: [test], why: x }\n  - { source: [test], why: y }\n');
  const errs2 = errorsOf(() => loadRules(dir));
  assert.ok(
    errs2.some((e) => e.startsWith('broken.yaml:3: generic.1: give exactly one of')),
    errs2.join('\n'),
  );
  assert.ok(
    errs2.some((e) => e.startsWith('domains.yaml:4:') && e.includes('port above 65535')),
    errs2.join('\n'),
  );
  writeFile(join(dir, 'broken.yaml'), 'generic: []\n');
  writeFile(join(dir, 'domains.yaml'), readFileSync(join(dir, 'domains.yaml'), 'utf8').replace('udp/99999', 'udp/9999'));
  const errs3 = errorsOf(() => loadRules(dir));
  const want = [
    'classes.yaml:8: "acme" is not a platform class',
    'classes.yaml:9: "nobody" is not a manufacturer class',
    'classes.yaml:9: label "w" is already mapped to class "widget"',
    'classes.yaml:9: unknown source "nosuch"',
    'classes.yaml:10: duplicate class id "acme" (also at',
    'domains.yaml:2: unknown class "ghost"',
    'domains.yaml:3: invalid wildcard "*.*.acme.com"',
    'domains.yaml:4: "a.acme.com" already belongs to domain "a.acme.com"',
  ];
  for (const w of want)
    assert.ok(
      errs3.some((e) => e.startsWith(w)),
      `missing "${w}" in:\n${errs3.join('\n')}`,
    );
});

const REF = join(repoRoot, '..', 'shared', 'reference', 'iot_wild');

test('the shipped dictionary loads and maps every iot_wild label (54 devices, 7 groupings)', () => {
  assert.ok(existsSync(REF), `reference data expected at ${REF}`);
  const dict = loadRules(join(repoRoot, 'rules'));
  const mapped = new Map<string, string>();
  for (const c of dict.classes.values()) for (const l of c.labels) mapped.set(l, c.id);
  const devices = new Set<string>();
  const groups = new Set<string>();
  const names = new Set<string>();
  for (const f of ['alexa_enabled.csv', 'samsung_IoT.csv', 'other_devices.csv']) {
    const rows = readFileSync(join(REF, f), 'utf8').trim().split('\n').slice(1);
    for (const row of rows) {
      const [domain, level, device] = row.split(',') as [string, string, string];
      devices.add(device);
      if (level.endsWith('_cat')) groups.add(level);
      names.add(domain.replace(/\.$/, ''));
    }
  }
  assert.equal(devices.size, 54);
  assert.equal(groups.size, 7);
  for (const l of [...devices, ...groups]) assert.ok(mapped.has(l), `label ${l} is not mapped to a class`);
  // Every iot_wild domain is in the dictionary (exactly, or as a member of a family).
  const patterns = dict.domains.flatMap((d) => d.patterns);
  for (const n of names) {
    const ok = patterns.some((p) => (p.kind === 'exact' ? p.text === n : p.kind === 'family' ? p.re.test(n) : p.text === n));
    assert.ok(ok, `iot_wild domain ${n} missing from rules/domains`);
  }
  // Every class and domain cites a source; every product has a domain.
  for (const d of dict.domains) assert.ok(d.source.length > 0 && d.roleSource.length > 0, d.key);
  for (const c of dict.classes.values()) {
    if (c.kind === 'product')
      assert.ok(
        dict.domains.some((d) => d.usedBy.includes(c.id)),
        `${c.id} uses no domain`,
      );
  }

  // With every non-generic domain dedicated, the dictionary's own structure gives these
  // platforms and these product levels (the paper's groupings: echo_cat → Alexa, ...).
  const all: DomainOutcome[] = dict.domains.map((def) => ({
    def,
    status: def.generic ? 'generic' : 'dedicated',
    via: def.generic ? null : 'passive-dns',
    addresses: new Map([['192.0.2.1', 1]]),
    reason: '',
  }));
  const c = classify(dict, all, dict.policy);
  const by = new Map(c.classes.map((x) => [x.class, x]));
  assert.deepEqual(
    c.classes
      .filter((x) => x.kind === 'platform' && x.status === 'detectable')
      .map((x) => x.class)
      .sort(),
    ['alexa', 'electric-imp', 'netatmo-cloud', 'tuya', 'xiaomi-miot'],
  );
  assert.equal(by.get('amazon-echo-dot')!.detectedAs, 'alexa');
  assert.equal(by.get('harman-kardon-allure')!.detectedAs, 'alexa');
  assert.equal(by.get('amazon-fire-tv')!.level, 'product');
  assert.equal(by.get('tplink-bulb')!.detectedAs, 'tplink');
  assert.equal(by.get('smartlife-bulb')!.detectedAs, 'tuya');
  assert.equal(by.get('smarter-ikettle')!.detectedAs, 'electric-imp');
  assert.equal(by.get('samsung-smart-tv')!.level, 'product');
  // Generic iot_wild domains are accounted for, never evidence.
  const generic = c.domains.filter((d) => d.status === 'generic').map((d) => d.domain);
  assert.ok(generic.includes('aax-eu.amazon-adsystem.com'));
  assert.ok(generic.includes('cognito-identity.us-east-1.amazonaws.com'));
});
