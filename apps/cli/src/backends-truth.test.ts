/**
 * Where the IoT data goes, against the simulator's truth: the demo (a simulated ISP day, its
 * hitlist built with the simulation's own dataset copies, its exports replayed through ingest and
 * the detector at 1:100) and the report's backend figures, compared with the bytes each backend
 * address was expected to receive before sampling (backends-truth.csv) and with where the truth
 * says every hitlist address lives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema, silentLogger } from '@haystack/common';
import { enrichAddresses } from '@haystack/backends';
import type { Hitlist } from '@haystack/hitlist-contract';
import { backendFigures, openStore, TABLES } from '@haystack/store';
import { runDemo } from './commands/demo.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DAY = '2026-11-20';

test('the report’s backend shares equal the simulated truth within sampling error, and its dependence table names the lines the truth says', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'hs-backends-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const base = configSchema.parse({ log: { level: 'silent' }, detector: { rawLineIds: true }, backends: { homeCountry: 'DE' } });
  const res = await runDemo({ out, seed: 11, lines: 400, sampling: 100, day: DAY, rulesDir: join(root, 'rules') }, base, silentLogger, () => {});
  const sim = res.simDir;

  // Truth: where each address lives (the simulation's address plan, as its dataset copies say) ...
  const hitlist = JSON.parse(readFileSync(join(out, 'state', 'hitlist', DAY, 'hitlist.json'), 'utf8')) as Hitlist;
  const classesOf = new Map<string, Set<string>>();
  for (const e of hitlist.entries) {
    let s = classesOf.get(e.address);
    if (!s) classesOf.set(e.address, (s = new Set()));
    for (const d of e.domains) for (const c of hitlist.domains[d]!.classes) s.add(hitlist.classes[c]!.id);
  }
  const place = new Map(
    (
      await enrichAddresses(classesOf.keys(), {
        asn: join(sim, 'datasets', 'asn'),
        country: join(sim, 'datasets', 'country'),
        providers: join(sim, 'datasets', 'providers'),
        maxAgeDays: 90,
      })
    ).backends.map((b) => [b.address, b]),
  );
  // ... and the bytes each hitlist address was expected to receive on the day, before sampling.
  const truthBytes = new Map<string, number>();
  for (const row of readFileSync(join(sim, 'backends-truth.csv'), 'utf8').trim().split('\n').slice(1)) {
    const [day, , address, bytes] = row.split(',');
    if (day !== DAY || !classesOf.has(address!)) continue;
    truthBytes.set(address!, (truthBytes.get(address!) ?? 0) + Number(bytes));
  }
  const truthShares = (cls: string | null, key: (a: string) => string) => {
    const m = new Map<string, number>();
    let total = 0;
    for (const [a, b] of truthBytes) {
      if (cls && !classesOf.get(a)!.has(cls)) continue;
      m.set(key(a), (m.get(key(a)) ?? 0) + b);
      total += b;
    }
    return { total, shares: new Map([...m].map(([k, b]) => [k, b / total])) };
  };
  const providerOf = (a: string) => place.get(a)!.provider ?? 'unknown';
  const countryOf = (a: string) => place.get(a)!.country ?? 'unknown';

  const ch = await openStore(configSchema.parse({ stateDir: join(out, 'state') }));
  let open = true;
  t.after(() => (open ? ch.close() : undefined));
  const f = await backendFigures(ch, DAY, { homeCountry: 'DE', homeContinent: 'EU' });
  assert.equal(f.hitlistDay, DAY);
  assert.deepEqual(f.unknown, { asn: 0, country: 0, provider: [...place.values()].filter((b) => !b.provider).length });

  // All IoT traffic: the renormalised bytes are the truth's within a few per cent, and so is every provider's and country's share.
  const all = truthShares(null, providerOf);
  const within = (measured: number, truth: number, tol: number, what: string) =>
    assert.ok(Math.abs(measured - truth) <= tol, `${what}: measured ${measured.toFixed(4)}, truth ${truth.toFixed(4)} (tolerance ${tol})`);
  within(f.all.estBytes / all.total, 1, 0.05, 'all bytes, measured / truth');
  for (const s of f.all.byProvider) within(s.share, all.shares.get(s.key) ?? 0, 0.02, `all traffic, provider ${s.key}`);
  const countries = truthShares(null, countryOf);
  for (const s of f.all.byCountry) within(s.share, countries.shares.get(s.key) ?? 0, 0.02, `all traffic, country ${s.key}`);
  within(f.all.outsideCountry!, 1 - (countries.shares.get('DE') ?? 0), 0.02, 'share leaving DE');

  // Per class with enough sampled traffic for its error to be small (≥ 2,000 flows: ≤ ~3 % per share).
  const checked: string[] = [];
  for (const c of f.classes.filter((x) => x.flows >= 2000)) {
    const truth = truthShares(c.classId, providerOf);
    within(c.estBytes / truth.total, 1, 0.1, `${c.classId} bytes, measured / truth`);
    for (const s of c.byProvider) within(s.share, truth.shares.get(s.key) ?? 0, 0.05, `${c.classId}, provider ${s.key}`);
    checked.push(c.classId);
  }
  assert.ok(checked.length >= 5, `classes checked: ${checked.join(', ')}`);

  // Dependence: the classes whose every hitlist address the truth places in one provider, and the detected lines with them.
  const providersOfClass = new Map<string, Set<string>>();
  for (const [a, cs] of classesOf)
    for (const c of cs) {
      let s = providersOfClass.get(c);
      if (!s) providersOfClass.set(c, (s = new Set()));
      s.add(providerOf(a));
    }
  const detected = await ch.query<{ line: string; class_id: string }>(
    `SELECT DISTINCT line, class_id FROM ${ch.database}.${TABLES.detections} WHERE day = {d:Date} AND window = 'day'`,
    { d: DAY },
  );
  const expected = new Map<string, { lines: Set<string>; classes: Set<string> }>();
  for (const d of detected) {
    const ps = providersOfClass.get(d.class_id);
    if (!ps || ps.size !== 1) continue;
    const p = [...ps][0]!;
    if (p === 'unknown') continue;
    let e = expected.get(p);
    if (!e) expected.set(p, (e = { lines: new Set(), classes: new Set() }));
    e.lines.add(d.line);
    e.classes.add(d.class_id);
  }
  assert.ok(expected.size > 0, 'the simulated world has classes hosted by one provider only');
  assert.deepEqual(
    f.dependence.filter((d) => d.country === '').map((d) => [d.provider, d.lines, d.classes]),
    [...expected].map(([p, e]) => [p, e.lines.size, [...e.classes].sort()]).sort((a, b) => (b[1] as number) - (a[1] as number)),
  );

  // The command line asks the same: `haystack backends --fail P` names the lines the table does.
  await ch.close();
  open = false;
  const [top] = f.dependence;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('HAYSTACK_')) env[k] = v;
  const r = spawnSync(process.execPath, [join(root, 'apps', 'cli', 'dist', 'main.js'), 'backends', '--day', DAY, '--fail', top!.provider, '--json'], {
    env: { ...env, HAYSTACK_STATE_DIR: join(out, 'state'), HAYSTACK_BACKENDS__HOME_COUNTRY: 'DE' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { whatIf: { lines: number; classes: string[] }; backends: { all: { estBytes: number } } };
  assert.deepEqual([j.whatIf.lines, j.whatIf.classes], [top!.lines, top!.classes]);
  assert.equal(j.backends.all.estBytes, f.all.estBytes);
});
