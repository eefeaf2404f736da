// Runs real flow exporters (softflowd, pmacctd's nfprobe plugin) over a pcap and records what
// they export: datagrams arrive on our own UDP socket on 127.0.0.1 and are written to a
// capture pcap with the exporter's source address/port, as a tcpdump on lo would show them.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter } from '@haystack/pcap';

export interface ExporterRun {
  /**
   * pcap (Ethernet) of the exported datagrams, exporter → 127.0.0.1:collectorPort, frame times
   * = arrival times. Unless `capturePath` was given, it lies in a new temporary directory that
   * the caller removes.
   */
  capturePath: string;
  /** Datagrams received (and written to capturePath). */
  datagrams: number;
  /** Port our collector socket listened on: pass it to tsharkDecode. */
  collectorPort: number;
  /** The exporter's stdout + stderr, for diagnostics (softflowd prints its statistics here). */
  output: string;
}

export interface RunCommonOptions {
  /** Traffic to export (any pcap the exporter's libpcap reads). */
  pcap: string;
  version: 9 | 10;
  /** Where to write the capture (default: a new temporary directory). */
  capturePath?: string;
  /** Give up after this long (default 60 s): SIGTERM to the exporter's process group, SIGKILL 3 s later, reject. */
  timeoutMs?: number;
  /** Program to run instead of the one on PATH. */
  binary?: string;
  /** Called with the exporter's pid once it is started (it leads its own process group). */
  onSpawn?: (pid: number) => void;
}

export interface SoftflowdOptions extends RunCommonOptions {
  /** softflowd -s N: periodic 1-in-N packet sampling (packets 1, N+1, 2N+1, ... of the file). */
  sampling?: number;
  /**
   * softflowd -a (default true): take "now" from the pcap's packet times instead of the wall
   * clock. Without it the exporter's boot time is the wall clock at start while flow times come
   * from the pcap, so v9 FIRST/LAST_SWITCHED and IPFIX flowStart/EndSysUpTime wrap around and
   * cannot be turned back into the packets' times.
   */
  adjustTime?: boolean;
  /** Extra softflowd arguments (e.g. ['-A', 'milli'] or ['-t', 'maxlife=60']). */
  extraArgs?: string[];
}

export interface PmacctdOptions extends RunCommonOptions {
  /** pmacct sampling_rate: N (random 1-out-of-N, announced in an options template). */
  samplingRate?: number;
  /** nfprobe aggregation primitives (default adds tcpflags to pmacct's default set). */
  aggregate?: string;
  /** nfprobe_engine: v9 source id / IPFIX observation domain id. */
  engine?: number;
  /** Extra config lines, `key: value`. */
  extraConfig?: Record<string, string | number | boolean>;
}

const DEFAULT_TIMEOUT = 60_000;

/**
 * Runs softflowd over `pcap` (`softflowd -d -r pcap -n 127.0.0.1:PORT -v 9|10 [-s N]`) and
 * captures its export. softflowd flushes every flow at end of file and exits by itself.
 */
export async function runSoftflowd(opts: SoftflowdOptions): Promise<ExporterRun> {
  const dir = await mkdtemp(join(tmpdir(), 'haystack-softflowd-'));
  try {
    return await collectWhile(opts, 'softflowd', async (port) => {
      // -d keeps it in the foreground so we know when it is done; -p keeps its pid file out of
      // /var/run (parallel runs would fight over it). No -c: with -r it is not wanted.
      const args = ['-d', '-r', opts.pcap, '-n', `127.0.0.1:${port}`, '-v', String(opts.version), '-p', join(dir, 'softflowd.pid')];
      if (opts.adjustTime !== false) args.push('-a');
      if (opts.sampling !== undefined) args.push('-s', String(opts.sampling));
      if (opts.extraArgs) args.push(...opts.extraArgs);
      return { cmd: opts.binary ?? 'softflowd', args, apt: 'softflowd' };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs pmacctd with the nfprobe plugin over `pcap` (generated config: pcap_savefile, nfprobe
 * receiver/version, sampling_rate) and captures its export. pmacctd exits at end of file and its
 * nfprobe plugin flushes every cached flow on the way out.
 */
export async function runPmacctd(opts: PmacctdOptions): Promise<ExporterRun> {
  return runPmacctdPlugin(opts, 'nfprobe', (port) => {
    const conf: PmacctConf = {
      nfprobe_receiver: `127.0.0.1:${port}`,
      nfprobe_version: opts.version,
      // pmacct's nfprobe default omits TCP flags; tests want them.
      aggregate: opts.aggregate ?? 'src_host, dst_host, src_port, dst_port, proto, tos, tcpflags',
    };
    if (opts.samplingRate !== undefined) conf['sampling_rate'] = opts.samplingRate;
    if (opts.engine !== undefined) conf['nfprobe_engine'] = opts.engine;
    return Object.assign(conf, opts.extraConfig);
  });
}

type PmacctConf = Record<string, string | number | boolean>;

/**
 * pmacctd over `opts.pcap` with one export plugin (generated config: pcap_savefile, the plugin's
 * keys). At end of file the plugin flushes, exports and exits; when the core notices the plugin
 * gone before its own shutdown path, it exits 1 ("no more plugins active") though everything was
 * exported. Tests then check the exported counts.
 */
async function runPmacctdPlugin(
  opts: Omit<RunCommonOptions, 'version'> & { version?: number },
  plugin: 'nfprobe' | 'sfprobe',
  keys: (port: number) => PmacctConf,
): Promise<ExporterRun> {
  const dir = await mkdtemp(join(tmpdir(), `haystack-${plugin}-`));
  try {
    return await collectWhile(opts, 'pmacctd', async (port) => {
      const conf: PmacctConf = { daemonize: false, pidfile: join(dir, 'pmacctd.pid'), pcap_savefile: opts.pcap, plugins: plugin, ...keys(port) };
      const path = join(dir, 'pmacctd.conf');
      await writeFile(
        path,
        Object.entries(conf)
          .map(([k, v]) => `${k}: ${v}\n`)
          .join(''),
      );
      const done = new RegExp(`${plugin} \\): Shutting down on user request`);
      return {
        cmd: opts.binary ?? 'pmacctd',
        args: ['-f', path],
        apt: 'pmacct',
        cleanExit: (code, out) => code === 1 && done.test(out) && /no more plugins active\. Shutting down/.test(out),
      };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface SfprobeOptions extends Omit<RunCommonOptions, 'version'> {
  /** sampling_rate: N (pmacct's sfprobe samples 1-out-of-N and says N in every flow sample). */
  samplingRate?: number;
  /** Agent address written in the datagrams (sfprobe_agentip). */
  agentIp?: string;
  /** Sub-agent id (sfprobe_agentsubid). */
  subAgent?: number;
}

/**
 * Runs pmacctd with the sfprobe plugin over `pcap`: sFlow v5 flow samples (raw packet headers)
 * and counter samples, as a switch agent exports them, captured like the NetFlow exporters'.
 */
export async function runSfprobe(opts: SfprobeOptions): Promise<ExporterRun> {
  return runPmacctdPlugin(opts, 'sfprobe', (port) => ({
    sfprobe_receiver: `127.0.0.1:${port}`,
    sfprobe_agentip: opts.agentIp ?? '192.0.2.1',
    sfprobe_agentsubid: opts.subAgent ?? 0,
    sampling_rate: opts.samplingRate ?? 1,
  }));
}

interface Command {
  cmd: string;
  args: string[];
  /** Debian package that provides the command, for the error message. */
  apt: string;
  /** A non-zero exit that still means a complete run (judged from the output). */
  cleanExit?: (code: number, output: string) => boolean;
}

/**
 * Binds a collector socket, runs the command built by `build(port)`, writes every datagram to
 * the capture, and resolves once the exporter has exited and every datagram it sent is read.
 */
async function collectWhile(
  opts: Omit<RunCommonOptions, 'version'> & { version?: number },
  name: string,
  build: (port: number) => Promise<Command>,
): Promise<ExporterRun> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT;
  let capturePath = opts.capturePath;
  let ownDir: string | undefined;
  if (!capturePath) {
    ownDir = await mkdtemp(join(tmpdir(), `haystack-${name}-capture-`));
    capturePath = join(ownDir, `${name}${opts.version ? `-v${opts.version}` : ''}.pcap`);
  }
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
  const sentinelSock = dgram.createSocket('udp4');
  const writer = await PcapWriter.create(capturePath);
  let datagrams = 0;
  let writeError: unknown;
  const token = randomBytes(16);
  let sentinelPort = -1;
  let onSentinel: (() => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, '127.0.0.1', () => {
        sock.off('error', reject);
        resolve();
      });
    });
    // A socket error after binding must not become an uncaught 'error' event.
    sock.on('error', (e) => (writeError ??= e));
    await new Promise<void>((resolve) => sentinelSock.bind(0, '127.0.0.1', resolve));
    sentinelPort = sentinelSock.address().port;
    const port = sock.address().port;
    sock.on('message', (msg, rinfo) => {
      if (rinfo.port === sentinelPort && msg.equals(token)) {
        onSentinel?.();
        return;
      }
      datagrams++;
      writer
        .writeUdp({ tsMs: performance.timeOrigin + performance.now(), src: rinfo.address, srcPort: rinfo.port, dst: '127.0.0.1', dstPort: port, payload: msg })
        .catch((e: unknown) => (writeError ??= e));
    });

    const command = await build(port);
    const output = await runToExit(command, timeoutMs, name, opts.onSpawn);

    // Loopback delivers datagrams to a socket in send order, and the exporter has exited, so
    // once our own sentinel (sent now) arrives, everything the exporter sent has been read.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: collector did not drain within ${timeoutMs} ms`)), timeoutMs);
      onSentinel = () => {
        clearTimeout(timer);
        resolve();
      };
      sentinelSock.send(token, port, '127.0.0.1');
    });
    await writer.close();
    if (writeError) throw writeError;
    return { capturePath, datagrams, collectorPort: port, output };
  } catch (e) {
    await writer.close().catch(() => {});
    if (ownDir) await rm(ownDir, { recursive: true, force: true });
    throw e;
  } finally {
    sock.close();
    sentinelSock.close();
  }
}

/** Runs a command to completion; rejects on a missing binary, a non-zero exit or a timeout. */
function runToExit(c: Command, timeoutMs: number, name: string, onSpawn?: (pid: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    // Own process group, so a timeout also ends the children pmacctd forks for its plugins.
    const child = spawn(c.cmd, c.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (child.pid !== undefined) onSpawn?.(child.pid);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      // SIGTERM first: pmacctd then stops and reaps its plugin children itself. Children
      // orphaned by a SIGKILL would stay zombies where PID 1 does not reap (containers).
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), 3000);
    }, timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      if (e.code === 'ENOENT') reject(new Error(`${name}: '${c.cmd}' not found on PATH (Debian package '${c.apt}')`));
      else reject(new Error(`${name}: could not start '${c.cmd}': ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      if (timedOut) reject(new Error(`${name}: no exit within ${timeoutMs} ms; killed. Output:\n${out}`));
      else if (code !== 0 && !(code !== null && c.cleanExit?.(code, out)))
        reject(new Error(`${name}: exited with ${code ?? signal}. Command: ${c.cmd} ${c.args.join(' ')}\nOutput:\n${out}`));
      else resolve(out);
    });
  });
}
