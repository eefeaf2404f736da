// IXP accuracy: a simulated exchange (`haystack demo --ixp`) at 1:1,000 and 1:10,000 sFlow
// sampling, one day; per member and class, IoT-hosting IPv4 hosts found (recall) and hosts
// reported that do not host the class (false positives), against the simulator's ground truth
// (truth.csv, line-members.csv). Raw host ids are stored so detections can be compared.
//
//   node load-test/dist/sim/bench-ixp-accuracy.js [--lines 2000] [--members 8] [--rates 1000,10000] [--seed 1] [--level product]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openClickHouse } from '@haystack/clickhouse';
import { TABLES } from '@haystack/store';
import { CACHE_DIR, LOAD_TEST_DIR } from '../corpus.js';
import { arg, table, exitOnHelp } from '../stats.js';

exitOnHelp(import.meta.url);

const lines = Number(arg('--lines', '2000'));
const members = Number(arg('--members', '8'));
const rates = (arg('--rates') ?? '1000,10000').split(',').map(Number);
const seed = Number(arg('--seed', '1'));
const level = arg('--level', 'product')!;
const DAY = '2026-11-20';
const CLI = join(LOAD_TEST_DIR, '..', 'apps', 'cli', 'bin', 'haystack.js');

function csv(path: string): string[][] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
}

async function main(): Promise<void> {
  const out: string[] = [];
  const say = (s: string) => {
    out.push(s);
    process.stdout.write(`${s}\n`);
  };
  say(`# IXP accuracy: ${lines} hosts behind ${members} members, one day, ${level} level, seed ${seed}`);
  say('');
  const summary: (string | number)[][] = [];
  for (const rate of rates) {
    const dir = mkdtempSync(join(tmpdir(), 'hs-ixp-acc-'));
    try {
      const t0 = performance.now();
      const r = spawnSync(
        process.execPath,
        [CLI, 'demo', '--ixp', String(members), '--lines', String(lines), '--sampling', String(rate), '--seed', String(seed), '--out', dir],
        {
          encoding: 'utf8',
          env: { ...process.env, HAYSTACK_DETECTOR__RAW_LINE_IDS: 'true', HAYSTACK_LOG__LEVEL: 'warn', HAYSTACK_METRICS__LISTEN: 'null' },
          maxBuffer: 1 << 26,
        },
      );
      if (r.status !== 0) throw new Error(`demo failed: ${r.stderr.slice(-2000)}`);
      const secs = (performance.now() - t0) / 1000;
      const sim = join(dir, 'simulation');
      const memberOf = new Map<string, string>();
      const addr = new Map<string, string>();
      for (const [sub, v4] of csv(join(sim, 'lines.csv'))) addr.set(sub!, v4!);
      for (const [sub, asn] of csv(join(sim, 'line-members.csv'))) memberOf.set(addr.get(sub!)!, asn!);
      // Truth: IPv4 hosts (the line's public address) hosting each class of the level that the
      // day's hitlist can detect (as in the ISP accuracy benchmark: a class without dedicated
      // infrastructure is not detectable by the method, wherever it is observed).
      const hl = JSON.parse(readFileSync(join(dir, 'state', 'hitlist', DAY, 'hitlist.json'), 'utf8')) as { classes: { id: string }[] };
      const detectable = new Set(hl.classes.map((c) => c.id));
      const truth = new Set<string>();
      let notDetectable = 0;
      for (const row of csv(join(sim, 'truth.csv')))
        if (row[2] === level && row[5] === '4') {
          if (detectable.has(row[1]!)) truth.add(`${row[0]}\t${row[1]}`);
          else notDetectable++;
        }
      const ch = await openClickHouse({ dataDir: join(dir, 'state', 'chdb'), database: 'haystack' });
      const det = await ch.query<{ line: string; class_id: string; member_asn: string }>(
        `SELECT DISTINCT d.line AS line, d.class_id AS class_id, toString(u.member_asn) AS member_asn
         FROM (SELECT line, class_id, level FROM haystack.${TABLES.detections} FINAL WHERE day = {d:Date} AND window = 'day' AND level = {l:String}) AS d
         INNER JOIN (SELECT line, member_asn FROM haystack.${TABLES.ixpUnits} FINAL WHERE day = {d:Date}) AS u ON d.line = u.line
         WHERE position(d.line, ':') = 0`,
        { d: DAY, l: level },
      );
      await ch.close();
      const per = new Map<string, { tp: number; fp: number; fn: number; wrongMember: number }>();
      const row = (m: string) => per.get(m) ?? (per.set(m, { tp: 0, fp: 0, fn: 0, wrongMember: 0 }), per.get(m)!);
      const found = new Set<string>();
      for (const d of det) {
        const k = `${d.line}\t${d.class_id}`;
        found.add(k);
        const want = memberOf.get(d.line);
        if (want !== d.member_asn) row(d.member_asn).wrongMember++;
        if (truth.has(k)) row(d.member_asn).tp++;
        else row(d.member_asn).fp++;
      }
      for (const k of truth) if (!found.has(k)) row(memberOf.get(k.split('\t')[0]!)!).fn++;
      const rows = [...per].sort(([a], [b]) => a.localeCompare(b));
      say(`## 1:${rate.toLocaleString('en-US')} (demo ${secs.toFixed(0)} s; ${notDetectable} truth rows of classes the hitlist cannot detect left out)`);
      say('');
      say(
        table(
          ['member', 'hosts×classes in truth', 'found', 'recall', 'false positives', 'attributed to another member'],
          rows.map(([m, c]) => [`AS${m}`, c.tp + c.fn, c.tp, c.tp + c.fn ? `${((100 * c.tp) / (c.tp + c.fn)).toFixed(1)} %` : '–', c.fp, c.wrongMember]),
        ),
      );
      say('');
      const all = rows.reduce((a, [, c]) => ({ tp: a.tp + c.tp, fp: a.fp + c.fp, fn: a.fn + c.fn, wrong: a.wrong + c.wrongMember }), {
        tp: 0,
        fp: 0,
        fn: 0,
        wrong: 0,
      });
      summary.push([
        `1:${rate.toLocaleString('en-US')}`,
        all.tp + all.fn,
        all.tp,
        `${((100 * all.tp) / Math.max(1, all.tp + all.fn)).toFixed(1)} %`,
        all.fp,
        all.wrong,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  say('## Summary');
  say('');
  say(table(['sampling', 'hosts×classes in truth', 'found', 'recall', 'false positives', 'attributed to another member'], summary));
  say('');
  say(`command: node load-test/dist/sim/bench-ixp-accuracy.js ${process.argv.slice(2).join(' ')}`);
  mkdirSync(CACHE_DIR, { recursive: true });
  writeFileSync(join(CACHE_DIR, `bench-ixp-accuracy-${new Date().toISOString().replace(/[:.]/g, '-')}.md`), `${out.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
