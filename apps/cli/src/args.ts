// Argument parsers and input checks shared by the commands: every everyday mistake is caught
// before any work starts and reported in one line naming the thing (exit 2).
import { accessSync, closeSync, constants, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { UserError } from './runtime.js';

export const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('not a positive integer.');
  return n;
};

export const nonNegativeInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('not a non-negative integer.');
  return n;
};

/** A port number (0 = any free port). */
export const port = (v: string): number => {
  const n = nonNegativeInt(v);
  if (n > 65535) throw new InvalidArgumentError('not a port number (0-65535).');
  return n;
};

export const intList = (v: string): number[] => v.split(',').map(nonNegativeInt);

/** A UTC calendar day written YYYY-MM-DD that exists. */
export function day(v: string): string {
  const t = /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00Z`) : NaN;
  if (!Number.isFinite(t) || new Date(t).toISOString().slice(0, 10) !== v) throw new InvalidArgumentError('not a day (YYYY-MM-DD, UTC).');
  return v;
}

export const share = (v: string): number => {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('not a share between 0 and 1.');
  return n;
};

/** For variadic options given several times: `--pdns a b --pdns c`. */
export const collectMany = (v: string, prev: string[]): string[] => [...prev, v];

/** An existing, non-empty regular file. */
export function inputFile(path: string, what: string): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UserError(`${what} ${path}: no such file`, 2);
  }
  if (st.isDirectory()) throw new UserError(`${what} ${path} is a directory, not a file`, 2);
  if (!st.isFile()) throw new UserError(`${what} ${path} is not a regular file`, 2);
  if (st.size === 0) throw new UserError(`${what} ${path} is empty`, 2);
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new UserError(`${what} ${path} cannot be read (permissions)`, 2);
  }
}

/** An existing directory to read from (a dictionary, ...). */
export function inputDir(path: string, what: string): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UserError(`${what} ${path}: no such directory`, 2);
  }
  if (!st.isDirectory()) throw new UserError(`${what} ${path} is not a directory`, 2);
}

const CAPTURE_MAGIC: [string, number[]][] = [
  ['pcap', [0xa1, 0xb2, 0xc3, 0xd4]],
  ['pcap', [0xd4, 0xc3, 0xb2, 0xa1]],
  ['pcap', [0xa1, 0xb2, 0x3c, 0x4d]],
  ['pcap', [0x4d, 0x3c, 0xb2, 0xa1]],
  ['pcapng', [0x0a, 0x0d, 0x0d, 0x0a]],
  ['gzip', [0x1f, 0x8b]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['bzip2', [0x42, 0x5a, 0x68]],
];

/** A pcap/pcapng capture (possibly gzip, xz, zstd or bzip2 compressed): checked by its first bytes. */
/** A capture (pcap/pcapng, maybe compressed), or with `archives` also an nfdump archive (nfcapd/sfcapd files). */
export function captureFile(path: string, archives = false): void {
  inputFile(path, 'capture');
  const head = Buffer.alloc(6);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 6, 0);
  } finally {
    closeSync(fd);
  }
  if (archives && head[0] === 0x0c && head[1] === 0xa5) return; // nfdump archive magic 0xA50C (little-endian)
  if (!CAPTURE_MAGIC.some(([, m]) => m.every((b, i) => head[i] === b)))
    throw new UserError(
      `capture ${path} is not a pcap or pcapng file (nor a compressed one${archives ? ', nor an nfdump archive' : ''}): it starts with ${head.toString('hex')}`,
      2,
    );
}

/** A directory that can be created and written to. */
export function writableDir(path: string, what: string): void {
  try {
    mkdirSync(path, { recursive: true });
    accessSync(path, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(
      `${what} ${path} cannot be written${code === 'ENOTDIR' || code === 'EEXIST' ? ' (a file is in the way)' : code === 'EACCES' || code === 'EROFS' ? ' (permissions)' : ''}`,
      2,
    );
  }
}

export interface ListenOptions {
  netflowPort?: number;
  ipfixPort?: number;
  sflowPort?: number;
  bind?: string;
}

/** The collector's socket options, shared by `ingest` and `run`. */
export function listenOptions(cmd: Command): Command {
  return cmd
    .option('--netflow-port <port>', 'UDP port for NetFlow (default from config: 2055)', port)
    .option('--ipfix-port <port>', 'UDP port for IPFIX (default from config: 4739)', port)
    .option('--sflow-port <port>', 'UDP port for sFlow v5 (default from config: 6343)', port)
    .option('--bind <address>', 'address to bind (default from config: 0.0.0.0)');
}

/** Those options as configuration overrides (flags beat file and environment). */
export function listenOverrides(o: ListenOptions): Record<string, unknown> {
  return {
    ingest: {
      ...(o.netflowPort !== undefined && { netflowPort: o.netflowPort }),
      ...(o.ipfixPort !== undefined && { ipfixPort: o.ipfixPort }),
      ...(o.sflowPort !== undefined && { sflowPort: o.sflowPort }),
      ...(o.bind && { bind: o.bind }),
    },
  };
}
