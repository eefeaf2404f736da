// Passive DNS collection speed and memory: dnstap responses per second on one core, through
// the collector's own path (Frame Streams → protobuf → DNS answers → per-day aggregation →
// flush), and peak memory with the tuple bound at work.
//
// A dnstap file of --responses client responses is generated (cached under .cache/): a mix of
// popular names answered again and again and a long tail of names seen once (--unique share),
// A, AAAA and CNAME chains. It is imported with `PdnsCollector.importFile` into a sink that
// only counts (storage is not what is measured here), for each --max-tuples bound.
//
//   node load-test/dist/bench-pdns.js [--responses 2000000] [--unique 0.5] [--max-tuples 1000000,100000,10000] [--reps 3] [--pin 1]
//        [--max-old-space-size MB]   (cap the heap of each run: a bound that holds fits, one that does not fails)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { silentLogger } from '@haystack/common';
import { DnstapFileWriter, type PdnsTuple } from '@haystack/pdns';
import { PdnsCollector } from '@haystack/pdns-service';
import { CACHE_DIR } from './corpus.js';
import { arg, median, table, reexecPinned, exitOnHelp } from './stats.js';

exitOnHelp(import.meta.url);

const opt = {
  responses: Number(arg('--responses', '2000000')),
  unique: Number(arg('--unique', '0.5')),
  maxTuples: (arg('--max-tuples') ?? '1000000,100000,10000').split(',').map(Number),
  reps: Number(arg('--reps', '3')),
};

async function makeFile(): Promise<string> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const path = join(CACHE_DIR, `pdns-${opt.responses}-${opt.unique}.dnstap`);
  if (existsSync(path)) return path;
  const w = DnstapFileWriter.create(path);
  const t0 = Date.UTC(2026, 10, 20);
  let seed = 1;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
  for (let i = 0; i < opt.responses; i++) {
    const t = t0 + Math.floor((i / opt.responses) * 86_400_000);
    if (rnd() < opt.unique) {
      // The long tail: a name never seen again (what a tracker, a CDN or a DGA does).
      const name = `u${i}.tail${i % 997}.example.net`;
      await w.response(t, name, 'A', [{ name, type: 'A', data: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }]);
    } else {
      const k = Math.floor(rnd() * rnd() * 10_000); // popular names, skewed
      const name = `svc${k}.vendor${k % 50}.com`;
      const edge = `e${k % 300}.cdn.example.org`;
      if (k % 3 === 0)
        await w.response(t, name, 'AAAA', [
          { name, type: 'CNAME', data: edge },
          { name: edge, type: 'AAAA', data: `2001:db8:${(k % 300).toString(16)}::${(k % 7) + 1}` },
        ]);
      else
        await w.response(t, name, 'A', [
          { name, type: 'CNAME', data: edge },
          { name: edge, type: 'A', data: `198.51.${k % 200}.${(k % 250) + 1}` },
        ]);
    }
  }
  await w.close();
  return path;
}

class CountingSink {
  tuples = 0;
  async write(t: readonly PdnsTuple[]): Promise<number> {
    this.tuples += t.length;
    return t.length;
  }
}

interface OneResult {
  maxTuples: number;
  rates: number[];
  answers: number;
  flushed: number;
  peakRssMb: number;
  peakHeapMb: number;
}

/** One bound, in a fresh process (its peak memory is its own). */
async function one(maxTuples: number, file: string): Promise<OneResult> {
  const rates: number[] = [];
  let peakRss = 0;
  let peakHeap = 0;
  let flushed = 0;
  let answers = 0;
  const timer = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }, 20);
  for (let rep = 0; rep < opt.reps; rep++) {
    const sink = new CountingSink();
    const c = new PdnsCollector({ sink, log: silentLogger, maxTuples, flushIntervalMs: 3_600_000, maxFrameBytes: 1 << 20, collectorId: 'bench' });
    const t0 = performance.now();
    const r = await c.importFile(file);
    rates.push(r.responses / ((performance.now() - t0) / 1000));
    flushed = sink.tuples;
    answers = r.answers;
    if (r.responses !== opt.responses) throw new Error(`read ${r.responses} responses of ${opt.responses}`);
  }
  clearInterval(timer);
  return { maxTuples, rates, answers, flushed, peakRssMb: Math.round(peakRss / 1e6), peakHeapMb: Math.round(peakHeap / 1e6) };
}

async function main(): Promise<void> {
  const file = await makeFile();
  const single = arg('--one');
  if (single !== undefined) {
    process.stdout.write(`${JSON.stringify(await one(Number(single), file))}\n`);
    return;
  }
  const out: string[] = [];
  const say = (s: string) => {
    out.push(s);
    process.stdout.write(`${s}\n`);
  };
  const heapCap = arg('--max-old-space-size');
  say(
    `# bench-pdns: ${opt.responses.toLocaleString('en-US')} dnstap responses (${Math.round(opt.unique * 100)} % names seen once), ${(statSync(file).size / 1e6).toFixed(0)} MB, node ${process.version}, ${os.cpus().length} CPUs${process.env.HAYSTACK_BENCH_PINNED ? `, pinned to CPU ${process.env.HAYSTACK_BENCH_PINNED}` : ''}${heapCap ? `, heap capped at ${heapCap} MB` : ''}, load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  say('');
  const rows: (string | number)[][] = [];
  for (const maxTuples of opt.maxTuples) {
    // Each bound in its own process: a peak is that bound's, not what an earlier run left.
    const r = spawnSync(
      process.execPath,
      [...(heapCap ? [`--max-old-space-size=${heapCap}`] : []), process.argv[1]!, ...process.argv.slice(2), '--one', String(maxTuples)],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    if (r.status !== 0) {
      rows.push([
        maxTuples.toLocaleString('en-US'),
        `failed (exit ${r.status}): ${(r.stderr.split('\n').find((l) => /heap|memory/i.test(l)) ?? '').slice(0, 80)}`,
        '',
        '',
        '',
        '',
        '',
      ]);
      continue;
    }
    const x = JSON.parse(r.stdout.trim().split('\n').pop()!) as OneResult;
    rows.push([
      maxTuples.toLocaleString('en-US'),
      `${Math.round(median(x.rates) / 1000)}k`,
      `${Math.round(Math.min(...x.rates) / 1000)}k–${Math.round(Math.max(...x.rates) / 1000)}k`,
      x.answers.toLocaleString('en-US'),
      x.flushed.toLocaleString('en-US'),
      `${x.peakRssMb} MB`,
      `${x.peakHeapMb} MB`,
    ]);
  }
  say(table(['pdns.maxTuples', 'responses/s (median)', 'min–max', 'answers', 'tuples flushed', 'peak RSS', 'peak heap'], rows));
  say('');
  say(`command: node load-test/dist/bench-pdns.js ${process.argv.slice(2).join(' ')}`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(CACHE_DIR, `bench-pdns-${stamp}.md`), `${out.join('\n')}\n`);
}

if (!reexecPinned())
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
