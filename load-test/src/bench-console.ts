// The console at ISP scale: fills the detector's tables with generated detections and
// evidence (LINES lines × DAYS days, generated inside ClickHouse, not simulated flow by flow),
// then times what the console answers: the day report, the 30-day trend, time to detection and
// a per-line lookup — in-process on the store, and through the console's HTTP API.
//
//   node load-test/dist/bench-console.js [--lines 1000000] [--days 30] [--reps 3] [--out FILE]
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema, silentLogger } from '@haystack/common';
import { ClickHouseDetectorStorage } from '@haystack/detector';
import { openStore, TABLES } from '@haystack/store';
import { queryReportData } from '@haystack/report';
import { createConsole, firstToken, queryLines } from '@haystack/console';
import { exitOnHelp } from './stats.js';

exitOnHelp(import.meta.url);

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};
const LINES = Number(arg('lines', '1000000'));
const DAYS = Number(arg('days', '30'));
const REPS = Number(arg('reps', '3'));
const OUT = resolve(arg('out', join(repo, 'load-test', 'results', 'console.md')));
const LAST = '2026-11-30';
const say = (s: string) => process.stdout.write(`${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

// 35 classes as the shipped dictionary has at each level (roughly): 4 platforms, 20 manufacturers, 11 products.
const CLASSES = [
  ...Array.from({ length: 4 }, (_, i) => [`platform-${i}`, 'platform', 0.12 / (i + 1)] as const),
  ...Array.from({ length: 20 }, (_, i) => [`maker-${i}`, 'manufacturer', 0.1 / (i + 1)] as const),
  ...Array.from({ length: 11 }, (_, i) => [`product-${i}`, 'product', 0.05 / (i + 1)] as const),
];

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'hs-bench-console-'));
  const config = configSchema.parse({
    stateDir: work,
    log: { level: 'silent' },
    detector: { rawLineIds: true },
    console: { listen: '127.0.0.1:0', lookup: { enabled: true } },
  });
  const ch = await openStore(config);
  try {
    await new ClickHouseDetectorStorage(ch, { evidenceDays: 3650, detectionDays: 3650, qualityDays: 3650 }).ensureSchema();
    const db = ch.database;
    const t0 = performance.now();
    const cls = `[${CLASSES.map(([id, lvl, share]) => `('${id}','${lvl}',${share})`).join(',')}]`;
    for (let d = 0; d < DAYS; d++) {
      const day = new Date(Date.parse(`${LAST}T00:00:00Z`) - (DAYS - 1 - d) * 86_400_000).toISOString().slice(0, 10);
      // Active lines: 95 % of the lines each day; lines are IPv4 addresses 10.x.y.z (raw ids).
      await ch.command(
        `INSERT INTO ${db}.${TABLES.lineDays} SELECT toDate('${day}'), IPv4NumToString(toUInt32(167772160 + number)), toDateTime64('${day} 00:00:00', 3, 'UTC') + toIntervalSecond(number % 86400)
         FROM numbers(${LINES}) WHERE cityHash64(number, '${day}') % 100 < 95`,
      );
      // Detections: per class, a stable share of the lines (with a little churn per day), daily and one hourly window each.
      await ch.command(
        `INSERT INTO ${db}.${TABLES.detections}
         SELECT toDate('${day}'), w, if(w = 'day', toDateTime('${day} 00:00:00', 'UTC'), toDateTime('${day} 00:00:00', 'UTC') + toIntervalHour(number % 24)),
                c.1, c.2, 'direct', IPv4NumToString(toUInt32(167772160 + number)), 1,
                toDateTime64('${day} 00:00:00', 3, 'UTC') + toIntervalSecond(number % 86400 + 600), toDate('${day}'), 'bench', 0, number
         FROM numbers(${LINES}) ARRAY JOIN ${cls} AS c ARRAY JOIN ['day', 'hour'] AS w
         WHERE cityHash64(number, c.1) % 10000 < c.3 * 10000 AND cityHash64(number, c.1, '${day}') % 100 < 97`,
      );
      await ch.command(
        `INSERT INTO ${db}.${TABLES.evidence}
         SELECT toDate('${day}'), toDateTime('${day} 00:00:00', 'UTC') + toIntervalHour(number % 24), IPv4NumToString(toUInt32(167772160 + number)), c.1, c.2,
                concat(c.1, '.iot.example'), toDate('${day}'), 'bench', 0, number, 3, 3, 1800, 3000, 1800000, 0,
                toDateTime64('${day} 00:00:00', 3, 'UTC') + toIntervalSecond(number % 86400), toDateTime64('${day} 00:00:00', 3, 'UTC') + toIntervalSecond(number % 86400 + 900)
         FROM numbers(${LINES}) ARRAY JOIN ${cls} AS c
         WHERE cityHash64(number, c.1) % 10000 < c.3 * 10000 AND cityHash64(number, c.1, '${day}') % 100 < 97`,
      );
      await ch.command(
        `INSERT INTO ${db}.${TABLES.classes} SELECT toDate('${day}'), c.1, c.1, c.2, [], 1, toDate('${day}') FROM (SELECT arrayJoin(${cls}) AS c)`,
      );
    }
    const [rows] = await ch.query<{ d: string; e: string; l: string }>(
      `SELECT (SELECT count() FROM ${db}.${TABLES.detections}) AS d, (SELECT count() FROM ${db}.${TABLES.evidence}) AS e, (SELECT count() FROM ${db}.${TABLES.lineDays}) AS l`,
    );
    const fillS = (performance.now() - t0) / 1000;
    say(
      `filled ${LINES.toLocaleString('en-US')} lines × ${DAYS} days in ${fillS.toFixed(0)} s: ${Number(rows!.d).toLocaleString('en-US')} detection rows, ${Number(rows!.e).toLocaleString('en-US')} evidence rows, ${Number(rows!.l).toLocaleString('en-US')} line-days`,
    );

    const srv = await createConsole({ config, log: silentLogger, store: ch });
    const tw = performance.now();
    const base = await srv.start();
    await srv.warmed();
    const warmS = (performance.now() - tw) / 1000;
    say(
      `console started and warmed its caches (trend counts of the last ${config.console.trendDays} days, 7 days of time to detection) in ${warmS.toFixed(1)} s`,
    );
    const token = firstToken(join(work, 'console', 'tokens'))!;
    const http = async (path: string, body?: unknown) => {
      const r = await fetch(`${base}${path}`, {
        method: body ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${await r.text()}`);
      return r.json();
    };
    const from = new Date(Date.parse(`${LAST}T00:00:00Z`) - 6 * 86_400_000).toISOString().slice(0, 10);
    const timed = async (f: () => Promise<unknown>) => {
      const t = performance.now();
      await f();
      return performance.now() - t;
    };
    const rowsOut: string[] = [];
    const row = (name: string, ms: number[], note: string) => {
      const m = median(ms);
      say(`${name}: ${m.toFixed(0)} ms (${note})`);
      rowsOut.push(`| ${name} | ${m.toFixed(0)} | ${m < 1000 ? 'yes' : 'no'} | ${note} |`);
    };
    // Cold first: the first request for a past day computes and caches it.
    row('day report, a past day, first request (API)', [await timed(() => http(`/api/v1/days/${LAST}/report`))], 'computed from the base tables, then cached');
    const warm: number[] = [];
    for (let r = 0; r < REPS; r++) warm.push(await timed(() => http(`/api/v1/days/${LAST}/report`)));
    row('day report, a past day, again (API)', warm, 'from the cache (fingerprint checked)');
    const live: number[] = [];
    for (let r = 0; r < REPS; r++) live.push(await timed(() => queryReportData(ch, LAST)));
    row("day report computed (what today's live page costs, on the store)", live, 'uncached, every query');
    row(
      `trend, ${DAYS} days, first request after start (API)`,
      [await timed(() => http(`/api/v1/trends?to=${LAST}&days=${DAYS}`))],
      'days the start-up warm-up did not cover are counted, then cached',
    );
    const trendWarm: number[] = [];
    for (let r = 0; r < REPS; r++) trendWarm.push(await timed(() => http(`/api/v1/trends?to=${LAST}&days=${DAYS}`)));
    row(`trend, ${DAYS} days, again (API)`, trendWarm, 'past days from the cache');
    // Today's situation: new detections keep arriving for the newest day, so it is counted again each time (the rest from the cache).
    const oneDay: number[] = [];
    for (let r = 0; r < REPS; r++) {
      await ch.command(
        `INSERT INTO ${db}.${TABLES.detections} VALUES ('${LAST}', 'day', '${LAST} 00:00:00', 'maker-0', 'manufacturer', 'direct', 'late-line-${r}', 1, '${LAST} 12:00:00', '${LAST}', 'bench', 1, ${r})`,
      );
      oneDay.push(await timed(() => http(`/api/v1/trends?to=${LAST}&days=${DAYS}`)));
    }
    row(`trend, ${DAYS} days, while the newest day changes (API)`, oneDay, 'the changed day counted again, the others from the cache');
    row(
      'time to detection, 7 days, first request (API)',
      [await timed(() => http(`/api/v1/time-to-detection?to=${LAST}&days=7`))],
      'days not yet cached computed, then cached',
    );
    const ttd: number[] = [];
    for (let r = 0; r < REPS; r++) ttd.push(await timed(() => http(`/api/v1/time-to-detection?to=${LAST}&days=7`)));
    row('time to detection, 7 days, again (API)', ttd, 'per-day rows from the cache, merged');
    const look: number[] = [];
    for (let r = 0; r < REPS; r++) look.push(await timed(() => http('/api/v1/lookup', { query: '10.0.3.42', from, to: LAST })));
    row('per-line lookup, one address, 7 days (API)', look, 'audited');
    const lookStore: number[] = [];
    for (let r = 0; r < REPS; r++) lookStore.push(await timed(() => queryLines(ch, ['10.0.3.42'], from, LAST)));
    row('per-line lookup, one address, 7 days (store)', lookStore, '');
    await srv.stop();
    const md = [
      '# Console at ISP scale',
      '',
      `\`node load-test/dist/bench-console.js --lines ${LINES} --days ${DAYS} --reps ${REPS}\``,
      '',
      `Generated store (embedded chdb): ${LINES.toLocaleString('en-US')} lines × ${DAYS} days; ${Number(rows!.d).toLocaleString('en-US')} detection rows (daily and hourly windows, 35 classes), ${Number(rows!.e).toLocaleString('en-US')} evidence rows, ${Number(rows!.l).toLocaleString('en-US')} active line-days; filled in ${fillS.toFixed(0)} s.`,
      `The console started and warmed its caches in ${warmS.toFixed(1)} s (it counts the past days of its default ranges when it starts; real today is after the generated days, so the warm-up covered the days before ${LAST}).`,
      `Medians of ${REPS} runs (first requests: one), milliseconds, on this machine (2 shared cores). "API": HTTP to the console on 127.0.0.1, JSON included; "store": the same query in-process on chdb.`,
      '',
      '| question | ms (median) | under 1 s | how |',
      '|---|---:|---|---|',
      ...rowsOut,
      '',
    ].join('\n');
    await mkdir(dirname(OUT), { recursive: true });
    await writeFile(OUT, md);
    say(`written ${OUT}`);
  } finally {
    await ch.close();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
