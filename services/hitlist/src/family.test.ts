import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { buildHitlist } from './build.js';
import { runShowCommand } from './commands.js';
import { writeDayFiles } from './files.js';
import { CertFileInput } from './input/certs.js';
import { PdnsFileInput } from './input/pdns.js';
import { loadRules, RulesError } from '@haystack/rules';
import { cof, tempDir, TEST_SOURCES, writeFile } from './test-helpers.js';

/**
 * Families (rules/README.md): a zone, regional twins and exceptions, through the real build.
 * A family is judged name by name: a name on shared infrastructure is dropped with its
 * addresses, the family's dedicated names keep theirs, and exceptions never become evidence.
 */
const RULES = `${TEST_SOURCES}
policy: { lookbackDays: 2, threshold: 1 }
manufacturers:
  - { id: zap, name: Zap, source: [test] }
  - { id: tuyo, name: Tuyo, source: [test] }
domains:
  - domain: "*.zapcloud.com"
    also: ["zapcloud.com"]
    except: ["www.zapcloud.com", "*.shop.zapcloud.com"]
    role: primary
    ports: [tcp/443, tcp/8883]
    used_by: [zap]
    source: [test]
  - domain: "a1.tuyo{region}.com"
    also: ["*.iot.tuyo{region}.com"]
    regions: [eu, us, in]
    role: primary
    ports: [tcp/443]
    used_by: [tuyo]
    source: [test]
`;

const D = '2024-05-10';
const D1 = '2024-05-09';

function lines(): string[] {
  return [
    // Sibling names of the zone the dictionary never listed one by one.
    cof('mqtt-eu-7.zapcloud.com.', 'A', '20.0.0.7', D1, D),
    cof('fw.zapcloud.com.', 'CNAME', 'zap-fw.compute-1.amazonaws.com.', D1, D),
    cof('zap-fw.compute-1.amazonaws.com.', 'A', '20.0.0.8', D1, D),
    // A zone name behind a CDN edge that serves unrelated sites: dropped, alone.
    cof('media.zapcloud.com.', 'CNAME', 'd111.cloudfront.net.', D1, D),
    cof('d111.cloudfront.net.', 'A', '13.0.0.1', D1, D),
    cof('images.othersite.com.', 'A', '13.0.0.1', D1, D),
    // The website is an exception; the device name sharing its address loses that address.
    cof('www.zapcloud.com.', 'A', '20.0.0.80', D1, D),
    cof('portal.zapcloud.com.', 'A', '20.0.0.80', D1, D),
    cof('eu.shop.zapcloud.com.', 'A', '20.0.0.81', D1, D),
    // Regional twins: India and the US, never listed name by name; China is not a region of the entry.
    cof('a1.tuyoin.com.', 'A', '30.0.0.1', D1, D),
    cof('x9.iot.tuyous.com.', 'A', '30.0.0.2', D1, D),
    cof('a1.tuyocn.com.', 'A', '30.0.0.3', D1, D),
    // Not under the zone at all.
    cof('zapcloud.com.evil.net.', 'A', '66.0.0.1', D1, D),
  ];
}

test('a zone family matches sibling names, drops a name on a shared CDN alone, and never turns an exception into evidence', async () => {
  const t = tempDir();
  try {
    writeFile(join(t.dir, 'rules', 'r.yaml'), RULES);
    const rules = loadRules(join(t.dir, 'rules'));
    const zone = rules.domains.find((d) => d.key === '*.zapcloud.com')!;
    assert.equal(zone.family, true);
    const pdns = writeFile(join(t.dir, 'pdns.jsonl'), lines().join('\n') + '\n');
    const r = await buildHitlist({ day: D, rules, pdns: [new PdnsFileInput(pdns)], tmpDir: t.dir });

    const at = (addr: string) => r.hitlist.entries.filter((e) => e.address === addr).map((e) => `${e.port}/${e.transport}`);
    // Its own ports and the device protocols' (policy.familyPorts: 80, 443, 1883, 8883 over tcp).
    assert.deepEqual(at('20.0.0.7'), ['80/tcp', '443/tcp', '1883/tcp', '8883/tcp']);
    assert.deepEqual(at('20.0.0.8'), ['80/tcp', '443/tcp', '1883/tcp', '8883/tcp'], 'a zone name behind its own cloud VM is kept');
    assert.deepEqual(at('13.0.0.1'), [], 'the CDN edge serving another site never enters');
    assert.deepEqual(at('20.0.0.80'), [], 'an address serving the website (an exception) is not kept');
    assert.deepEqual(at('20.0.0.81'), [], 'a wildcard exception');
    assert.deepEqual(at('66.0.0.1'), []);

    const dec = r.classification.domains.find((d) => d.domain === '*.zapcloud.com')!;
    assert.equal(dec.status, 'dedicated');
    assert.deepEqual(dec.evidenceFor, ['zap']);
    assert.deepEqual(dec.family, { names: 4, excepted: 2, dedicatedNames: 2, sharedNames: 2, addressesKept: 2, addressesDropped: 2 });
    assert.match(dec.reason, /family: 4 name\(s\) matched \(and 2 exception\(s\) left out: eu\.shop\.zapcloud\.com, www\.zapcloud\.com\)/);
    assert.match(dec.reason, /2 address\(es\) kept, 2 dropped/);
    assert.match(dec.reason, /also serves (images\.othersite\.com|www\.zapcloud\.com)/);

    const twin = r.classification.domains.find((d) => d.domain === 'a1.tuyo{region}.com')!;
    assert.equal(twin.status, 'dedicated');
    assert.deepEqual(twin.family, { names: 2, excepted: 0, dedicatedNames: 2, sharedNames: 0, addressesKept: 2, addressesDropped: 0 });
    assert.deepEqual(at('30.0.0.1'), ['80/tcp', '443/tcp', '1883/tcp', '8883/tcp']);
    assert.deepEqual(at('30.0.0.2'), ['80/tcp', '443/tcp', '1883/tcp', '8883/tcp']);
    assert.deepEqual(at('30.0.0.3'), [], 'a region the entry does not list');
    assert.deepEqual(new Set(r.hitlist.classes.map((c) => c.id)), new Set(['zap', 'tuyo']));

    // The day's files and `hitlist show` carry the account per family.
    const day = join(t.dir, 'day');
    await writeDayFiles(day, r);
    const csv = readFileSync(join(day, 'domains.csv'), 'utf8').split('\n');
    assert.ok(csv[0]!.endsWith(',names,names_dedicated,names_shared,names_excepted,addresses_dropped'));
    assert.ok(csv.some((l) => l.startsWith('*.zapcloud.com,primary,dedicated,') && l.endsWith(',4,2,2,2,2')));
    let shown = '';
    runShowCommand({ stateDir: t.dir, day: D, dir: day, json: false }, (x) => (shown += x));
    assert.match(shown, /families seen in passive DNS \(2;/);
    assert.match(shown, /\*\.zapcloud\.com\s+dedicated\s+4\s+2\s+2\s+2\s+2\s+2\s+zap/);
  } finally {
    t.cleanup();
  }
});

test('a family whose every name is on shared infrastructure is shared and adds nothing', async () => {
  const t = tempDir();
  try {
    writeFile(join(t.dir, 'rules', 'r.yaml'), RULES);
    const rules = loadRules(join(t.dir, 'rules'));
    const pdns = writeFile(
      join(t.dir, 'pdns.jsonl'),
      [
        cof('api.zapcloud.com.', 'CNAME', 'e5.a.akamaiedge.net.', D1, D),
        cof('e5.a.akamaiedge.net.', 'A', '23.0.0.5', D1, D),
        cof('www.bigshop.com.', 'CNAME', 'e5.a.akamaiedge.net.', D1, D),
      ].join('\n') + '\n',
    );
    const r = await buildHitlist({ day: D, rules, pdns: [new PdnsFileInput(pdns)], tmpDir: t.dir });
    const dec = r.classification.domains.find((d) => d.domain === '*.zapcloud.com')!;
    assert.equal(dec.status, 'shared');
    assert.equal(dec.family?.sharedNames, 1);
    assert.equal(r.hitlist.entries.length, 0);
  } finally {
    t.cleanup();
  }
});

test('family mistakes are named with file and line: {region} without regions, regions without {region}, an exception outside the entry', () => {
  const t = tempDir();
  try {
    writeFile(
      join(t.dir, 'rules', 'r.yaml'),
      `${TEST_SOURCES}
manufacturers:
  - { id: zap, name: Zap, source: [test] }
domains:
  - { domain: "a.zap{region}.com", role: primary, ports: [tcp/443], used_by: [zap], source: [test] }
  - { domain: "b.zap.com", regions: [eu], role: primary, ports: [tcp/443], used_by: [zap], source: [test] }
  - { domain: "*.zap.net", except: ["www.other.net"], role: primary, ports: [tcp/443], used_by: [zap], source: [test] }
`,
    );
    assert.throws(
      () => loadRules(join(t.dir, 'rules')),
      (e: unknown) => {
        assert.ok(e instanceof RulesError);
        const m = e.message;
        assert.match(m, /r\.yaml:8:\d+: "a\.zap\{region\}\.com" has \{region\} but the entry lists no regions/);
        assert.match(m, /r\.yaml:9:\d+: regions are given but no name has a \{region\} placeholder/);
        assert.match(m, /r\.yaml:10:\d+: exception "www\.other\.net" is not covered by any name of the entry/);
        return true;
      },
    );
    writeFile(
      join(t.dir, 'rules', 'r.yaml'),
      `${TEST_SOURCES}
manufacturers:
  - { id: zap, name: Zap, source: [test] }
domains:
  - { domain: "c.zap{region}.org", regions: [EU], role: primary, ports: [tcp/443], used_by: [zap], source: [test] }
`,
    );
    assert.throws(() => loadRules(join(t.dir, 'rules')), /r\.yaml:8:\d+: domains\.0\.regions\.0: regions are lower-case letters/);
  } finally {
    t.cleanup();
  }
});

test('regional twins expand to one name per region; two families may not claim the same twin, a single-name entry and a family may', () => {
  const t = tempDir();
  try {
    writeFile(
      join(t.dir, 'rules', 'r.yaml'),
      `${TEST_SOURCES}
manufacturers:
  - { id: zap, name: Zap, source: [test] }
domains:
  - { domain: "{region}.api.zap.com", regions: [de, sg, us], role: primary, ports: [tcp/443], used_by: [zap], source: [test] }
  - { domain: "*.push.zap.com", also: ["us.api.zap.com"], role: primary, ports: [tcp/443], used_by: [zap], source: [test] }
`,
    );
    assert.throws(() => loadRules(join(t.dir, 'rules')), /"us\.api\.zap\.com" already belongs to domain "\{region\}\.api\.zap\.com"/);
    writeFile(
      join(t.dir, 'rules', 'r.yaml'),
      `${TEST_SOURCES}
manufacturers:
  - { id: zap, name: Zap, source: [test] }
products:
  - { id: zap-cam, name: Zap cam, manufacturer: zap, source: [test] }
domains:
  - { domain: "us.api.zap.com", role: primary, ports: [tcp/443], used_by: [zap-cam], source: [test] }
  - { domain: "{region}.api.zap.com", regions: [de, us], role: primary, ports: [tcp/443], used_by: [zap], source: [test] }
`,
    );
    const both = loadRules(join(t.dir, 'rules')).domains;
    assert.deepEqual(
      both.map((d) => [d.key, d.family]),
      [
        ['us.api.zap.com', false],
        ['{region}.api.zap.com', true],
      ],
    );
    writeFile(
      join(t.dir, 'rules', 'r.yaml'),
      `${TEST_SOURCES}
manufacturers:
  - { id: zap, name: Zap, source: [test] }
domains:
  - { domain: "{region}.api.zap.com", regions: [de, sg, us], role: primary, ports: [tcp/443], used_by: [zap], source: [test] }
`,
    );
    const d = loadRules(join(t.dir, 'rules')).domains[0]!;
    assert.equal(d.key, '{region}.api.zap.com');
    assert.deepEqual(
      d.patterns.map((p) => p.text),
      ['de.api.zap.com', 'sg.api.zap.com', 'us.api.zap.com'],
    );
    assert.equal(d.family, true);
  } finally {
    t.cleanup();
  }
});

/**
 * What the review of the families found, each through the real build: a maker's website on a
 * sub-zone family's address, an app host under a primary zone, a certificate naming an
 * exception, exceptions hidden behind many names of one registered domain, and a name two
 * entries cover counted once.
 */
const EDGE_RULES = `${TEST_SOURCES}
policy: { lookbackDays: 2, threshold: 2 }
manufacturers:
  - { id: kor, name: Kor, source: [test] }
domains:
  - { domain: "*.iot.kor.com", except: ["portal.iot.kor.com"], role: primary, ports: [tcp/443], used_by: [kor], source: [test] }
  - { domain: "app-api.iot.kor.com", role: app, ports: [tcp/443], used_by: [kor], source: [test] }
  - { domain: "mq.iot.kor.com", role: primary, ports: [tcp/443], used_by: [kor], source: [test] }
  - { domain: "fw.kor.com", role: primary, ports: [tcp/443], used_by: [kor], source: [test] }
`;

test('family edges: a website on a sub-zone address, app hosts, excepted certificates, capped occupancy, one flow counted once', async () => {
  const t = tempDir();
  try {
    writeFile(join(t.dir, 'rules', 'r.yaml'), EDGE_RULES);
    const rules = loadRules(join(t.dir, 'rules'));
    const zone = rules.domains.find((d) => d.key === '*.iot.kor.com')!;
    // The app host is an exception of the primary zone that covers it.
    assert.ok(zone.exceptions.some((e) => e.text === 'app-api.iot.kor.com'));
    const many = Array.from({ length: 70 }, (_, k) => cof(`x${k}.iot.kor.com.`, 'A', '40.0.0.9', D1, D));
    const pdns = writeFile(
      join(t.dir, 'pdns.jsonl'),
      [
        // A sub-zone name sharing its address with the corporate website: not the family's.
        cof('dev1.iot.kor.com.', 'A', '40.0.0.1', D1, D),
        cof('www.kor.com.', 'A', '40.0.0.1', D1, D),
        // A device name next to the same maker's firmware host (another entry of Kor): its own.
        cof('dev2.iot.kor.com.', 'A', '40.0.0.2', D1, D),
        cof('fw.kor.com.', 'A', '40.0.0.2', D1, D),
        // The app API under the zone: never the zone's instance, and not evidence itself.
        cof('app-api.iot.kor.com.', 'A', '40.0.0.3', D1, D),
        // The MQTT host the zone also covers: one address, one piece of evidence.
        cof('mq.iot.kor.com.', 'A', '40.0.0.4', D1, D),
        // An exception among more names than the occupancy remembers: the address is not kept.
        ...many,
        cof('portal.iot.kor.com.', 'A', '40.0.0.9', D1, D),
        // dev3 has no passive DNS: only certificates speak for it.
      ].join('\n') + '\n',
    );
    const certs = writeFile(
      join(t.dir, 'certs.jsonl'),
      [
        // A certificate of the excepted portal and the zone: not a certificate of the zone.
        JSON.stringify({ fingerprint_sha256: 'c1'.padEnd(64, '0'), names: ['portal.iot.kor.com', 'dev3.iot.kor.com'] }),
        JSON.stringify({
          ip: '40.0.0.7',
          port: 443,
          fingerprint_sha256: 'c1'.padEnd(64, '0'),
          banner_hash: 'sha256:p',
          observed_at: new Date(`${D}T12:00:00Z`).toISOString(),
        }),
      ].join('\n') + '\n',
    );
    const r = await buildHitlist({ day: D, rules, pdns: [new PdnsFileInput(pdns)], certs: [new CertFileInput(certs)], tmpDir: t.dir });
    const at = (addr: string) =>
      r.hitlist.entries.filter((e) => e.address === addr && e.port === 443).map((e) => e.domains.map((i) => r.hitlist.domains[i]!.name));
    assert.deepEqual(at('40.0.0.1'), [], 'an address the corporate website shares');
    assert.deepEqual(at('40.0.0.2'), [['fw.kor.com']], 'one domain per piece of evidence: fw.kor.com and the zone evidence the same class');
    assert.deepEqual(at('40.0.0.3'), [], 'an app host');
    assert.deepEqual(at('40.0.0.4'), [['mq.iot.kor.com']], 'counted once toward the threshold of 2');
    assert.deepEqual(at('40.0.0.9'), [], 'an exception hidden among 70 names of the registered domain');
    assert.deepEqual(at('40.0.0.7'), [], 'a certificate naming an exception');
    const dec = r.classification.domains.find((d) => d.domain === '*.iot.kor.com')!;
    assert.match(dec.reason, /dev1\.iot\.kor\.com dropped: 40\.0\.0\.1 on \S+ also serves www\.kor\.com/);
    assert.ok(dec.family!.names >= 72 && dec.family!.excepted === 2, JSON.stringify(dec.family));
  } finally {
    t.cleanup();
  }
});
