// End-to-end throughput: simulated exports → ingest → Kafka wire protocol (librdkafka mock
// cluster) → detector consumers → ClickHouse (chdb). One process hosts ingest and every
// detector member: chdb allows one data directory per process, so all members share one store.
//
// Ingest runs in a child process (e2e-ingest-child.ts; as deployed, ingest and detector are
// separate services, here on the machine's two cores).
//
//   node load-test/dist/bench-e2e.js [--lines N] [--sampling N] [--partitions 1,2,4] [--consumers 1,2] [--reps N] [--ixp MEMBERS] [--threads] [--compression C] [--out FILE]
// --ixp runs the IXP deployment instead: an exchange of MEMBERS member networks exporting sFlow
// from its fabric, hosts attributed to members by router MAC (results/e2e-ixp.md).
// --threads prints the detector process's CPU seconds by thread name for each run.
import { fork } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema, silentLogger, type HaystackConfig } from '@haystack/common';
import type { Detector } from '@haystack/detector';
import { openStore, TABLES } from '@haystack/store';
import { assemblePipeline, type Pipeline } from '@haystack/pipeline';
import { runBuildCommand } from '@haystack/hitlist';
import { startKafkaMock, mockKafkaClient, MOCK_CONSUMER_TIMINGS, type KafkaMock } from '@haystack/testkit';
import { KafkaFlowSource } from '@haystack/transport';
import { RECORD_SIZE } from '@haystack/flow-core';
import { simulate } from '@haystack/simulator';
import type { ChildMessage, ParentMessage } from './e2e-ingest-child.js';
import { reexecWithProductMalloc } from './stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`usage: node load-test/dist/bench-e2e.js [--lines N] [--sampling N] [--partitions 1,2,4] [--consumers 1,2]
       [--reps N] [--ixp N] [--compression none|gzip|lz4|zstd] [--out FILE] [--threads]
Replays a simulated day through ingest -> Kafka (librdkafka mock) -> detector -> ClickHouse (chdb)
and writes a Markdown table (default load-test/results/e2e.md). Defaults: --lines 5000 --sampling 100
--partitions 1,2,4 --consumers 1,2 --reps 2 (about half an hour on 2 cores).`);
  process.exit(0);
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const list = (s: string) =>
  s
    .split(',')
    .map((x) => Number(x))
    .filter((n) => Number.isInteger(n) && n > 0);

const LINES = Number(arg('lines', '5000'));
const SAMPLING = Number(arg('sampling', '100'));
const PARTS = list(arg('partitions', '1,2,4'));
const CONSUMERS = list(arg('consumers', '1,2'));
const REPS = Number(arg('reps', '2'));
const IXP = Number(arg('ixp', '0'));
/** kafka.compression of the run (default: the product's default). */
const COMPRESSION = arg('compression', '');
const OUT = resolve(arg('out', join(repo, 'load-test', 'results', IXP > 0 ? 'e2e-ixp.md' : 'e2e.md')));
const DAY = '2026-11-20';
const TOPIC = 'haystack.flows';
/**
 * The mock keeps only ~5 MiB per partition and silently drops older data, so the replay may
 * not run further ahead of the detectors than this many records per partition (~2.7 MiB of
 * 136-byte records). A real broker retains the backlog; here it would be lost.
 */
const LAG_RECORDS_PER_PARTITION = 20_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Set while a run is timed; group joins counted meanwhile (see runOne). */
let timing = false;
let rejoins = 0;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * Batches missing from storage, split by cause: offsets below a partition's log start were
 * deleted by the mock (it keeps ~5 MiB per partition, read or not) before any detector read
 * them — the mock's loss, the run is void; anything else missing is Haystack's loss.
 */
async function missingBatches(mock: KafkaMock, ch: Store, sourceId: string, emptyBatches: number): Promise<{ deletedUnread: number; missing: number }> {
  const admin = mockKafkaClient(mock).admin();
  await admin.connect();
  let offs: { partition: number; low: string; high: string }[];
  try {
    offs = await admin.fetchTopicOffsets(TOPIC);
  } finally {
    await admin.disconnect();
  }
  // A row covers its group's batches, src_offset to src_offset_last (services/detector batch-groups.ts).
  const rows = await ch.query<{ p: number; o: string; l: string }>(
    `SELECT DISTINCT src_partition AS p, toString(src_offset) AS o, toString(src_offset_last) AS l FROM ${ch.database}.${TABLES.flowQuality} WHERE source = {s:String}`,
    { s: sourceId },
  );
  const stored = new Set<string>();
  for (const r of rows) for (let off = Number(r.o); off <= Number(r.l); off++) stored.add(`${r.p}:${off}`);
  let deletedUnread = 0;
  let missing = 0;
  for (const o of offs) {
    for (let off = 0; off < Number(o.high); off++) {
      if (stored.has(`${o.partition}:${off}`)) continue;
      if (off < Number(o.low)) deletedUnread++;
      else missing++;
    }
  }
  // Empty batches (ingest ending a run of full ones, publisher.ts) store no rows of their own.
  return { deletedUnread, missing: Math.max(0, missing - emptyBatches) };
}

/** CPU seconds by thread name of this process (main thread, libuv pool, chdb's pools...). */
async function threadCpu(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const { readdir } = await import('node:fs/promises');
  for (const tid of await readdir('/proc/self/task').catch(() => [] as string[])) {
    try {
      const st = await readFile(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = tid === String(process.pid) ? 'main' : st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')).replace(/[0-9]+$/, '');
      const f = st.slice(st.lastIndexOf(') ') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // thread ended
    }
  }
  return out;
}

function threadDelta(a: Map<string, number>, b: Map<string, number>): string {
  return [...b]
    .map(([k, v]) => [k, v - (a.get(k) ?? 0)] as const)
    .filter(([, v]) => v >= 0.1)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(', ');
}

async function childCpuSeconds(pid: number): Promise<number> {
  try {
    const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

interface RunResult {
  partitions: number;
  consumers: number;
  rep: number;
  records: number;
  published: number;
  processed: number;
  storedRecords: number;
  qualityRows: number;
  qualityRowsRaw: number;
  batchesPublished: number;
  ingestSeconds: number;
  e2eSeconds: number;
  nodeCpu: number;
  mockCpu: number;
  lagWaits: number;
  handlerFailures: number;
  /** Batches the mock deleted for retention before any detector read them (the run is then void). */
  mockDropped: number;
  /** Batches published and readable but not stored: Haystack's loss. */
  missingBatches: number;
  /** Consumer group joins while timed (each is a rebalance pausing partitions). */
  rejoins: number;
  /** This process (detectors, chdb, the bench) resident memory when timing started and its peak while timed (sampled every 50 ms), MiB. */
  rssStartMiB: number;
  rssPeakMiB: number;
  /** The ingest child's peak resident memory over its life, MiB. */
  ingestMaxRssMiB: number;
  /** Storage inserts (each writes every table with rows) and evidence + line-day + detection rows. */
  inserts: number;
  rowsWritten: number;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'haystack-bench-e2e-'));
  const simDir = join(work, 'simulation');
  const stateDir = join(work, 'state');
  const rulesDir = join(repo, 'rules');
  const log = silentLogger;
  const say = (s: string) => process.stdout.write(`${s}\n`);
  let ch: Awaited<ReturnType<typeof openStore>> | undefined;
  const results: RunResult[] = [];
  try {
    let t = performance.now();
    const sim = await simulate({ seed: 1, lines: LINES, days: 1, startDay: DAY, sampling: [SAMPLING], rulesDir, ixpMembers: IXP }, { dir: simDir });
    say(
      `simulated ${LINES} ${IXP > 0 ? `hosts behind ${IXP} members (sFlow)` : 'lines'} 1:${SAMPLING}: ${sim.records.toLocaleString('en-US')} records in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    const base = configSchema.parse({
      stateDir,
      metrics: { listen: null },
      ingest: { subscriberPrefixes: ['100.64.0.0/10', '2001:db8::/32'], templates: { persist: 'none', flushIntervalMs: 5000 } },
      ...(IXP > 0
        ? { deployment: 'ixp', ixp: { memberExport: join(simDir, 'ixf-members.json'), routeTable: join(simDir, 'routes.pfx2as'), hostPrefixLength6: 64 } }
        : {}),
      redis: { url: null },
      clickhouse: { url: null },
      detector: { rulesDir, lineKey: 'bench-e2e-line-key-not-secret' },
    });
    t = performance.now();
    await runBuildCommand(
      {
        day: DAY,
        pdns: [join(simDir, 'pdns.jsonl')],
        certs: [join(simDir, 'certs.jsonl')],
        rulesDir,
        stateDir,
        policy: {},
        publish: false,
        activate: false,
        history: false,
        redis: base.redis,
        clickhouse: base.clickhouse,
        json: false,
        log,
      },
      () => undefined,
    );
    say(`hitlist built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    ch = await openStore(base);

    for (let rep = 1; rep <= REPS; rep++)
      for (const partitions of PARTS)
        for (const consumers of CONSUMERS) {
          const r = await runOne(base, ch, join(simDir, 'exports.pcap'), partitions, consumers, rep);
          results.push(r);
          say(
            `p=${partitions} c=${consumers} rep ${rep}: ${r.published.toLocaleString('en-US')} published, ingest ${fmtRate(r.published / r.ingestSeconds)}/s, ` +
              `end-to-end ${fmtRate(r.processed / r.e2eSeconds)}/s, processed ${r.processed.toLocaleString('en-US')}, stored ${r.storedRecords.toLocaleString('en-US')} ` +
              `(${r.qualityRows} quality rows FINAL / ${r.qualityRowsRaw} raw, ${r.batchesPublished} batches published), CPU node ${r.nodeCpu.toFixed(1)} s mock ${r.mockCpu.toFixed(1)} s, lag waits ${r.lagWaits}, ${r.inserts} inserts, ${r.rowsWritten.toLocaleString('en-US')} rows` +
              `, ${r.missingBatches} batches missing from storage, ${r.rejoins} group joins while timed` +
              `, RSS detector process ${r.rssStartMiB.toFixed(0)} → peak ${r.rssPeakMiB.toFixed(0)} MiB, ingest peak ${r.ingestMaxRssMiB.toFixed(0)} MiB` +
              (r.mockDropped
                ? ` — VOID: the mock deleted ${r.mockDropped} batches before any detector read them (its retention), that loss is the mock's`
                : ''),
          );
        }
    const md = render(results, sim.records);
    await mkdir(dirname(OUT), { recursive: true });
    await writeFile(OUT, md);
    say(md);
    say(`written ${OUT}`);
  } finally {
    await ch?.close();
    await rm(work, { recursive: true, force: true });
  }
}

function fmtRate(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(0)}k`;
}

async function runOne(
  base: HaystackConfig,
  ch: NonNullable<Awaited<ReturnType<typeof openStore>>>,
  pcap: string,
  partitions: number,
  consumers: number,
  rep: number,
): Promise<RunResult> {
  let mock: KafkaMock | undefined;
  const members: Pipeline[] = [];
  const group = `bench-p${partitions}-c${consumers}-r${rep}`;
  const sourceId = `bench:${group}`;
  try {
    mock = await startKafkaMock({ topics: [{ name: TOPIC, partitions }] });
    const config: HaystackConfig = configSchema.parse({
      ...base,
      kafka: { ...base.kafka, brokers: mock.bootstrap, flowTopic: TOPIC, consumerGroup: group, acks: 1, ...(COMPRESSION ? { compression: COMPRESSION } : {}) },
    });
    // One detector-only pipeline per group member, sharing the one embedded ClickHouse.
    for (let i = 0; i < consumers; i++)
      members.push(
        assemblePipeline({
          config,
          log: silentLogger,
          detect: true,
          metrics: false,
          store: ch,
          source: { ...MOCK_CONSUMER_TIMINGS, fromBeginning: true, concurrency: Math.max(1, Math.ceil(partitions / consumers)) },
          detector: { sourceId },
        }),
      );
    // Members join one after another; each join rebalances the group.
    const sources: KafkaFlowSource[] = [];
    for (const m of members) {
      await m.start();
      const source = m.source;
      if (source instanceof KafkaFlowSource) {
        sources.push(source);
        // Group joins while timing: a rebalance pauses partitions (the mock's retention can then void the run).
        source.onAssignment(() => timing && rejoins++);
      }
    }
    const dets = members.map((m) => m.detector!);
    // Time only a settled group: every partition assigned exactly once (a rebalance takes the
    // mock sessionTimeout − 1 s), then one more second for the members to start fetching.
    const settleBy = Date.now() + 60_000;
    for (;;) {
      const all = sources.flatMap((x) => x.assignment());
      if (all.length === partitions && new Set(all).size === partitions) break;
      if (Date.now() > settleBy) throw new Error(`consumer group did not settle within 60 s: ${JSON.stringify(sources.map((x) => x.assignment()))}`);
      await sleep(100);
    }
    await sleep(1_000);
    const processed = () => dets.reduce((s, d) => s + d.stats().flows, 0);
    return await runWithChild(config, ch, pcap, partitions, consumers, rep, mock, processed, dets, sources, sourceId);
  } finally {
    for (const m of members) await m.stop().catch(() => undefined);
    await mock?.stop();
  }
}

type Store = NonNullable<Awaited<ReturnType<typeof openStore>>>;

async function storedCounts(ch: Store, sourceId: string): Promise<Pick<RunResult, 'storedRecords' | 'qualityRows' | 'qualityRowsRaw'>> {
  const q = await ch.query<{ r: string; n: string }>(
    `SELECT sum(records) AS r, count() AS n FROM ${ch.database}.${TABLES.flowQuality} FINAL WHERE source = {s:String}`,
    { s: sourceId },
  );
  const raw = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${ch.database}.${TABLES.flowQuality} WHERE source = {s:String}`, { s: sourceId });
  return { storedRecords: Number(q[0]?.r ?? 0), qualityRows: Number(q[0]?.n ?? 0), qualityRowsRaw: Number(raw[0]?.n ?? 0) };
}

/** Ingest in a child process (e2e-ingest-child.ts); detectors here. Timed from the child's go to the last flow stored. */
async function runWithChild(
  config: HaystackConfig,
  ch: Store,
  pcap: string,
  partitions: number,
  consumers: number,
  rep: number,
  mock: KafkaMock,
  processed: () => number,
  dets: Detector[],
  sources: KafkaFlowSource[],
  sourceId: string,
): Promise<RunResult> {
  // kafkajs fetches for all of a member's partitions together, so one member waiting on storage
  // pauses all of them while the other member drains its own: bound the backlog by what one
  // member's partitions may hold, or it piles up on them past the mock's retention.
  const job = { config, pcap, maxBacklog: LAG_RECORDS_PER_PARTITION * Math.ceil(partitions / consumers) };
  const child = fork(join(here, 'e2e-ingest-child.js'), [JSON.stringify(job)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // As deployed (apps/cli/bin/haystack.js, Dockerfile): batch buffers on the heap, not fresh
    // mmap pages. The settings this process runs with (reexecWithProductMalloc, or the caller's).
    env: process.env,
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.on('error', () => undefined); // a send racing the child's disconnect (EPIPE)
  const messages: ChildMessage[] = [];
  let notify: (() => void) | undefined;
  child.on('message', (m: ChildMessage) => {
    messages.push(m);
    notify?.();
  });
  const next = async (type: ChildMessage['type']): Promise<ChildMessage> => {
    for (;;) {
      const err = messages.find((m) => m.type === 'error');
      if (err && err.type === 'error') throw new Error(`ingest child: ${err.message}`);
      const m = messages.find((x) => x.type === type);
      if (m) return m;
      if (child.exitCode !== null) throw new Error(`ingest child exited (${child.exitCode}) before '${type}'`);
      await new Promise<void>((r) => {
        notify = r;
        setTimeout(r, 100);
      });
    }
  };
  const tell = (m: ParentMessage) => {
    if (child.connected) child.send(m, () => undefined); // the child may have just disconnected
  };
  let progress: NodeJS.Timeout | undefined;
  let rssTimer: NodeJS.Timeout | undefined;
  try {
    await next('ready');
    const threads0 = await threadCpu();
    const cpu0 = process.cpuUsage();
    const mockCpu0 = await childCpuSeconds(mock.pid);
    const rssStart = process.memoryUsage.rss();
    let rssPeak = rssStart;
    rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 50);
    const t0 = performance.now();
    timing = true;
    rejoins = 0;
    // The mock's retention bounds what may sit unfetched: progress is what the detectors took in.
    const takenIn = () => dets.reduce((s, d) => s + d.stats().flowsTakenIn, 0);
    progress = setInterval(() => tell({ type: 'progress', processed: takenIn() }), 5);
    tell({ type: 'go' });
    const done = await next('done');
    if (done.type !== 'done') throw new Error('unreachable');
    const deadline = Date.now() + 300_000;
    while (processed() < done.published && Date.now() < deadline) await sleep(5);
    if (processed() < done.published) {
      // Say where the missing flows are: taken in but held (groups not stored), or never delivered.
      const held = dets.map((d) => ({ takenIn: d.stats().flowsTakenIn, stored: d.stats().flows, heldBatches: d.stats().heldBatches }));
      const lagging = sources.flatMap((x) => x.lag().filter((l) => l.batches > 0));
      process.stdout.write(`  stalled after 300 s: ${JSON.stringify({ published: done.published, held, lagging, sources: sources.map((x) => x.stats()) })}\n`);
    }
    await Promise.all(dets.map((d) => d.flush()));
    // After a group join, batches handed back are processed (and counted) twice, so the count
    // above is reached before the last of them is stored again: wait for storage itself (a
    // minute at most), or a rebalance would read as lost flows.
    const settle = Date.now() + 60_000;
    while (rejoins > 0 && (await storedCounts(ch, sourceId)).storedRecords < done.published && Date.now() < settle) {
      await sleep(200);
      await Promise.all(dets.map((d) => d.flush()));
    }
    const tEnd = performance.now();
    timing = false;
    const cpu = process.cpuUsage(cpu0);
    const mockCpu = (await childCpuSeconds(mock.pid)) - mockCpu0;
    if (process.argv.includes('--threads'))
      process.stdout.write(`  detector process CPU s by thread: ${threadDelta(threads0, await threadCpu())}; ingest process ${done.cpu.toFixed(1)}\n`);
    return {
      partitions,
      consumers,
      rep,
      records: done.published,
      published: done.published,
      processed: processed(),
      ...(await storedCounts(ch, sourceId)),
      batchesPublished: done.batches,
      ingestSeconds: done.seconds,
      e2eSeconds: (tEnd - t0) / 1000,
      nodeCpu: (cpu.user + cpu.system) / 1e6 + done.cpu,
      mockCpu,
      lagWaits: done.lagWaits,
      handlerFailures: dets.reduce((s, d) => s + d.stats().handlerFailures, 0),
      ...(await missingBatches(mock, ch, sourceId, done.endBatches).then((m) => ({ mockDropped: m.deletedUnread, missingBatches: m.missing }))),
      rejoins,
      rssStartMiB: rssStart / 2 ** 20,
      rssPeakMiB: rssPeak / 2 ** 20,
      ingestMaxRssMiB: done.maxRssMiB,
      inserts: dets.reduce((s, d) => s + d.stats().inserts, 0),
      rowsWritten: dets.reduce((s, d) => s + d.stats().evidenceRows + d.stats().newLines + d.stats().detections.day + d.stats().detections.hour, 0),
    };
  } finally {
    clearInterval(progress);
    clearInterval(rssTimer);
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  }
}

function render(rs: RunResult[], simRecords: number): string {
  const keys = [...new Set(rs.map((r) => `${r.partitions}/${r.consumers}`))];
  const rows = keys.map((k) => {
    const all = rs.filter((r) => `${r.partitions}/${r.consumers}` === k);
    const f = all[0]!;
    // A run in which the mock deleted batches before any detector read them measured the mock.
    const g = all.filter((r) => r.mockDropped === 0);
    const voided = all.length - g.length;
    if (g.length === 0) return `| ${f.partitions} | ${f.consumers} | – | – | – | – | – | – | – | 0 | ${voided} |`;
    const lost = Math.max(...g.map((r) => r.published - r.storedRecords));
    const dup = Math.max(...g.map((r) => r.processed - r.published));
    return `| ${f.partitions} | ${f.consumers} | ${f.published.toLocaleString('en-US')} | ${fmtRate(median(g.map((r) => r.published / r.ingestSeconds)))} | ${fmtRate(median(g.map((r) => r.processed / r.e2eSeconds)))} | ${lost} | ${dup} | ${median(g.map((r) => r.nodeCpu)).toFixed(1)} + ${median(g.map((r) => r.mockCpu)).toFixed(1)} | ${median(g.map((r) => r.e2eSeconds)).toFixed(1)} | ${g.length} | ${voided} |`;
  });
  return [
    `# End-to-end${IXP > 0 ? ' (IXP deployment)' : ''}: ingest → Kafka (librdkafka mock) → detector → ClickHouse (chdb)`,
    '',
    `\`node load-test/dist/bench-e2e.js --lines ${LINES} --sampling ${SAMPLING} --partitions ${PARTS.join(',')} --consumers ${CONSUMERS.join(',')} --reps ${REPS}${IXP > 0 ? ` --ixp ${IXP}` : ''}\``,
    '',
    `Simulated day: ${LINES} ${IXP > 0 ? `hosts behind ${IXP} member networks of an exchange (sFlow from the fabric, hosts attributed by router MAC)` : 'lines'} at 1:${SAMPLING}, ${simRecords.toLocaleString('en-US')} flow records in the capture; ${RECORD_SIZE}-byte records in the batches.`,
    `All detector members run in the benchmark's process and share one chdb store (one data directory per process); ingest replays in a child process (as deployed: a separate service).`,
    `Replay is held to ${LAG_RECORDS_PER_PARTITION.toLocaleString('en-US')} records per partition of one member ahead of what the detectors took in (the mock keeps ~5 MiB per partition and deletes older data, read or not), so the ingest rate is capped by the detectors.`,
    `A run is void when the mock deleted batches before any detector read them (checked per batch against storage); medians over the valid runs. Machine: 2 shared cores.`,
    '',
    '| partitions | consumers | records published | ingest flows/s | end-to-end flows/s | lost (published − stored, max) | doubled (processed − published, max) | CPU s (both node processes + mock) | e2e seconds | valid runs | void runs |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n');
}

// The detectors run in this process: with the malloc settings `haystack detect` runs with.
if (!reexecWithProductMalloc())
  main().then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
