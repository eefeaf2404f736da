// Real nfdump collectors (nfcapd for NetFlow/IPFIX, sfcapd for sFlow) receiving exports, and
// nfdump's own reading of the archives they write: the reference for our archive reader.
import { spawn, execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readUdp } from '@haystack/pcap';

export type NfcapdCompression = 'none' | 'lzo' | 'lz4' | 'bz2';
const FLAG: Record<NfcapdCompression, string[]> = { none: [], lzo: ['-z'], lz4: ['-y'], bz2: ['-j'] };

export interface NfcapdOptions {
  /** A capture of exports (what softflowd / pmacctd sent): its UDP payloads are sent again, in order. */
  capture: string;
  binary?: 'nfcapd' | 'sfcapd';
  compression?: NfcapdCompression;
  /** nfcapd -s: the default sampling rate it applies (and multiplies counters by). */
  samplingRate?: number;
  /** Where the archive goes (default: a new temporary directory). */
  dir?: string;
}

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Is something bound to 127.0.0.1:port (UDP)? From /proc/net/udp, no extra tools. */
async function bound(port: number): Promise<boolean> {
  const text = await readFile('/proc/net/udp', 'utf8');
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return text.split('\n').some((l) => l.trim().split(/\s+/)[1] === want);
}

/** Runs nfcapd/sfcapd on 127.0.0.1, sends it the capture's datagrams, stops it; returns the archive it wrote. */
export async function collectWithNfcapd(opts: NfcapdOptions): Promise<string> {
  const bin = opts.binary ?? 'nfcapd';
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), `haystack-${bin}-`)));
  const port = await freePort();
  const args = ['-w', dir, '-p', String(port), '-b', '127.0.0.1', '-I', 'test', ...FLAG[opts.compression ?? 'none']];
  if (opts.samplingRate) args.push('-s', String(opts.samplingRate));
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new Error(`${bin} not found (Debian: apt-get install ${bin === 'sfcapd' ? 'nfdump-sflow' : 'nfdump'})`) : e),
    );
    child.on('exit', (code) => resolve(code));
  });
  try {
    for (let i = 0; !(await bound(port)); i++) {
      if (i > 100) throw new Error(`${bin} did not bind 127.0.0.1:${port}: ${out}`);
      await sleep(50);
    }
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    let n = 0;
    for await (const d of readUdp(opts.capture)) {
      await new Promise<void>((resolve, reject) => sock.send(d.payload, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
      // Paced: nfcapd reads on one thread; a burst into its socket buffer would drop datagrams.
      if (++n % 20 === 0) await sleep(2);
    }
    sock.close();
    await sleep(300);
  } finally {
    child.kill('SIGTERM');
  }
  const code = await exited;
  if (code !== 0) throw new Error(`${bin} exited ${code}: ${out}`);
  const files = (await readdir(dir)).filter((f) => /^nfcapd\.\d{12}$/.test(f)).sort();
  if (files.length !== 1) throw new Error(`${bin} wrote ${files.length} archives in ${dir}: ${out}`);
  return join(dir, files[0]!);
}

/** `nfdump -r FILE -o json` (times in UTC): the records as nfdump reads them, in file order. */
export async function nfdumpJson(file: string): Promise<Record<string, string | number>[]> {
  const text = await new Promise<string>((resolve, reject) =>
    execFile('nfdump', ['-r', file, '-o', 'json'], { maxBuffer: 1 << 30, env: { ...process.env, TZ: 'UTC' } }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  );
  const t = text.trim();
  return t === '' ? [] : (JSON.parse(t.startsWith('[') ? t : `[${t}]`) as Record<string, string | number>[]);
}
