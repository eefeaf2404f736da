import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TABLES } from '@haystack/store';
import { join } from 'node:path';
import { buildHitlist } from './build.js';
import { HitlistHistory } from './history.js';
import { PdnsFileInput } from './input/pdns.js';
import { loadRules } from '@haystack/rules';
import { cof, tempDir, TEST_SOURCES, writeFile } from './test-helpers.js';

const RULES = `${TEST_SOURCES}
policy: { lookbackDays: 2 }
manufacturers:
  - { id: acme, name: Acme, source: [test] }
products:
  - { id: acme-cam, name: Acme cam, manufacturer: acme, source: [test] }
  - { id: acme-plug, name: Acme plug, manufacturer: acme, source: [test] }
domains:
  - { domain: cam.acme.com, role: primary, ports: [tcp/443, udp/3478], used_by: [acme-cam], source: [test] }
  - { domain: api.acme.com, role: primary, ports: [tcp/443], used_by: [acme-cam, acme-plug], source: [test] }
  - { domain: cdn.acme.com, role: primary, ports: [tcp/443], used_by: [acme-plug], source: [test] }
`;

test('ClickHouse history (embedded chdb): per-day entries and decisions, a rebuilt day replaces the old one', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(join(dir, 'rules', 'r.yaml'), RULES);
  const rules = loadRules(join(dir, 'rules'));
  const day = '2024-05-10';
  const pdns = writeFile(
    join(dir, 'p.jsonl'),
    [
      cof('cam.acme.com', 'A', '198.51.100.1', day),
      cof('cam.acme.com', 'AAAA', '2001:db8::10', day),
      cof('api.acme.com', 'A', '198.51.100.2', day),
      cof('cdn.acme.com', 'A', '198.51.100.3', day),
      cof('other.example', 'A', '198.51.100.3', day),
    ].join('\n'),
  );
  const r = await buildHitlist({ day, rules, pdns: [new PdnsFileInput(pdns)], tmpDir: dir });

  const h = await HitlistHistory.open({ dataDir: join(dir, 'chdb'), database: 'haystack_test' });
  try {
    const n = await h.record(r);
    // cam: 2 addresses × (tcp/443 + udp/3478) × classes {acme, acme-cam}; api: 1 × 1 × {acme}.
    assert.deepEqual(n, { entries: 2 * 2 * 2 + 1, classes: 3, domains: 3 });
    const rows = await h.entries(day);
    assert.equal(rows.length, 9);
    assert.deepEqual(
      rows.filter((x) => x.address === '::ffff:198.51.100.1').map((x) => `${x.port}/${x.transport} ${x.domain} ${x.class_id} ${x.level}`),
      [
        '443/tcp cam.acme.com acme manufacturer',
        '443/tcp cam.acme.com acme-cam product',
        '3478/udp cam.acme.com acme manufacturer',
        '3478/udp cam.acme.com acme-cam product',
      ],
    );
    assert.ok(rows.some((x) => x.address === '2001:db8::10'));
    const cls = await h.classDecisions(day);
    assert.deepEqual(
      cls.map((c) => `${c.class_id} ${c.status} ${c.level} ${c.detected_as}`),
      ['acme detectable manufacturer acme', 'acme-cam detectable product acme-cam', 'acme-plug coarser manufacturer acme'],
    );
    assert.match(cls[2]!.reason, /detectable only at manufacturer level \(acme\)/);
    const doms = await h.domainDecisions(day);
    assert.equal(doms.find((d) => d.domain === 'cdn.acme.com')!.status, 'shared');
    assert.deepEqual(doms.find((d) => d.domain === 'cam.acme.com')!.evidence_for, ['acme', 'acme-cam']);

    // Rebuild the same day with less data: the day is replaced, not appended to.
    const pdns2 = writeFile(join(dir, 'p2.jsonl'), cof('cam.acme.com', 'A', '198.51.100.9', day));
    const r2 = await buildHitlist({ day, rules, pdns: [new PdnsFileInput(pdns2)], tmpDir: dir });
    await h.record(r2);
    const rows2 = await h.entries(day);
    assert.deepEqual([...new Set(rows2.map((x) => x.address))], ['::ffff:198.51.100.9']);
    assert.deepEqual(await h.days(), [day]);
    const builds = await h.ch.query<{ n: string }>(`SELECT count() AS n FROM haystack_test.${TABLES.hitlistBuilds}`);
    assert.deepEqual(builds, [{ n: '1' }]);
  } finally {
    await h.close();
  }
});
