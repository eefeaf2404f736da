import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '@haystack/common';
import { startRedis } from '@haystack/testkit';
import { HitlistCommandError, runBuildCommand, runDiffCommand, runShowCommand, type BuildCommandOptions } from './commands.js';
import { RulesError } from '@haystack/rules';
import { RedisHitlistStore } from '@haystack/hitlist-contract';
import { ACME_RULES as RULES, cof, tempDir, writeFile } from './test-helpers.js';

function options(dir: string, over: Partial<BuildCommandOptions>): BuildCommandOptions {
  return {
    day: '2024-05-10',
    pdns: [],
    certs: [],
    rulesDir: join(dir, 'rules'),
    stateDir: join(dir, 'var'),
    tmpDir: dir,
    policy: {},
    publish: true,
    activate: true,
    history: false,
    redis: { url: null, keyPrefix: 'haystack:' },
    clickhouse: { url: null, database: 'haystack', username: 'default', password: '' },
    json: false,
    log: silentLogger,
    ...over,
  };
}

test('build, show and diff through the command layer; --out files; publish to a real Redis', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(join(dir, 'rules', 'r.yaml'), RULES);
  const day1 = writeFile(
    join(dir, 'd1.jsonl'),
    [cof('cam.acme.com', 'A', '198.51.100.1', '2024-05-10'), cof('cdn.acme.com', 'A', '198.51.100.2', '2024-05-10'), '{oops'].join('\n'),
  );
  const day2 = writeFile(
    join(dir, 'd2.jsonl'),
    [cof('cam.acme.com', 'A', '198.51.100.1', '2024-05-10', '2024-05-11'), cof('cam.acme.com', 'A', '198.51.100.7', '2024-05-11')].join('\n'),
  );
  const redis = await startRedis();
  t.after(() => redis.stop());

  let out = '';
  await runBuildCommand(options(dir, { pdns: [day1], out: join(dir, 'out'), redis: { url: redis.url, keyPrefix: 'hs:' } }), (s) => (out += s));
  assert.match(out, /d1\.jsonl: 3 lines, 2 records, 1 skipped \(invalid JSON 1\)/);
  assert.match(out, /d1\.jsonl:3: invalid JSON/);
  assert.match(out, /published: Redis: day 2024-05-10 version 1, active/);
  assert.match(out, /churn: no hitlist for 2024-05-09/);
  // --out: the CSV holds exactly one row per address, port, transport, domain and class.
  const csv = readFileSync(join(dir, 'out', 'hitlist.csv'), 'utf8')
    .trim()
    .split('\n');
  assert.deepEqual(csv, [
    'address,port,transport,domain,class',
    '198.51.100.1,443,tcp,cam.acme.com,acme',
    '198.51.100.1,443,tcp,cam.acme.com,acme-cam',
    '198.51.100.2,443,tcp,cdn.acme.com,acme',
    '198.51.100.2,443,tcp,cdn.acme.com,acme-cam',
  ]);
  for (const f of ['hitlist.json', 'rules.json', 'classes.csv', 'domains.csv', 'decisions.json', 'report.json'])
    assert.ok(existsSync(join(dir, 'out', f)) && existsSync(join(dir, 'var', 'hitlist', '2024-05-10', f)), f);
  const rules = JSON.parse(readFileSync(join(dir, 'out', 'rules.json'), 'utf8'));
  assert.deepEqual(rules.rules.map((r: { class: string; level: string }) => `${r.class}:${r.level}`).sort(), ['acme-cam:product', 'acme:manufacturer']);
  const store = new RedisHitlistStore({ url: redis.url, keyPrefix: 'hs:' });
  t.after(() => store.close());
  assert.ok((await store.active())!.find('198.51.100.2', 443, 'tcp'));

  out = '';
  await runBuildCommand(options(dir, { day: '2024-05-11', pdns: [day2], redis: { url: redis.url, keyPrefix: 'hs:' }, activate: false }), (s) => (out += s));
  assert.match(out, /churn 2024-05-10 → 2024-05-11: entries \+1 −1/);
  assert.match(out, /not activated/);
  assert.equal((await store.activeDay())!.day, '2024-05-10', 'backfill does not switch');

  out = '';
  runShowCommand({ stateDir: join(dir, 'var'), day: '2024-05-11', json: false }, (s) => (out += s));
  assert.match(out, /^hitlist 2024-05-11 \(window 2024-05-10\.\.2024-05-11\), 2 rules, 2 addresses/);
  assert.match(out, /acme-cam\s+product\s+detectable\s+product\s+-\s+1\s+2/);
  out = '';
  runShowCommand({ stateDir: join(dir, 'var'), day: '2024-05-11', json: true }, (s) => (out += s));
  const shown = JSON.parse(out);
  assert.equal(shown.classes.find((c: { class: string }) => c.class === 'acme-cam').addresses, 2);
  assert.match(shown.domains.find((d: { domain: string }) => d.domain === 'cdn.acme.com').reason, /^unresolved/);

  out = '';
  const churn = runDiffCommand({ stateDir: join(dir, 'var'), from: '2024-05-10', to: '2024-05-11', json: false }, (s) => (out += s));
  assert.deepEqual(churn.domains.removed, ['cdn.acme.com']);
  assert.match(out, /domains removed: cdn\.acme\.com/);
  assert.match(out, /cam\.acme\.com {2}\+1 {2}−0 {2}1/);

  await assert.rejects(
    runBuildCommand(options(dir, { pdns: [join(dir, 'nope.jsonl')] }), () => {}),
    HitlistCommandError,
  );
  await assert.rejects(
    runBuildCommand(options(dir, { day: '2024-02-30', pdns: [day1] }), () => {}),
    /no such date/,
  );
  writeFile(join(dir, 'rules', 'bad.yaml'), 'products:\n  - { id: x }\n');
  await assert.rejects(
    runBuildCommand(options(dir, { pdns: [day1] }), () => {}),
    (e: unknown) => e instanceof RulesError && /bad\.yaml:2:/.test(e.message),
  );
  assert.throws(() => runShowCommand({ stateDir: join(dir, 'var'), day: '2024-01-01', json: false }, () => {}), /no hitlist\.json in/);
});

test('a bad input never replaces a good hitlist: wrong kind of file, empty file, mostly invalid lines, a sharp shrink (unless --force)', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeFile(join(dir, 'rules', 'r.yaml'), RULES);
  const hosts = Array.from({ length: 12 }, (_, i) => cof(i % 2 ? 'cam.acme.com' : 'cdn.acme.com', 'A', `198.51.100.${i + 1}`, '2024-05-10'));
  const good = writeFile(join(dir, 'good.jsonl'), hosts.join('\n'));
  const redis = await startRedis();
  t.after(() => redis.stop());
  const o = (over: Partial<BuildCommandOptions>) => options(dir, { redis: { url: redis.url, keyPrefix: 'hs:' }, ...over });
  await runBuildCommand(o({ pdns: [good] }), () => {});
  const dayFile = join(dir, 'var', 'hitlist', '2024-05-10', 'hitlist.json');
  const goodJson = readFileSync(dayFile, 'utf8');
  const store = new RedisHitlistStore({ url: redis.url, keyPrefix: 'hs:' });
  t.after(() => store.close());
  const activeBefore = await store.activeDay();
  assert.equal((await store.active())!.size, 12);

  // A pcap given by mistake: binary, no valid record. The error names the file and the counts; its sample is escaped.
  const pcap = join(dir, 'exports.pcap');
  writeFile(
    pcap,
    Buffer.concat([
      Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0x1b, 0x5b, 0x32, 0x4a, 10]),
      Buffer.alloc(300, 0x07),
      Buffer.from('\n\x00\x01\x02{"a":\n'),
    ]).toString('latin1'),
  );
  const err = (await runBuildCommand(o({ pdns: [pcap] }), () => {}).then(
    () => null,
    (e: unknown) => e,
  )) as HitlistCommandError;
  assert.ok(err instanceof HitlistCommandError, String(err));
  assert.equal(err.exitCode, 1);
  assert.match(err.message, /exports\.pcap has no valid record: 3 of 3 lines invalid \(3 invalid JSON\)/);
  assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(err.message), `raw control bytes in ${JSON.stringify(err.message)}`);
  assert.match(err.message, /\\x1b/);
  assert.match(err.message, /the last good hitlist stays in use/);

  // An empty file, and a file mostly of invalid lines.
  const empty = writeFile(join(dir, 'empty.jsonl'), '');
  await assert.rejects(
    runBuildCommand(o({ pdns: [empty] }), () => {}),
    /passive DNS input .*empty\.jsonl is empty/,
  );
  const unusable = writeFile(
    join(dir, 'txt-only.jsonl'),
    ['', JSON.stringify({ rrname: 'cam.acme.com', rrtype: 'TXT', rdata: 'v=x', time_first: 1715299200, time_last: 1715302800 }), ''].join('\n'),
  );
  await assert.rejects(
    runBuildCommand(o({ pdns: [unusable] }), () => {}),
    /txt-only\.jsonl has no usable record/,
  );
  const junk = writeFile(join(dir, 'junk.jsonl'), [...hosts, ...Array.from({ length: 20 }, () => 'garbage')].join('\n'));
  await assert.rejects(
    runBuildCommand(o({ pdns: [junk] }), () => {}),
    /junk\.jsonl: 20 invalid lines against 12 valid records, more than 50 %/,
  );

  // Valid but far smaller: refused against the day's own hitlist, accepted with force.
  const small = writeFile(join(dir, 'small.jsonl'), hosts.slice(0, 3).join('\n'));
  await assert.rejects(
    runBuildCommand(o({ pdns: [small] }), () => {}),
    /refusing to replace the hitlist: 3 entries against 12 in the hitlist of 2024-05-10/,
  );

  // Nothing of the good hitlist was touched: day files, Redis.
  assert.equal(readFileSync(dayFile, 'utf8'), goodJson);
  assert.deepEqual(await store.activeDay(), activeBefore);
  assert.equal((await store.active())!.size, 12);

  await runBuildCommand(o({ pdns: [small], force: true }), () => {});
  assert.equal((await store.active())!.size, 3);
});
