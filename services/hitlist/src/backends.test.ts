import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRules } from '@haystack/rules';
import { buildHitlist } from './build.js';
import { dayDir, readBuiltDay, writeDayFiles } from './files.js';
import { PdnsFileInput } from './input/pdns.js';
import { cof, tempDir, TEST_SOURCES, writeFile } from './test-helpers.js';

const RULES = `${TEST_SOURCES}
manufacturers:
  - { id: acme, name: Acme, source: [test] }
products:
  - { id: acme-cam, name: Acme cam, manufacturer: acme, source: [test] }
domains:
  - { domain: cam.acmecloud.com, role: primary, ports: [tcp/443], used_by: [acme-cam], source: [test] }
  - { domain: api.acmecloud.com, role: primary, ports: [tcp/443], used_by: [acme-cam], source: [test] }
`;
const DAY = '2024-05-10';

test('a build places its addresses with the configured datasets, writes backends.json, and reads it back checked', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(join(dir, 'rules', 'r.yaml'), RULES);
  const rules = loadRules(join(dir, 'rules'));
  const pdns = writeFile(
    join(dir, 'p.jsonl'),
    [cof('cam.acmecloud.com', 'A', '198.51.100.1', DAY), cof('api.acmecloud.com', 'A', '198.51.100.2', DAY)].join('\n'),
  );
  const ds = join(dir, 'ds');
  for (const d of ['asn', 'country', 'providers/acme']) mkdirSync(join(ds, d), { recursive: true });
  writeFileSync(join(ds, 'asn', 'asn-ipv4.csv'), '198.51.100.0,198.51.100.1,64500,Acme Cloud\n');
  writeFileSync(join(ds, 'asn', 'SNAPSHOT'), '2024-05-01\n');
  writeFileSync(join(ds, 'country', 'country-ipv4.csv'), '198.51.100.0,198.51.100.255,SE\n');
  writeFileSync(join(ds, 'country', 'SNAPSHOT'), '2024-01-01\n');
  writeFileSync(join(ds, 'providers', 'acme', 'ipv4.txt'), '198.51.100.0/31\n');
  writeFileSync(join(ds, 'providers', 'SNAPSHOT'), '2024-05-09\n');
  const backends = { asn: join(ds, 'asn'), country: join(ds, 'country'), providers: join(ds, 'providers'), maxAgeDays: 60 };
  const r = await buildHitlist({ day: DAY, rules, pdns: [new PdnsFileInput(pdns)], tmpDir: dir, backends });
  const b = r.backends!;
  assert.deepEqual(
    b.backends.map((x) => [x.address, x.asn, x.asOrg, x.country, x.continent, x.provider]),
    [
      ['198.51.100.1', 64500, 'Acme Cloud', 'SE', 'EU', 'acme'],
      ['198.51.100.2', null, null, 'SE', 'EU', null],
    ],
  );
  assert.deepEqual(b.unknown, { asn: 1, country: 0, provider: 1 });
  // Age against the day the data describes: the country data is 130 days older than the build day.
  assert.deepEqual(
    b.datasets.map((d) => [d.kind, d.ageDays, d.stale]),
    [
      ['asn', 9, false],
      ['country', 130, true],
      ['providers', 1, false],
    ],
  );
  assert.deepEqual(b.parties.map((p) => [p.domain, p.classId, p.party]).sort(), [
    ['api.acmecloud.com', 'acme', 'first'],
    ['cam.acmecloud.com', 'acme', 'first'],
  ]);
  const day = dayDir(join(dir, 'state'), DAY);
  await writeDayFiles(day, r);
  assert.deepEqual((await readBuiltDay(day)).backends, b);
  // A backends.json naming an address the hitlist does not have is refused before anything is recorded.
  const file = join(day, 'backends.json');
  writeFileSync(file, readFileSync(file, 'utf8').replace('"198.51.100.2"', '"203.0.113.77"'));
  await assert.rejects(readBuiltDay(day), /backends\.json: 203\.0\.113\.77 is not an address of hitlist\.json/);
  writeFileSync(file, readFileSync(file, 'utf8').replace('"203.0.113.77"', '"not-an-address"'));
  await assert.rejects(readBuiltDay(day), /backends\.json/);
  // A rebuild without backend data leaves no older backends.json behind.
  await writeDayFiles(day, { ...r, backends: undefined });
  assert.equal((await readBuiltDay(day)).backends, undefined);

  // A dataset that cannot be read costs the build its backend figures, never its hitlist.
  const broken = await buildHitlist({ day: DAY, rules, pdns: [new PdnsFileInput(pdns)], tmpDir: dir, backends: { ...backends, asn: join(dir, 'nowhere') } });
  assert.equal(broken.backends, undefined);
  assert.match(broken.backendsError!, /^backends\.asn .*nowhere: no such directory$/);
  assert.equal(broken.hitlist.entries.length, r.hitlist.entries.length);
  mkdirSync(join(ds, 'empty', 'acme'), { recursive: true });
  const undated = await buildHitlist({
    day: DAY,
    rules,
    pdns: [new PdnsFileInput(pdns)],
    tmpDir: dir,
    backends: { ...backends, providers: join(ds, 'empty') },
  });
  assert.match(undated.backendsError!, /no data files to date/);
});
