// Loss-free collector rate, Haystack versus nfdump's nfcapd, side by side on the same recorded
// export stream (corpus.ts: softflowd NetFlow v9 by default) sent over loopback UDP by a paced C
// sender (native/udp-sender.c) at increasing rates.
//
// Each trial starts a fresh collector pinned to one CPU, sends a warm-up (default 2 s at 400k
// records/s), then the measured stretch (default 5 s at the trial's rate) continuing the same
// gap-free stream, waits until the socket's queue is empty and the collector has settled, and
// compares records sent (warm-up + measured) with records stored:
//
//   haystack  `node packages/cli/dist/main.js ingest --netflow-port 0 --ipfix-port 0 --bind 127.0.0.1`
//             (the real service: createIngest → Collector → Publisher → the CLI's counting sink),
//             metrics on an ephemeral port; stored = haystack_ingest_published_records_total
//             (cross-checked with haystack_ingest_domain_records_total)
//   nfcapd    `nfcapd -b 127.0.0.1 -p PORT -w DIR -B RCVBUF` (sfcapd alike for --corpus sfprobe-sflow); stored = "Flows:" of
//             `nfdump -R DIR -I` after SIGTERM (nfcapd's own summary line is cross-checked)
//
// Both get the same receive buffer request (-B / ingest.receiveBufferBytes); the kernel caps it
// at net.core.rmem_max and the granted size is read back with `ss -m` and reported. Socket drops
// come from /proc/net/udp. Everything binds 127.0.0.1; every child is killed at the end.
//
//   node load-test/dist/bench-collector.js [--rates 200000,400000,800000,1200000,1600000,2000000]
//        [--duration 5] [--reps 5] [--corpus softflowd-v9] [--collectors haystack,nfcapd]
//        [--rcvbuf 33554432] [--collector-cpu 1] [--sender-cpu 0] [--no-pin] [--burst 32]
//        [--warmup 2] [--warmup-rate 400000] [--tolerance 0.0001] [--nfcapd-dir /dev/shm]
//        [--skip-sender-check] [--nice -10] [--profile] [--diag] [--entry cli|child|cli!]
//
// (Earlier runs also measured "haystack+fix", an experimental Publisher.add; that change is now
// the product's own code, commit 16cd750, so the variant is gone.)
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { CACHE_DIR, LOAD_TEST_DIR, ensureCorpus, loadCorpus, type CorpusKind } from './corpus.js';
import { nativeTool } from './native.js';
import { arg, fmtRate, median, table, exitOnHelp } from './stats.js';

exitOnHelp(import.meta.url);

const REPO = join(LOAD_TEST_DIR, '..');
const CLI = join(REPO, 'apps', 'cli', 'dist', 'main.js');

/** nfdump's collectors: nfcapd for NetFlow/IPFIX, sfcapd (Debian nfdump-sflow) for sFlow. */
type NfdumpCollector = 'nfcapd' | 'sfcapd';
/** haystack-dgram: the same collector reading with node:dgram (ingest.receive: dgram), for before/after. */
type CollectorName = 'haystack' | 'haystack-dgram' | NfdumpCollector;
const isNfdump = (n: CollectorName): n is NfdumpCollector => n === 'nfcapd' || n === 'sfcapd';

const opt = {
  rates: (arg('--rates') ?? '200000,400000,800000,1200000,1600000,2000000').split(',').map(Number),
  duration: Number(arg('--duration', '5')),
  reps: Number(arg('--reps', '5')),
  corpus: (arg('--corpus') ?? 'softflowd-v9') as CorpusKind,
  // The peer for sFlow is sfcapd, for NetFlow/IPFIX nfcapd.
  collectors: (arg('--collectors') ?? (arg('--corpus') === 'sfprobe-sflow' ? 'haystack,sfcapd' : 'haystack,nfcapd')).split(',') as CollectorName[],
  rcvbuf: Number(arg('--rcvbuf', String(32 * 1024 * 1024))),
  pin: !process.argv.includes('--no-pin'),
  // Other agents share this machine. Their bursts would stall the collector or the sender for
  // tens of ms (dropping datagrams whatever the collector's speed), so children run at niceness
  // --nice (default -10) in their own session, and that session's autogroup gets the same nice
  // value: with sched_autogroup on (as here) CPU time is shared between sessions first, and a
  // plain nice value only orders processes within one session. Applied alike to both collectors
  // and the sender; --nice 0 turns it off.
  nice: Number(arg('--nice', '-10')),
  collectorCpu: arg('--collector-cpu', '1')!,
  /** Haystack's CPUs when they differ (e.g. 0,1 for two workers; nfcapd is single-threaded). */
  haystackCpu: arg('--haystack-cpu') ?? arg('--collector-cpu', '1')!,
  senderCpu: arg('--sender-cpu', '0')!,
  burst: Number(arg('--burst', '32')),
  // Long enough for V8 to finish optimising the hot path (its compiler threads share the pinned
  // CPU): a collector runs for days, the first second after start is not what we measure.
  warmup: Number(arg('--warmup', '2')),
  warmupRate: Number(arg('--warmup-rate', '400000')),
  tolerance: Number(arg('--tolerance', '0.0001')),
  nfcapdDir: arg('--nfcapd-dir') ?? (existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir()),
  senderCheck: !process.argv.includes('--skip-sender-check'),
  /** node --cpu-prof for the Haystack collectors, written to load-test/.cache/profiles/. */
  profile: process.argv.includes('--profile'),
  /** Load dist/diag.js into the Haystack collectors: event-loop delay, GC pauses, stalls. */
  diag: process.argv.includes('--diag'),
  /** How to run the plain Haystack collector: 'cli' (apps/cli ingest; falls back to 'child' if it cannot start), or 'child' (dist/ingest-child.js, the same pipeline without the rest of the CLI). 'cli!' never falls back. */
  entry: arg('--entry', 'cli') as 'cli' | 'child' | 'cli!',
  /** Exporters: the sender sends the stream from this many source addresses (127.0.0.1…). */
  sources: Number(arg('--sources', '1')),
  /** Haystack's ingest.workers (default: the product's default, one per core). */
  workers: arg('--workers') ?? 'auto',
};

// ---- children ------------------------------------------------------------------------------

const children = new Set<ChildProcess>();

function pinned(cpu: string, cmd: string, args: string[]): [string, string[]] {
  // nice and taskset exec the command: the child's pid is the command's own.
  let c: [string, string[]] = [cmd, args];
  if (opt.pin) c = ['taskset', ['-c', cpu, c[0], ...c[1]]];
  if (opt.nice) c = ['nice', ['-n', String(opt.nice), c[0], ...c[1]]];
  return c;
}

let autogroupWarned = false;

function start(cpu: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const [c, a] = pinned(cpu, cmd, args);
  // detached: a new session, hence its own scheduler autogroup, whose nice value we set.
  const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env, detached: opt.nice !== 0 });
  if (opt.nice !== 0 && child.pid !== undefined) {
    try {
      writeFileSync(`/proc/${child.pid}/autogroup`, String(opt.nice));
    } catch (e) {
      if (!autogroupWarned) process.stderr.write(`warning: could not set the autogroup nice value: ${(e as Error).message}\n`);
      autogroupWarned = true;
    }
  }
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function lines(stream: NodeJS.ReadableStream, onLine: (l: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

async function stop(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- kernel views ----------------------------------------------------------------------------

interface SockState {
  rxQueue: number;
  drops: number;
}

/** The 127.0.0.1 UDP socket bound to `port`, from /proc/net/udp; null if none. */
/** Every socket bound to the port (workers share it with SO_REUSEPORT), summed. */
function udpSocket(port: number): SockState | null {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let found: SockState | null = null;
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const c = line.trim().split(/\s+/);
    if (c[1] !== want) continue;
    found ??= { rxQueue: 0, drops: 0 };
    found.rxQueue += parseInt(c[4]!.split(':')[1]!, 16);
    found.drops += Number(c[c.length - 1]);
  }
  return found;
}

/** Receive buffer the kernel granted (ss -m: skmem rb). */
function grantedRcvbuf(port: number): number {
  try {
    const out = execFileSync('ss', ['-uamn', `sport = :${port}`], { encoding: 'utf8' });
    const m = /rb(\d+)/.exec(out);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** user + system CPU seconds of a process (all threads), from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return NaN;
  }
}

async function waitFor(what: string, ms: number, cond: () => boolean | Promise<boolean>, every = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

async function waitQueueEmpty(port: number): Promise<void> {
  await waitFor(`the receive queue of port ${port} to empty`, 120_000, () => (udpSocket(port)?.rxQueue ?? 0) === 0, 50);
}

/** Samples a socket's receive queue every `everyMs` until stopped: peak occupancy and when drops began. */
function watchQueue(port: number, everyMs = 10): () => { maxQueue: number; firstDropAtS: number; samples: number } {
  const t0 = performance.now();
  const base = udpSocket(port)?.drops ?? 0;
  let maxQueue = 0;
  let firstDropAtS = NaN;
  let samples = 0;
  const timer = setInterval(() => {
    const s = udpSocket(port);
    if (!s) return;
    samples++;
    if (s.rxQueue > maxQueue) maxQueue = s.rxQueue;
    if (s.drops > base && firstDropAtS !== firstDropAtS) firstDropAtS = (performance.now() - t0) / 1000;
  }, everyMs);
  return () => {
    clearInterval(timer);
    return { maxQueue, firstDropAtS, samples };
  };
}

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

// ---- sender -----------------------------------------------------------------------------------

interface SenderResult {
  datagrams: number;
  records: number;
  bytes: number;
  seconds: number;
  recordsPerSecond: number;
  datagramsPerSecond: number;
  sendErrors: number;
  lastErrno: number;
  maxLagMs: number;
  skippedMs: number;
  nextIndex: number;
  nextSeq: number;
}

/** One source port for every run: the warm-up and the measured stretch come from the same exporters. */
const SOURCE_PORT = 30000 + Math.floor(Math.random() * 20000);

async function send(stream: string, port: number, rate: number, seconds: number, from?: { nextIndex: number; nextSeq: number }): Promise<SenderResult> {
  const args = [stream, String(port), String(rate), String(seconds), String(opt.burst)];
  if (from) args.push(String(from.nextIndex), String(from.nextSeq));
  const child = start(opt.senderCpu, nativeTool('udp-sender'), args, {
    ...process.env,
    UDP_SENDER_SOURCES: String(opt.sources),
    UDP_SENDER_SOURCE_PORT: String(SOURCE_PORT),
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  if (code !== 0) throw new Error(`udp-sender exited with ${code}: ${err}`);
  return JSON.parse(out) as SenderResult;
}

// ---- collectors under test --------------------------------------------------------------------

interface Running {
  name: CollectorName;
  port: number;
  pid: number;
  /** After the stream: wait until everything received is processed, return counts, stop. */
  finish(): Promise<Stored>;
  /** With --diag, after finish(): event-loop delay and GC figures of the Haystack process. */
  diag?: () => Record<string, number>;
}

interface Stored {
  stored: number;
  /** A second count from the collector itself, for cross-checking. */
  check: number;
  socketDrops: number;
  notes: Record<string, number>;
}

function parseMetrics(text: string): Map<string, number> {
  // Sums every labelled series of a metric.
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    const name = line.slice(0, sp).replace(/\{.*\}$/, '');
    m.set(name, (m.get(name) ?? 0) + Number(line.slice(sp + 1)));
  }
  return m;
}

let cliBroken = false;
/** Which program ran each Haystack collector (reported with the results). */
const entries = new Set<string>();

async function startHaystack(name: 'haystack' | 'haystack-dgram'): Promise<Running> {
  const state = mkdtempSync(join(os.tmpdir(), 'haystack-bench-state-'));
  const env = {
    ...process.env,
    HAYSTACK_METRICS__LISTEN: '127.0.0.1:0',
    HAYSTACK_STATE_DIR: state,
    HAYSTACK_INGEST__RECEIVE_BUFFER_BYTES: String(opt.rcvbuf),
    HAYSTACK_LOG__LEVEL: 'info',
    HAYSTACK_INGEST__WORKERS: opt.workers,
    HAYSTACK_INGEST__RECEIVE: name === 'haystack-dgram' ? 'dgram' : 'batch',
    // As the `haystack` command and the Docker image run it (apps/cli/bin/haystack.js): batch
    // buffers on the heap; without these glibc maps fresh pages per batch (3-4x slower).
    MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? '33554432',
    MALLOC_TRIM_THRESHOLD_: process.env.MALLOC_TRIM_THRESHOLD_ ?? '268435456',
  };
  // The real CLI command unless --entry child (or the CLI does not start, see below).
  const useChild = opt.entry === 'child' || cliBroken;
  const main = useChild ? join(LOAD_TEST_DIR, 'dist', 'ingest-child.js') : CLI;
  const extra: string[] = [];
  const nodeArgs = opt.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(CACHE_DIR, 'profiles')}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : [];
  const diagFile = join(state, 'diag.jsonl');
  if (opt.diag) {
    nodeArgs.push('--import', join(LOAD_TEST_DIR, 'dist', 'diag.js'));
    Object.assign(env, { HAYSTACK_BENCH_DIAG: diagFile, HAYSTACK_BENCH_CPU: opt.pin ? opt.collectorCpu : '' });
  }
  let diag: Record<string, number> = {};
  const child = start(
    opt.haystackCpu,
    process.execPath,
    [...nodeArgs, main, ...(useChild ? [] : ['ingest']), '--netflow-port', '0', '--ipfix-port', '0', '--sflow-port', '0', '--bind', '127.0.0.1', ...extra],
    env,
  );
  let metricsUrl = '';
  let port = 0;
  let log = '';
  lines(child.stderr!, (l) => {
    log += `${l}\n`;
    try {
      const j = JSON.parse(l) as { msg?: string; listen?: string; port?: number };
      if (j.msg === 'metrics endpoint listening') metricsUrl = `http://${j.listen}/metrics`;
      if (j.msg === 'collector listening' && !port) port = j.port!; // the first is --netflow-port
    } catch {
      /* not JSON */
    }
  });
  child.stdout!.resume();
  try {
    await waitFor('haystack ingest to listen', 30_000, () => {
      if (child.exitCode !== null) throw new Error(`haystack ingest exited: ${log}`);
      return Boolean(metricsUrl && port);
    });
  } catch (e) {
    if (useChild || opt.entry === 'cli!') throw e;
    process.stderr.write(`note: the CLI did not start (${(e as Error).message.split('\n').slice(0, 3).join(' ')}); using dist/ingest-child.js from now on\n`);
    cliBroken = true;
    rmSync(state, { recursive: true, force: true });
    return startHaystack(name);
  }
  entries.add(`${name}: ${useChild ? 'load-test/dist/ingest-child.js' + (extra.length ? ' --fix' : '') : 'packages/cli/dist/main.js ingest'}`);
  const scrape = async () => parseMetrics(await (await fetch(metricsUrl)).text());
  return {
    name,
    port,
    pid: child.pid!,
    async finish() {
      await waitQueueEmpty(port);
      // The publisher flushes partition buffers every batch.maxDelayMs (200 ms): wait until the
      // published count has caught up with the decoded count and holds still.
      let last = -1;
      let m = await scrape();
      await waitFor(
        'haystack counters to settle',
        30_000,
        async () => {
          m = await scrape();
          const pub = m.get('haystack_ingest_published_records_total') ?? 0;
          const dec = m.get('haystack_ingest_domain_records_total') ?? 0;
          const ok = pub === dec && pub === last;
          last = pub;
          return ok;
        },
        300,
      );
      const drops = udpSocket(port)?.drops ?? NaN;
      await stop(child);
      if (opt.diag && existsSync(diagFile)) {
        const d = JSON.parse(readFileSync(diagFile, 'utf8').trim().split('\n').pop()!) as {
          loopDelayMs: Record<string, number>;
          gc: Record<string, number>;
          stalls: unknown[];
          stealTicks: number;
        };
        diag = {
          loopDelayP999Ms: d.loopDelayMs.p999!,
          loopDelayMaxMs: d.loopDelayMs.max!,
          gcMaxMs: d.gc.maxMs!,
          gcTotalMs: d.gc.totalMs!,
          stalls: d.stalls.length,
          stealTicks: d.stealTicks,
        };
      }
      rmSync(state, { recursive: true, force: true });
      return {
        stored: m.get('haystack_ingest_published_records_total') ?? 0,
        check: m.get('haystack_ingest_domain_records_total') ?? 0,
        socketDrops: drops,
        notes: {
          metricSocketDrops: m.get('haystack_ingest_socket_drops') ?? NaN,
          sequenceLost: m.get('haystack_ingest_domain_lost_total') ?? 0,
          backpressureDropped: m.get('haystack_ingest_published_dropped_backpressure_total') ?? 0,
          packets: m.get('haystack_ingest_domain_packets_total') ?? 0,
        },
      };
    },
    diag: () => diag,
  };
}

async function startNfcapd(bin: NfdumpCollector): Promise<Running> {
  const dir = mkdtempSync(join(opt.nfcapdDir, `${bin}-bench-`));
  const port = await freePort();
  const child = start(opt.collectorCpu, bin, ['-b', '127.0.0.1', '-p', String(port), '-w', dir, '-B', String(opt.rcvbuf)]);
  let log = '';
  lines(child.stderr!, (l) => (log += `${l}\n`));
  lines(child.stdout!, (l) => (log += `${l}\n`));
  child.on('error', (e) => (log += String(e)));
  await waitFor(`${bin} to bind`, 30_000, () => {
    if (child.exitCode !== null) throw new Error(`${bin} exited: ${log}`);
    return udpSocket(port) !== null;
  });
  return {
    name: bin,
    port,
    pid: child.pid!,
    async finish() {
      await waitQueueEmpty(port);
      await sleep(200);
      const drops = udpSocket(port)?.drops ?? NaN;
      await stop(child, 60_000); // it writes out its last block and renames the file on SIGTERM
      const info = execFileSync('nfdump', ['-R', dir, '-I'], { encoding: 'utf8', maxBuffer: 1 << 20 });
      const flows = Number(/^Flows:\s*(\d+)/m.exec(info)?.[1] ?? NaN);
      // nfcapd's own summary per flow file: "Ident: 'none' Flows: N, Packets: ..., Sequence Errors: N, ...";
      // one at each 5-minute rotation and one at exit, so sum them.
      const summaries = [...log.matchAll(/^Ident: .*?Flows: (\d+),.*Sequence Errors: (\d+)/gm)];
      const own = summaries.length
        ? [summaries[0]![0], String(summaries.reduce((a, m) => a + Number(m[1]), 0)), String(summaries.reduce((a, m) => a + Number(m[2]), 0))]
        : null;
      rmSync(dir, { recursive: true, force: true });
      return {
        stored: flows,
        check: own ? Number(own[1]) : NaN,
        socketDrops: drops,
        notes: { sequenceErrors: own ? Number(own[2]) : NaN },
      };
    },
  };
}

// ---- trials -----------------------------------------------------------------------------------

interface Trial {
  collector: CollectorName;
  rate: number;
  rep: number;
  warm: SenderResult;
  measured: SenderResult;
  sent: number;
  stored: number;
  check: number;
  lost: number;
  lossPct: number;
  socketDrops: number;
  rcvbuf: number;
  cpuPct: number;
  notes: Record<string, number>;
}

async function trial(name: CollectorName, stream: string, rate: number, rep: number): Promise<Trial> {
  const c = isNfdump(name) ? await startNfcapd(name) : await startHaystack(name);
  try {
    const rcvbuf = grantedRcvbuf(c.port);
    const warm = await send(stream, c.port, opt.warmupRate, opt.warmup);
    await waitQueueEmpty(c.port);
    const cpu0 = cpuSeconds(c.pid);
    const t0 = performance.now();
    const stopWatch = watchQueue(c.port);
    const measured = await send(stream, c.port, rate, opt.duration, warm);
    const q = stopWatch();
    await waitQueueEmpty(c.port);
    const cpuPct = ((cpuSeconds(c.pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
    const s = await c.finish();
    const sent = warm.records + measured.records;
    const lost = sent - s.stored;
    const notes = { ...s.notes, maxQueueBytes: q.maxQueue, firstDropAtS: q.firstDropAtS };
    if (c.diag) Object.assign(notes, c.diag());
    return {
      collector: name,
      rate,
      rep,
      warm,
      measured,
      sent,
      stored: s.stored,
      check: s.check,
      lost,
      lossPct: (lost / sent) * 100,
      socketDrops: s.socketDrops,
      rcvbuf,
      cpuPct,
      notes,
    };
  } finally {
    killAll();
  }
}

// ---- sender check -----------------------------------------------------------------------------

async function sinkRun(stream: string, rate: number, seconds: number): Promise<{ sender: SenderResult; received: number; drops: number }> {
  const sink = start(opt.collectorCpu, nativeTool('udp-sink'), ['0', String(opt.rcvbuf)]);
  let port = 0;
  let final = '';
  lines(sink.stdout!, (l) => {
    const j = JSON.parse(l) as { port?: number; datagrams?: number };
    if (j.port !== undefined) port = j.port;
    else final = l;
  });
  await waitFor('udp-sink', 10_000, () => port > 0);
  const sender = await send(stream, port, rate, seconds);
  await waitQueueEmpty(port);
  const drops = udpSocket(port)?.drops ?? NaN;
  await stop(sink);
  await waitFor('udp-sink summary', 5000, () => final !== '');
  return { sender, received: (JSON.parse(final) as { datagrams: number }).datagrams, drops };
}

/** Node's dgram, as fast as it goes (no pacing): is a Node sender enough? */
async function nodeSenderMax(
  streamPath: string,
  port: number,
  seconds: number,
): Promise<{ datagrams: number; recordsPerSecond: number; datagramsPerSecond: number }> {
  const c = await loadCorpus(opt.corpus);
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.connect(port, '127.0.0.1', r));
  const t0 = performance.now();
  let n = 0;
  let records = 0;
  let i = 0;
  while (performance.now() - t0 < seconds * 1000) {
    // 64 sends in flight, then wait for the last: keeps memory bounded, the loop busy.
    let last: Promise<void> = Promise.resolve();
    for (let k = 0; k < 64; k++) {
      const d = c.datagrams[i]!;
      last = new Promise<void>((r) => s.send(d.payload, () => r()));
      records += d.dataRecords;
      n++;
      if (++i === c.datagrams.length) i = 0;
    }
    await last;
  }
  const secs = (performance.now() - t0) / 1000;
  s.close();
  void streamPath;
  return { datagrams: n, recordsPerSecond: records / secs, datagramsPerSecond: n / secs };
}

async function senderCheck(stream: string): Promise<string> {
  const rows: (string | number)[][] = [];
  const top = Math.max(...opt.rates);
  const free = await sinkRun(stream, 0, 2);
  rows.push([
    'C sender, unpaced → C recvmmsg sink',
    fmtRate(free.sender.recordsPerSecond),
    fmtRate(free.sender.datagramsPerSecond),
    `${free.received}/${free.sender.datagrams}`,
    free.drops,
  ]);
  const paced = await sinkRun(stream, top, 3);
  rows.push([
    `C sender, paced at ${fmtRate(top)} → C sink`,
    fmtRate(paced.sender.recordsPerSecond),
    fmtRate(paced.sender.datagramsPerSecond),
    `${paced.received}/${paced.sender.datagrams}`,
    paced.drops,
  ]);
  // Node sender into the C sink.
  const sink = start(opt.collectorCpu, nativeTool('udp-sink'), ['0', String(opt.rcvbuf)]);
  let port = 0;
  let final = '';
  lines(sink.stdout!, (l) => {
    const j = JSON.parse(l) as { port?: number };
    if (j.port !== undefined) port = j.port;
    else final = l;
  });
  await waitFor('udp-sink', 10_000, () => port > 0);
  const n = await nodeSenderMax(stream, port, 2);
  await waitQueueEmpty(port);
  const drops = udpSocket(port)?.drops ?? NaN;
  await stop(sink);
  await waitFor('udp-sink summary', 5000, () => final !== '');
  rows.push([
    'Node dgram sender (this process, unpinned), unpaced → C sink',
    fmtRate(n.recordsPerSecond),
    fmtRate(n.datagramsPerSecond),
    `${(JSON.parse(final) as { datagrams: number }).datagrams}/${n.datagrams}`,
    drops,
  ]);
  return table(['sender', 'records/s', 'datagrams/s', 'received/sent datagrams', 'socket drops'], rows);
}

// ---- main ---------------------------------------------------------------------------------------

function machineFacts(): Record<string, string> {
  const sh = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (e) {
      return `(${(e as Error).message.split('\n')[0]})`;
    }
  };
  const rd = (p: string) => {
    try {
      return readFileSync(p, 'utf8').trim();
    } catch {
      return '?';
    }
  };
  return {
    nproc: sh('nproc', []),
    cpu: os.cpus()[0]?.model ?? '?',
    kernel: os.release(),
    'net.core.rmem_max': rd('/proc/sys/net/core/rmem_max'),
    'net.core.rmem_default': rd('/proc/sys/net/core/rmem_default'),
    node: process.version,
    nfcapd: sh('nfcapd', ['-V']),
    sfcapd: sh('sfcapd', ['-V']),
    'git HEAD': sh('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']),
    'uncommitted changes under services/ingest, packages/{flow-core,decoders,transport,common}, apps/cli':
      sh('git', [
        '-C',
        REPO,
        'status',
        '--porcelain',
        '--',
        'services/ingest',
        'packages/flow-core',
        'packages/decoders',
        'packages/transport',
        'apps/cli',
        'packages/common',
      ])
        .split('\n')
        .filter(Boolean).length + ' files',
    'load average at start': os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
  };
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: build the CLI first (npx tsc -b apps/cli)`);
  await ensureCorpus();
  const c = await loadCorpus(opt.corpus);
  const stream = c.streamPath;
  const facts = machineFacts();
  const out: string[] = [];
  const say = (s: string) => {
    out.push(s);
    process.stdout.write(`${s}\n`);
  };
  say(
    `# bench-collector: ${opt.corpus}, ${c.datagrams.length} datagrams / ${c.records} flow records per pass (${(c.records / c.datagrams.length).toFixed(1)} per datagram), looped gap-free`,
  );
  say('');
  say(table(['fact', 'value'], Object.entries(facts)));
  say('');
  say(
    `Per trial: fresh collector${opt.pin ? ` pinned to CPU ${opt.collectorCpu}${opt.haystackCpu !== opt.collectorCpu ? ` (Haystack: CPUs ${opt.haystackCpu}, ingest.workers ${opt.workers})` : ''} (sender on CPU ${opt.senderCpu})` : ''}, ${opt.sources} exporter${opt.sources > 1 ? 's' : ''} (source addresses)${opt.nice ? `, collector and sender at niceness ${opt.nice} in their own sessions (autogroup nice ${opt.nice})` : ''}, warm-up ${opt.warmup} s at ${fmtRate(opt.warmupRate)} records/s, then ${opt.duration} s at the trial rate; receive buffer requested ${opt.rcvbuf} B; ${opt.reps} repetitions; loss-free = loss ≤ ${(opt.tolerance * 100).toFixed(3)}% in the median repetition; nfcapd writes to ${opt.nfcapdDir}.`,
  );
  say('');
  nativeTool('udp-sender');
  nativeTool('udp-sink');
  if (opt.senderCheck) {
    say('## Sender alone');
    say('');
    say(await senderCheck(stream));
    say('');
  }
  const trials: Trial[] = [];
  say('## Trials');
  say('');
  const head = [
    'collector',
    'rate',
    'rep',
    'sent',
    'stored',
    'lost',
    'loss %',
    'socket drops',
    'rcvbuf',
    'sent rate',
    'collector CPU %',
    'peak queue',
    'check',
  ];
  say(table(head, []));
  for (let rep = 1; rep <= opt.reps; rep++) {
    for (const rate of opt.rates) {
      // Alternate which collector goes first, so neither always follows the other.
      const order = rep % 2 ? opt.collectors : [...opt.collectors].reverse();
      for (const name of order) {
        const t = await trial(name, stream, rate, rep);
        trials.push(t);
        let check = !isNfdump(name)
          ? `decoded ${t.check}, seq-lost ${t.notes.sequenceLost}, backpressure ${t.notes.backpressureDropped}`
          : `own count ${t.check}, seq errors ${t.notes.sequenceErrors}`;
        if (t.notes.firstDropAtS === t.notes.firstDropAtS) check += `, first drop at ${t.notes.firstDropAtS!.toFixed(2)} s`;
        if (t.notes.loopDelayMaxMs !== undefined)
          check += `, loop delay p99.9/max ${t.notes.loopDelayP999Ms}/${t.notes.loopDelayMaxMs} ms, GC max ${t.notes.gcMaxMs} ms, stalls>15ms ${t.notes.stalls}`;
        const peak = `${Math.round((t.notes.maxQueueBytes! / t.rcvbuf) * 100)}%`;
        say(
          `| ${[name, fmtRate(rate), rep, t.sent, t.stored, t.lost, t.lossPct.toFixed(4), t.socketDrops, t.rcvbuf, fmtRate(t.measured.recordsPerSecond), t.cpuPct.toFixed(0), peak, check].join(' | ')} |`,
        );
      }
    }
  }
  say('');
  say('## Summary (median over repetitions)');
  say('');
  const lossFree = new Map<CollectorName, number>();
  const rows: (string | number)[][] = [];
  const ok = new Map<string, boolean>();
  for (const rate of opt.rates) {
    const row: (string | number)[] = [fmtRate(rate)];
    for (const name of opt.collectors) {
      const ts = trials.filter((t) => t.collector === name && t.rate === rate);
      const loss = median(ts.map((t) => t.lossPct));
      const free = loss <= opt.tolerance * 100;
      ok.set(`${name}|${rate}`, free);
      const clean = ts.filter((t) => t.lossPct <= opt.tolerance * 100).length;
      row.push(
        `${loss.toFixed(4)}%`,
        ts.map((t) => t.lost).join(' / '),
        `${median(ts.map((t) => t.cpuPct)).toFixed(0)}%`,
        `${free ? 'yes' : 'no'} (${clean}/${ts.length})`,
      );
    }
    rows.push(row);
  }
  say(
    table(['rate (records/s)', ...opt.collectors.flatMap((n) => [`${n} loss (median)`, `${n} lost per rep`, `${n} CPU`, `${n} loss-free (clean reps)`])], rows),
  );
  for (const name of opt.collectors) {
    let best = 0;
    for (const rate of [...opt.rates].sort((a, b) => a - b)) {
      if (!ok.get(`${name}|${rate}`)) break;
      best = rate;
    }
    lossFree.set(name, best);
  }
  say('');
  for (const name of opt.collectors)
    say(`- highest loss-free rate, ${name}: ${lossFree.get(name) ? fmtRate(lossFree.get(name)!) : 'none of the tested rates'} records/s`);
  for (const peer of ['nfcapd', 'sfcapd'] as const)
    for (const h of ['haystack', 'haystack-dgram'] as const)
      if (lossFree.has(h) && lossFree.has(peer) && lossFree.get(peer)! > 0)
        say(`- ratio ${h} / ${peer}: ${(lossFree.get(h)! / lossFree.get(peer)!).toFixed(2)}`);
  say('');
  for (const e of entries) say(`- ran ${e}`);
  mkdirSync(CACHE_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const json = join(CACHE_DIR, `bench-collector-${stamp}.json`);
  writeFileSync(json, JSON.stringify({ opt, facts, entries: [...entries], trials, lossFree: Object.fromEntries(lossFree) }, null, 2));
  writeFileSync(join(CACHE_DIR, `bench-collector-${stamp}.md`), `${out.join('\n')}\n`);
  say('');
  say(`raw results: ${json}`);
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(killAll);
