import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';

/**
 * A real Debian `redis-server` for tests: 127.0.0.1 only, an ephemeral port, no persistence
 * (`--save '' --appendonly no`), in the foreground so the test owns the process and
 * `stop()` ends it. Started in ~50 ms on this machine (CONTRIBUTING.md, "Real components in tests").
 */
export interface RedisServer {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Stop the server and wait for it to exit (idempotent). */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Executable, default `redis-server` from PATH. */
  binary?: string;
  /** How long to wait until the server accepts connections, default 10 s. */
  startTimeoutMs?: number;
}

export class RedisServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisServerError';
  }
}

/** Servers still running: killed if the test process exits without stopping them (e.g. a crash). */
const live = new Set<ChildProcess>();
let hooked = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/** Ask the kernel for a free port; redis-server cannot bind port 0 and report it back. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

async function startOnce(binary: string, timeoutMs: number): Promise<RedisServer | 'port-taken'> {
  const port = await freePort();
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  track(child);
  let output = '';
  const keep = (b: Buffer) => {
    // Bounded: only the tail matters for an error message.
    output = (output + b.toString('utf8')).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  let spawnError: Error | null = null;
  child.once('error', (e) => {
    spawnError = e;
  });

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError) throw new RedisServerError(`cannot start ${binary}: ${(spawnError as Error).message}`);
    if (exited) {
      if (/Address already in use/i.test(output)) return 'port-taken';
      throw new RedisServerError(`${binary} exited (${JSON.stringify(exited)}) before accepting connections:\n${output}`);
    }
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exitPromise;
      throw new RedisServerError(`${binary} did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }

  let stopping: Promise<void> | null = null;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    stop() {
      stopping ??= (async () => {
        if (exited) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exitPromise;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/**
 * Start `redis-server --port P --bind 127.0.0.1 --save '' --appendonly no --daemonize no`.
 * Retries with another port if the one picked was taken between probing and binding.
 */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const binary = opts.binary ?? 'redis-server';
  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = await startOnce(binary, timeoutMs);
    if (r !== 'port-taken') return r;
  }
  throw new RedisServerError(`${binary}: no free port after 5 attempts`);
}
