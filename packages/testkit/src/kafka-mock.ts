import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type logCreator } from 'kafkajs';

/**
 * librdkafka's mock cluster (Debian: librdkafka-dev) behind a tiny C launcher
 * (../native/kafka-mock.c): the real Kafka wire protocol on 127.0.0.1 for tests.
 * Known gaps (see CONTRIBUTING.md, "Real components in tests"): topics must be created here (CreateTopics is rejected),
 * idempotent producers fail, ~5 MiB retained per partition, an idle fetch waits the full
 * maxWaitTimeInMs and a rebalance waits about sessionTimeout − 1 s.
 */
export interface KafkaMockTopic {
  name: string;
  partitions: number;
}

export interface KafkaMockOptions {
  /** Number of brokers (ids 1..n), default 1. */
  brokers?: number;
  topics: KafkaMockTopic[];
  /** How long to wait for the cluster to print its bootstrap servers, default 15 s. */
  startTimeoutMs?: number;
}

export interface KafkaMock {
  /** host:port of every broker, all on 127.0.0.1. */
  readonly bootstrap: string[];
  readonly pid: number;
  /**
   * Fault injection (see native/kafka-mock.c), answered once applied:
   * `errors <apiKey> <code>[,<code>...]` makes the next requests of that type fail with those
   * Kafka error codes (Produce = 0, Fetch = 1, OffsetCommit = 8; -195 disconnects),
   * `down <brokerId|-1>` / `up <brokerId|-1>` take brokers off and back on line.
   */
  command(line: string): Promise<void>;
  /** Stop the cluster and wait for the process to exit (idempotent). */
  stop(): Promise<void>;
}

export class KafkaMockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KafkaMockError';
  }
}

const here = dirname(fileURLToPath(import.meta.url));
/** The C source ships next to dist/ in the package. */
export const KAFKA_MOCK_SOURCE = resolve(here, '..', 'native', 'kafka-mock.c');

function cacheDir(): string {
  if (process.env.HAYSTACK_TESTKIT_CACHE) return process.env.HAYSTACK_TESTKIT_CACHE;
  // The nearest node_modules up from the package (the workspace root's in this repo).
  let dir = resolve(here, '..');
  for (;;) {
    const nm = join(dir, 'node_modules');
    if (existsSync(nm)) return join(nm, '.cache', 'haystack-testkit');
    const up = dirname(dir);
    if (up === dir) return join(tmpdir(), 'haystack-testkit');
    dir = up;
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; stderr: string; error?: Error }> {
  return new Promise((res) => {
    execFile(cmd, args, { maxBuffer: 4 * 1024 * 1024 }, (err, _stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      res({ code, stderr: String(stderr), error: err ?? undefined });
    });
  });
}

let building: Promise<string> | undefined;

/**
 * Path of the compiled launcher; compiles it when missing or older than the C source.
 * Compiles to a private name and renames, so parallel test processes never run a
 * half-written binary.
 */
export function kafkaMockBinary(): Promise<string> {
  building ??= buildBinary().finally(() => {
    building = undefined;
  });
  return building;
}

async function buildBinary(): Promise<string> {
  if (!existsSync(KAFKA_MOCK_SOURCE)) throw new KafkaMockError(`kafka-mock launcher source missing: ${KAFKA_MOCK_SOURCE}`);
  const dir = cacheDir();
  const bin = join(dir, 'kafka-mock');
  const srcTime = statSync(KAFKA_MOCK_SOURCE).mtimeMs;
  if (existsSync(bin) && statSync(bin).mtimeMs >= srcTime) return bin;
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}.${Date.now()}.tmp`;
  const cc = process.env.CC || 'cc';
  const r = await run(cc, ['-O2', '-Wall', '-o', tmp, KAFKA_MOCK_SOURCE, '-lrdkafka']);
  if (r.code !== 0) {
    rmSync(tmp, { force: true });
    const missingLib = /rdkafka(_mock)?\.h|-lrdkafka|cannot find -lrdkafka/.test(r.stderr);
    const noCompiler = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
    const hint = noCompiler
      ? `no C compiler '${cc}' found (install build-essential or set CC)`
      : missingLib
        ? 'librdkafka headers/library not found: install librdkafka-dev (apt-get install librdkafka-dev)'
        : 'compiling the launcher failed';
    throw new KafkaMockError(`kafka mock: ${hint}\n${cc} stderr:\n${r.stderr.trim()}`);
  }
  renameSync(tmp, bin);
  return bin;
}

const STDERR_KEEP = 16 * 1024;

/** Start a mock cluster with the given topics. The caller must `stop()` it (t.after / finally). */
export async function startKafkaMock(opts: KafkaMockOptions): Promise<KafkaMock> {
  const brokers = opts.brokers ?? 1;
  if (!Number.isInteger(brokers) || brokers < 1 || brokers > 64) throw new KafkaMockError(`brokers must be 1..64, got ${brokers}`);
  for (const t of opts.topics) {
    if (!t.name || /[\s:]/.test(t.name) || !Number.isInteger(t.partitions) || t.partitions < 1)
      throw new KafkaMockError(`bad mock topic ${JSON.stringify(t)}: need a name without ':' or spaces and partitions >= 1`);
  }
  const bin = await kafkaMockBinary();
  const args = [String(brokers), ...opts.topics.map((t) => `${t.name}:${t.partitions}`)];
  // stdin stays a pipe: if this process dies, the launcher sees EOF and exits too.
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    // Keep draining (a full pipe would block librdkafka's log thread) but only the tail.
    stderr = (stderr + s).slice(-STDERR_KEEP);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    // 'close' (not 'exit'): stderr has been read to the end by then.
    child.once('close', (code, signal) => res({ code, signal }));
  });
  child.on('error', (e) => {
    // Spawn/kill failures: readBootstrap reports them while starting; later ones go to the stderr tail.
    stderr = (stderr + `\n[spawn] ${e.message}`).slice(-STDERR_KEEP);
  });
  child.stdin!.on('error', () => {
    /* EPIPE when the launcher already exited: reported through `exited` */
  });

  const lines = new LineReader(child);
  let bootstrap: string[];
  try {
    bootstrap = await readBootstrap(lines, child, exited, opts.startTimeoutMs ?? 15_000, () => stderr);
  } catch (e) {
    await kill(child, exited);
    throw e;
  }

  let stopping: Promise<void> | undefined;
  let commands = Promise.resolve();
  return {
    bootstrap,
    pid: child.pid!,
    command(line: string) {
      if (/[\r\n]/.test(line)) return Promise.reject(new KafkaMockError('a mock command is one line'));
      // One command at a time: answers come back in order on stdout.
      const run = commands.then(async () => {
        if (stopping || child.exitCode !== null) throw new KafkaMockError('kafka mock is stopped');
        const answer = lines.next();
        child.stdin!.write(line + '\n');
        const reply = await answer;
        if (reply !== 'ok') throw new KafkaMockError(`kafka mock command '${line}' failed: ${reply}`);
      });
      commands = run.catch(() => undefined);
      return run;
    },
    stop() {
      stopping ??= kill(child, exited).then(() => lines.close());
      return stopping;
    },
  };
}

/** Lines of the launcher's stdout, handed to whoever asked first. */
class LineReader {
  private buf = '';
  private queued: string[] = [];
  private waiting: { resolve: (s: string) => void; reject: (e: Error) => void }[] = [];
  private ended = false;

  constructor(child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => {
      this.buf += s;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiting.shift();
        if (w) w.resolve(line);
        else this.queued.push(line);
      }
    });
    child.stdout!.on('end', () => this.close());
  }

  next(): Promise<string> {
    const line = this.queued.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.reject(new KafkaMockError('kafka mock closed its output'));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  close(): void {
    this.ended = true;
    for (const w of this.waiting.splice(0)) w.reject(new KafkaMockError('kafka mock closed its output'));
  }
}

function readBootstrap(
  lines: LineReader,
  child: ChildProcess,
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  timeoutMs: number,
  stderr: () => string,
): Promise<string[]> {
  return new Promise((res, rej) => {
    let done = false;
    const finish = (err: Error | null, value?: string[]) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) rej(err);
      else res(value!);
    };
    const timer = setTimeout(
      () => finish(new KafkaMockError(`kafka mock did not print its bootstrap servers within ${timeoutMs} ms; stderr:\n${stderr()}`)),
      timeoutMs,
    );
    lines.next().then(
      (line) => {
        const servers = line.split(',').filter(Boolean);
        if (servers.length === 0 || !servers.every((s) => /^[^:\s]+:\d+$/.test(s)))
          finish(new KafkaMockError(`kafka mock printed an unexpected line ${JSON.stringify(line)}; stderr:\n${stderr()}`));
        else finish(null, servers);
      },
      () => undefined, // the exit handler below reports it with stderr
    );
    child.once('error', (e) => finish(new KafkaMockError(`cannot start kafka mock: ${e.message}`)));
    void exited.then(({ code, signal }) =>
      finish(new KafkaMockError(`kafka mock exited before it was ready (code ${code}, signal ${signal}); stderr:\n${stderr()}`)),
    );
  });
}

async function kill(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // Closing stdin is the launcher's normal stop signal; SIGTERM covers a stuck read.
  child.stdin!.end();
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<void>((res) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      res();
    }, 5_000);
  });
  await Promise.race([exited, forced]);
  clearTimeout(timer);
  await exited;
}

/**
 * Timings that make kafkajs consumers practical against the mock: an idle fetch blocks
 * for the whole maxWaitTimeInMs and a rebalance waits about sessionTimeout − 1 s.
 */
export const MOCK_CONSUMER_TIMINGS = {
  sessionTimeout: 6_000,
  heartbeatInterval: 500,
  rebalanceTimeout: 6_000,
  maxWaitTimeInMs: 100,
} as const;

/** kafkajs log entries as plain lines, for tests that want to see them (HAYSTACK_TEST_KAFKA_LOG=1). */
const stderrLogCreator: logCreator = () => (entry: LogEntry) => {
  const { message, ...rest } = entry.log as { message: string } & Record<string, unknown>;
  process.stderr.write(`[kafkajs ${entry.label} ${entry.namespace}] ${message} ${JSON.stringify(rest)}\n`);
};

/** A kafkajs client for a mock cluster: quiet unless HAYSTACK_TEST_KAFKA_LOG is set, short retries. */
export function mockKafkaClient(mock: Pick<KafkaMock, 'bootstrap'>, overrides: Partial<KafkaConfig> = {}): Kafka {
  const verbose = !!process.env.HAYSTACK_TEST_KAFKA_LOG;
  return new Kafka({
    clientId: 'haystack-test',
    brokers: mock.bootstrap,
    logLevel: verbose ? logLevel.INFO : logLevel.NOTHING,
    logCreator: stderrLogCreator,
    connectionTimeout: 3_000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1_000 },
    ...overrides,
  });
}

/** Committed offset of every partition of `topic` for `groupId` (-1: none), in partition order. */
export async function committedOffsets(mock: Pick<KafkaMock, 'bootstrap'>, groupId: string, topic: string): Promise<number[]> {
  const admin = mockKafkaClient(mock).admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return t!.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
  } finally {
    await admin.disconnect();
  }
}
