// Decode throughput on one core (this process's main thread), over the recorded exports of
// real exporters (see corpus.ts), without sockets:
//
//   decode          FlowDecoder.decode into a BatchWriter, reset after every datagram
//                   (the collector's writer is emptied by the publisher after each datagram)
//   decode+seal     the same, but records accumulate and a batch is sealed (copy + CRC-32)
//                   every 4,096 records: batching without partitioning
//   collector>null  Collector.onMessage as built by createIngest with the default config:
//                   decode, subscriber side, murmur2 partition, copy into 4 partition buffers,
//                   batches of 4,096 sealed per partition; the sink only counts
//   collector>count the same into a CountingSink like `haystack ingest`'s (it verifies each
//                   batch's CRC): the whole per-datagram path of the collector minus the socket
//
// --prefixes N configures N subscriber prefixes instead of the default 5 (the extra ones are
// IPv4 /16s no corpus address falls in), to show how partitioning cost grows with them.
//
// Modes run interleaved within each repetition so machine load hits them alike; the figure
// is the median over repetitions of records per second of wall time.
//
//   node load-test/dist/bench-decode.js [--reps 7] [--seconds 1] [--corpus softflowd-v9,...] [--mode decode,...] [--prefixes N] [--pin CPU] [--default-malloc]
//
// --pin CPU runs the bench on that one CPU (its GC threads too), in its own session at niceness
// -10 with autogroup nice -10, so other sessions' load on this shared machine does not set the
// figures (the same treatment bench-collector gives its children). RESULTS.md uses --pin 1.
//
// Raw samples are also written to load-test/.cache/bench-decode-<time>.json.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { loadConfig, silentLogger } from '@haystack/common';
import { BatchWriter } from '@haystack/flow-core';
import { FlowDecoder } from '@haystack/decoders';
import type { Ingest } from '@haystack/ingest';
import { assemblePipeline } from '@haystack/pipeline';
import type { FlowSink } from '@haystack/transport';
import { CACHE_DIR, CORPUS_KINDS, loadCorpus, renumber, type Corpus, type CorpusKind } from './corpus.js';
import { NullSink, countingSink } from './sinks.js';
import { arg, fmtRate, median, table, reexecPinned, exitOnHelp } from './stats.js';

exitOnHelp(import.meta.url);

const MODES = ['decode', 'decode+seal', 'collector>null', 'collector>count'] as const;
type Mode = (typeof MODES)[number];

interface Runner {
  mode: Mode;
  /** One pass over the corpus; returns records decoded. */
  pass(c: Corpus): Promise<number>;
  nextSeq: number;
  check(c: Corpus, passes: number): string[];
}

const BATCH = 4096;

function decodeRunner(mode: 'decode' | 'decode+seal'): Runner {
  const decoder = new FlowDecoder();
  const w = new BatchWriter(256);
  let sealed = 0; // batches sealed (kept so the copy is observably used)
  void sealed;
  const seal = mode === 'decode+seal';
  return {
    mode,
    nextSeq: 0,
    async pass(c) {
      const ds = c.datagrams;
      const exp = c.exporter;
      let n = 0;
      for (let i = 0; i < ds.length; i++) {
        n += decoder.decode(ds[i]!.payload, exp, Date.now(), w);
        if (!seal) w.reset();
        else if (w.count >= BATCH) sealed += w.finish().length > 0 ? 1 : 0;
        if ((i & 63) === 63) await Promise.resolve(); // the same microtask yields as the publisher modes
      }
      if (seal && w.count > 0) sealed += w.finish().length > 0 ? 1 : 0;
      return n;
    },
    check(c, passes) {
      return domainProblems(decoder, c, passes);
    },
  };
}

/** Default config, or `n` subscriber prefixes: the default five plus IPv4 /16s outside the corpus's addresses. */
function config(n: number) {
  if (!n) return loadConfig({ env: {} });
  const base = loadConfig({ env: {} }).ingest.subscriberPrefixes;
  const extra = Array.from({ length: Math.max(0, n - base.length) }, (_, i) => `${20 + (i % 80)}.${(i * 37) % 256}.0.0/16`);
  return loadConfig({ env: {}, overrides: { ingest: { subscriberPrefixes: [...extra, ...base] } } });
}

const PREFIXES = Number(arg('--prefixes', '0'));

async function collectorRunner(mode: 'collector>null' | 'collector>count'): Promise<Runner> {
  // The service's own wiring with the default configuration (4 partitions as `haystack ingest`
  // uses without Kafka), no sockets and no template persistence.
  const cfg = config(PREFIXES);
  const sink: FlowSink & { records: number } = mode === 'collector>null' ? new NullSink(4) : countingSink(4);
  const p = assemblePipeline({ config: cfg, log: silentLogger, ingest: 'replay', sink, metrics: false });
  await p.start();
  const ing: Ingest = p.ingest!;
  return {
    mode,
    nextSeq: 0,
    async pass(c) {
      const ds = c.datagrams;
      const exp = c.exporter;
      const before = ing.publisher.counters.records;
      for (let i = 0; i < ds.length; i++) {
        ing.collector.onMessage(ds[i]!.payload, exp);
        // Each datagram is its own event-loop task in the collector, so publish promises settle
        // between datagrams; here they settle every 64 datagrams (well inside maxInFlight).
        if ((i & 63) === 63) await Promise.resolve();
      }
      ing.publisher.flush();
      await Promise.resolve();
      return ing.publisher.counters.records - before;
    },
    check(c, passes) {
      const p = domainProblems(ing.decoder, c, passes);
      const pc = ing.publisher.counters;
      if (pc.droppedBackpressure) p.push(`${pc.droppedBackpressure} records dropped for backpressure`);
      if (pc.records !== c.records * passes) p.push(`published ${pc.records} ≠ ${c.records * passes}`);
      if (sink.records !== pc.records) p.push(`sink counted ${sink.records} ≠ published ${pc.records}`);
      return p;
    },
  };
}

function domainProblems(decoder: FlowDecoder, c: Corpus, passes: number): string[] {
  const p: string[] = [];
  for (const d of decoder.registry.all()) {
    const k = d.counters;
    if (k.records !== c.records * passes) p.push(`decoded ${k.records} ≠ ${c.records * passes}`);
    if (k.lost || k.sequenceGaps || k.sequenceResets || k.reordered)
      p.push(`sequence: lost ${k.lost}, gaps ${k.sequenceGaps}, resets ${k.sequenceResets}, reordered ${k.reordered}`);
    if (k.missingTemplateSets || k.malformedPackets || k.malformedRecords)
      p.push(`missing ${k.missingTemplateSets}, malformed ${k.malformedPackets}/${k.malformedRecords}`);
  }
  return p;
}

async function timedPass(r: Runner, c: Corpus): Promise<{ records: number; ms: number }> {
  // Renumber outside the timed part, continuing this runner's sequence: every pass is the next
  // stretch of one gap-free export, as the C sender loops it.
  r.nextSeq = renumber(c.datagrams, c.version, r.nextSeq);
  const t0 = performance.now();
  const records = await r.pass(c);
  return { records, ms: performance.now() - t0 };
}

interface ModeResult {
  mode: Mode;
  samples: number[];
  median: number;
  min: number;
  max: number;
  passes: number;
  problems: string[];
}

async function benchCorpus(kind: CorpusKind, modes: Mode[], reps: number, seconds: number): Promise<{ corpus: Corpus; results: ModeResult[] }> {
  const c = await loadCorpus(kind);
  const runners: Runner[] = [];
  for (const m of modes) runners.push(m === 'decode' || m === 'decode+seal' ? decodeRunner(m) : await collectorRunner(m));
  // Warm-up (JIT, template compilation, buffer growth), then size a sample to ~`seconds`.
  const passesPer = new Map<Runner, number>();
  const total = new Map<Runner, number>();
  for (const r of runners) {
    await timedPass(r, c);
    let ms = 0;
    for (let i = 0; i < 3; i++) ms += (await timedPass(r, c)).ms;
    passesPer.set(r, Math.max(1, Math.ceil((seconds * 1000) / (ms / 3))));
    total.set(r, 4);
  }
  const samples = new Map<Runner, number[]>(runners.map((r) => [r, []]));
  for (let rep = 0; rep < reps; rep++) {
    // Rotate the order each repetition so no mode always runs right after another's garbage.
    for (let j = 0; j < runners.length; j++) {
      const r = runners[(j + rep) % runners.length]!;
      const k = passesPer.get(r)!;
      let recs = 0;
      let ms = 0;
      for (let i = 0; i < k; i++) {
        const t = await timedPass(r, c);
        recs += t.records;
        ms += t.ms;
      }
      total.set(r, total.get(r)! + k);
      samples.get(r)!.push(recs / (ms / 1000));
    }
  }
  const results = runners.map((r) => {
    const s = samples.get(r)!;
    return {
      mode: r.mode,
      samples: s,
      median: median(s),
      min: Math.min(...s),
      max: Math.max(...s),
      passes: passesPer.get(r)!,
      problems: r.check(c, total.get(r)!),
    };
  });
  return { corpus: c, results };
}

async function main(): Promise<void> {
  const reps = Number(arg('--reps', '7'));
  const seconds = Number(arg('--seconds', '1'));
  const kinds = (arg('--corpus')?.split(',') ?? [...CORPUS_KINDS]) as CorpusKind[];
  const modes = (arg('--mode')?.split(',') ?? [...MODES]) as Mode[];
  for (const m of modes) if (!MODES.includes(m)) throw new Error(`unknown mode ${m} (${MODES.join(', ')})`);
  const cpu = os.cpus()[0]?.model ?? '?';
  const pinned = process.env.HAYSTACK_BENCH_PINNED ? `, pinned to CPU ${process.env.HAYSTACK_BENCH_PINNED} at nice -10 (own autogroup)` : '';
  process.stdout.write(
    `# bench-decode: node ${process.version}, ${os.cpus().length} CPUs (${cpu})${pinned}, ${reps} repetitions of ~${seconds} s per mode, ${config(PREFIXES).ingest.subscriberPrefixes.length} subscriber prefixes, load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n\n`,
  );
  const all: unknown[] = [];
  for (const kind of kinds) {
    const { corpus: c, results } = await benchCorpus(kind, modes, reps, seconds);
    const base = results.find((r) => r.mode === 'decode')?.median;
    process.stdout.write(
      `## ${kind}: ${c.datagrams.length} datagrams, ${c.records} flow records (${(c.records / c.datagrams.length).toFixed(1)}/datagram), ${(c.bytes / c.datagrams.length).toFixed(0)} B/datagram\n\n`,
    );
    process.stdout.write(
      table(
        ['mode', 'median records/s', 'min', 'max', 'datagrams/s (median)', 'ns/record', 'vs decode', 'checks'],
        results.map((r) => [
          r.mode,
          fmtRate(r.median),
          fmtRate(r.min),
          fmtRate(r.max),
          fmtRate((r.median * c.datagrams.length) / c.records),
          (1e9 / r.median).toFixed(0),
          base ? `${((r.median / base) * 100).toFixed(0)}%` : '',
          r.problems.length ? r.problems.join('; ') : 'ok',
        ]),
      ) + '\n\n',
    );
    all.push({ kind, datagrams: c.datagrams.length, records: c.records, results });
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  const out = join(CACHE_DIR, `bench-decode-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    out,
    JSON.stringify(
      { node: process.version, loadavg: os.loadavg(), reps, seconds, prefixes: config(PREFIXES).ingest.subscriberPrefixes.length, corpora: all },
      null,
      2,
    ),
  );
  process.stdout.write(`raw samples: ${out}\n`);
}

// glibc tuned as the `haystack` command runs flow commands, unless --default-malloc.
if (!reexecPinned(process.argv.includes('--default-malloc')))
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
