#!/usr/bin/env node
/**
 * Hitlist build benchmark: records/s and peak memory over synthetic passive DNS.
 *
 *   node services/hitlist/dist/bench.js [--records 10000000,1000000] [--dir DIR] [--keep] [--rules DIR]
 *
 * For each size it writes a COF file (one JSON object per line) of mostly non-IoT names —
 * A records and CNAME chains over a 7-day window — plus the IoT dictionary's own domains
 * (rules/), some behind cloud CNAMEs, some on addresses shared with unrelated names, so the
 * forward and reverse passes have real work. The build runs in a child process (the same
 * code as `haystack hitlist build`, without Redis or ClickHouse) that reports its own peak
 * RSS, so generation does not count. Figures go to stdout as JSON lines and a table;
 * services/hitlist/BENCHMARK.md records them.
 */
import { seededRandom } from '@haystack/common';
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildHitlist } from './build.js';
import { addDays, parseDay } from './days.js';
import { PdnsFileInput } from './input/pdns.js';
import { loadRules } from '@haystack/rules';

const DAY = '2024-05-10';
const here = dirname(fileURLToPath(import.meta.url));
const defaultRules = resolve(here, '..', '..', '..', 'rules');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function generate(path: string, records: number, rulesDir: string): Promise<{ iot: number; bytes: number }> {
  const dict = loadRules(rulesDir);
  const r = seededRandom(records);
  const out = createWriteStream(path, { highWaterMark: 1 << 22 });
  let buf = '';
  let n = 0;
  const start = parseDay(addDays(DAY, -6));
  const emit = async (rrname: string, rrtype: string, rdata: string) => {
    // Records last 1–3 days somewhere in the window (a few start before it).
    const d0 = Math.floor(r() * 8) - 1;
    const t1 = start + d0 * 86400 + Math.floor(r() * 86400);
    const t2 = t1 + Math.floor((1 + r() * 2) * 86400);
    buf += `{"count":${1 + Math.floor(r() * 500)},"time_first":${t1},"time_last":${t2},"rrtype":"${rrtype}","rrname":"${rrname}.","rdata":"${rdata}${rrtype === 'CNAME' ? '.' : ''}","bailiwick":"example."}\n`;
    n++;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((res) => out.once('drain', () => res()));
      buf = '';
    }
  };
  const ip4 = () => `${11 + Math.floor(r() * 200)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}`;

  // The dictionary's domains (instances for patterns): 1–4 addresses each, direct or via a cloud CNAME.
  let iot = 0;
  const shared: string[] = [];
  for (const d of dict.domains) {
    for (const p of d.patterns) {
      const names =
        p.kind === 'exact' ? [p.text] : p.kind === 'wildcard' ? [`a.${p.suffix}`, `b.${p.suffix}`] : [1, 4, 18].map((k) => p.text.replaceAll('{n}', String(k)));
      for (const name of names) {
        const viaCname = r() < 0.4;
        const target = viaCname ? `ec2-${iot}.compute-1.amazonaws.com` : name;
        if (viaCname) {
          // Some chains take two hops (a load balancer name first).
          if (r() < 0.3) {
            const lb = `lb-${iot}.elb.example-cloud.net`;
            await emit(name, 'CNAME', lb);
            await emit(lb, 'CNAME', target);
            iot += 2;
          } else {
            await emit(name, 'CNAME', target);
            iot++;
          }
          // An unrelated alias of the same VM now and then (found by the reverse passes).
          if (r() < 0.05) await emit(`alias${iot}.unrelated.example`, 'CNAME', target);
        }
        const k = 1 + Math.floor(r() * 4);
        for (let i = 0; i < k; i++) {
          const a = ip4();
          await emit(target, 'A', a);
          iot++;
          if (r() < 0.15) shared.push(a);
        }
      }
    }
  }
  // Unrelated names on some of those addresses (shared infrastructure).
  for (const a of shared) await emit(`www.unrelated${Math.floor(r() * 1e6)}.example`, 'A', a);
  const filler = records - n;
  // Everything else: non-IoT names, 80% A, 5% AAAA, 15% CNAME chains.
  for (let i = 0; i < filler; i++) {
    const x = r();
    const name = `h${i}.site${Math.floor(r() * 200000)}.example`;
    if (x < 0.8) await emit(name, 'A', ip4());
    else if (x < 0.85) await emit(name, 'AAAA', `2001:db8:${Math.floor(r() * 65536).toString(16)}::${Math.floor(r() * 65536).toString(16)}`);
    else await emit(name, 'CNAME', `edge${Math.floor(r() * 50000)}.cdn${Math.floor(r() * 100)}.example`);
  }
  out.end(buf);
  await new Promise<void>((res, rej) => {
    out.once('finish', () => res());
    out.once('error', rej);
  });
  return { iot, bytes: statSync(path).size };
}

async function child(file: string, rulesDir: string, tmp: string): Promise<void> {
  const rules = loadRules(rulesDir);
  const t0 = performance.now();
  const r = await buildHitlist({ day: DAY, rules, pdns: [new PdnsFileInput(file)], tmpDir: tmp });
  const seconds = (performance.now() - t0) / 1000;
  const ru = process.resourceUsage();
  process.stdout.write(
    JSON.stringify({
      records: r.report.resolve.records,
      seconds,
      recordsPerSecond: Math.round(r.report.resolve.records / seconds),
      peakRssMiB: Math.round(ru.maxRSS / 1024),
      heapUsedMiB: Math.round(process.memoryUsage().heapUsed / 1048576),
      forwardPasses: r.report.resolve.forwardPasses,
      reversePasses: r.report.resolve.reversePasses,
      forwardNames: r.report.resolve.forwardNames,
      addresses: r.report.resolve.addresses,
      reverseNames: r.report.resolve.reverseNames,
      domains: r.report.domains,
      entries: r.report.entries,
    }) + '\n',
  );
}

async function main(): Promise<void> {
  const rulesDir = resolve(arg('--rules') ?? defaultRules);
  if (arg('--child')) return child(arg('--child')!, rulesDir, arg('--tmp')!);
  const sizes = (arg('--records') ?? '1000000,10000000').split(',').map((s) => Number(s));
  const dir = resolve(arg('--dir') ?? join(tmpdir(), 'haystack-hitlist-bench'));
  const keep = process.argv.includes('--keep');
  mkdirSync(dir, { recursive: true });
  const results: Record<string, unknown>[] = [];
  for (const size of sizes) {
    const file = join(dir, `pdns-${size}.jsonl`);
    const g0 = performance.now();
    const gen = await generate(file, size, rulesDir);
    const genSeconds = (performance.now() - g0) / 1000;
    const res = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', file, '--rules', rulesDir, '--tmp', dir], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (res.status !== 0) throw new Error(`build failed: ${res.stderr}`);
    const m = JSON.parse(res.stdout.trim().split('\n').pop()!);
    const row = {
      size,
      inputMiB: Math.round(gen.bytes / 1048576),
      iotRecords: gen.iot,
      generateSeconds: +genSeconds.toFixed(1),
      ...m,
      seconds: +m.seconds.toFixed(1),
    };
    results.push(row);
    process.stdout.write(JSON.stringify(row) + '\n');
    if (!keep) rmSync(file, { force: true });
  }
  process.stdout.write('\n| records | input | build s | records/s | peak RSS | passes (fwd/rev) |\n|---:|---:|---:|---:|---:|---|\n');
  for (const r of results as {
    records: number;
    inputMiB: number;
    seconds: number;
    recordsPerSecond: number;
    peakRssMiB: number;
    forwardPasses: number;
    reversePasses: number;
  }[])
    process.stdout.write(
      `| ${r.records.toLocaleString('en-US')} | ${r.inputMiB} MiB | ${r.seconds} | ${r.recordsPerSecond.toLocaleString('en-US')} | ${r.peakRssMiB} MiB | ${r.forwardPasses}/${r.reversePasses} |\n`,
    );
}

await main();
