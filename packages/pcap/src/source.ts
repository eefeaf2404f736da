// The bytes of a capture file, decompressed when it is gzip, xz, zstd or bzip2 (operators
// archive and share exports compressed). gzip is read with zlib; the others with zlib when this
// Node has it (zstd from Node 22.15), else the system's own tool (Debian: xz-utils, zstd, bzip2).
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import { PcapFormatError } from './errors.js';

export type Compression = 'gzip' | 'xz' | 'zstd' | 'bzip2';

const MAGIC: [Compression, number[]][] = [
  ['gzip', [0x1f, 0x8b]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['bzip2', [0x42, 0x5a, 0x68]],
];

const TOOL: Record<Exclude<Compression, 'gzip'>, { cmd: string; pkg: string }> = {
  xz: { cmd: 'xz', pkg: 'xz-utils' },
  zstd: { cmd: 'zstd', pkg: 'zstd' },
  bzip2: { cmd: 'bzip2', pkg: 'bzip2' },
};

export function sniffCompression(head: Uint8Array): Compression | null {
  for (const [kind, m] of MAGIC) if (m.every((b, i) => head[i] === b)) return kind;
  return null;
}

export async function fileCompression(path: string): Promise<Compression | null> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(6);
    await fh.read(head, 0, 6, 0);
    return sniffCompression(head);
  } finally {
    await fh.close();
  }
}

/** The capture's (decompressed) bytes in chunks; each chunk is a fresh buffer (views into it stay valid). */
export async function* captureChunks(path: string, chunkSize: number): AsyncGenerator<Buffer> {
  const kind = await fileCompression(path);
  if (kind === null) {
    for await (const c of createReadStream(path, { highWaterMark: chunkSize })) yield c as Buffer;
    return;
  }
  const zstd = (zlib as { createZstdDecompress?: () => NodeJS.ReadWriteStream }).createZstdDecompress;
  const inflate = kind === 'gzip' ? zlib.createGunzip() : kind === 'zstd' && zstd ? zstd() : null;
  if (inflate) {
    const stream = createReadStream(path).pipe(inflate);
    try {
      for await (const c of stream) yield c as Buffer;
    } catch (e) {
      throw new PcapFormatError(`${path}: ${kind} data is corrupt: ${(e as Error).message}`);
    }
    return;
  }
  yield* viaTool(path, kind as Exclude<Compression, 'gzip'>);
}

async function* viaTool(path: string, kind: Exclude<Compression, 'gzip'>): AsyncGenerator<Buffer> {
  const { cmd, pkg } = TOOL[kind];
  const child = spawn(cmd, ['-dc', '--', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-500)));
  const exited = new Promise<{ code: number | null; error?: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  try {
    for await (const c of child.stdout) yield c as Buffer;
    const r = await exited;
    if (r.error?.code === 'ENOENT')
      throw new PcapFormatError(
        `${path} is ${kind}-compressed and the ${cmd} tool is not installed (Debian package ${pkg}); install it or decompress the file first`,
      );
    if (r.error) throw r.error;
    if (r.code !== 0) throw new PcapFormatError(`${path}: ${cmd} could not decompress it (exit ${r.code}): ${stderr.trim()}`);
  } finally {
    if (child.exitCode === null) child.kill();
  }
}
