import { spawn } from 'node:child_process';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BLOCK_HEADER_SIZE,
  FILE_HEADER_SIZE,
  MAX_BLOCK,
  NfdumpCompressionError,
  NfdumpFormatError,
  decompressBlock,
  isNfdumpFile,
  parseFileHeader,
  type CompressionName,
  type NfdumpFileHeader,
} from '@haystack/decoders';

/** Data block type that holds records in nfdump 1.7 archives. */
const DATA_BLOCK = 3;

export interface ArchiveBlock {
  data: Buffer;
  numRecords: number;
}

export interface ArchiveStats {
  format: 'nfdump';
  compression: CompressionName;
  /** The archive was LZO-compressed and converted with the system's nfdump first. */
  convertedWith: 'nfdump' | null;
  /** nfcapd had not closed it (nfcapd.current.*): read up to its last whole block. */
  openFile: boolean;
  blocks: number;
  /** Blocks that could not be decompressed (their records are lost; the others are read). */
  corruptBlocks: number;
  /** The file ends inside a block. */
  truncated: boolean;
}

/** Stats of an archive before reading it (readArchive fills them in). */
export function newArchiveStats(): ArchiveStats {
  return { format: 'nfdump', compression: 'none', convertedWith: null, openFile: false, blocks: 0, corruptBlocks: 0, truncated: false };
}

/** Is `file` an nfdump archive (rather than a capture)? */
export async function isArchive(file: string): Promise<boolean> {
  const fd = await open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fd.read(head, 0, 4, 0);
    return bytesRead === 4 && isNfdumpFile(head);
  } finally {
    await fd.close();
  }
}

/** The user-facing failure for an archive we cannot read (named, no stack). */
export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

/**
 * The data blocks of an nfdump archive, decompressed, in file order. LZO (nfcapd -z) has no
 * maintained JavaScript decoder: such a file is first converted by the system's nfdump
 * (`nfdump -r FILE -w COPY` writes an uncompressed copy in a temporary directory); without
 * nfdump, a clear error names the compression and what to do.
 */
export async function* readArchive(file: string, stats: ArchiveStats): AsyncGenerator<ArchiveBlock> {
  let path = file;
  let tmp: string | null = null;
  try {
    let header = await readHeader(file);
    if (header.compression === 'LZO') {
      tmp = await mkdtemp(join(tmpdir(), 'haystack-nfdump-'));
      path = join(tmp, 'uncompressed.nfcapd');
      await convertWithNfdump(file, path);
      stats.convertedWith = 'nfdump';
      header = await readHeader(path);
    }
    stats.compression = header.compression;
    stats.openFile = header.open;
    const fd = await open(path, 'r');
    try {
      yield* blocks(fd, header, stats);
    } finally {
      await fd.close();
    }
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}

async function readHeader(file: string): Promise<NfdumpFileHeader> {
  const fd = await open(file, 'r');
  try {
    const b = Buffer.alloc(FILE_HEADER_SIZE);
    const { bytesRead } = await fd.read(b, 0, FILE_HEADER_SIZE, 0);
    if (bytesRead < FILE_HEADER_SIZE) throw new ArchiveError(`nfdump archive ${file} is shorter than its header`);
    return parseFileHeader(b);
  } catch (e) {
    if (e instanceof NfdumpFormatError) throw new ArchiveError(`${file}: ${e.message}`);
    throw e;
  } finally {
    await fd.close();
  }
}

async function* blocks(fd: FileHandle, h: NfdumpFileHeader, stats: ArchiveStats): AsyncGenerator<ArchiveBlock> {
  const size = (await fd.stat()).size;
  // Data blocks run from the header to the appendix (or the end of a file still being written).
  const stop = h.offAppendix > FILE_HEADER_SIZE && h.offAppendix <= size ? h.offAppendix : size;
  const head = Buffer.alloc(BLOCK_HEADER_SIZE);
  let pos = FILE_HEADER_SIZE;
  for (let i = 0; h.open || i < h.numBlocks; i++) {
    if (pos + BLOCK_HEADER_SIZE > stop) {
      if (!h.open && pos < stop) stats.truncated = true;
      if (!h.open && i < h.numBlocks) stats.truncated = true;
      return;
    }
    await fd.read(head, 0, BLOCK_HEADER_SIZE, pos);
    const numRecords = head.readUInt32LE(0);
    const len = head.readUInt32LE(4);
    const type = head.readUInt16LE(8);
    // Block flag bit 0: stored uncompressed whatever the file's compression (nfdump honours it too).
    const uncompressed = (head.readUInt16LE(10) & 1) !== 0;
    if (len > MAX_BLOCK || pos + BLOCK_HEADER_SIZE + len > stop) {
      // A block that runs past the file: a cut file, or a length that lies. Nothing after it can be framed.
      stats.truncated = true;
      return;
    }
    const payload = Buffer.alloc(len);
    await fd.read(payload, 0, len, pos + BLOCK_HEADER_SIZE);
    pos += BLOCK_HEADER_SIZE + len;
    stats.blocks++;
    if (type !== DATA_BLOCK) continue;
    let data: Buffer;
    try {
      data = uncompressed ? payload : decompressBlock(h.compression, payload);
    } catch (e) {
      if (e instanceof NfdumpCompressionError) throw e;
      stats.corruptBlocks++;
      continue;
    }
    yield { data, numRecords };
  }
}

function convertWithNfdump(file: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('nfdump', ['-r', file, '-w', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT'
          ? new ArchiveError(
              `nfdump archive ${file} is LZO-compressed (nfcapd -z): Haystack reads uncompressed, LZ4 (-y), bzip2 (-j) and zstd archives itself; for LZO install nfdump (Debian: apt-get install nfdump) and it is converted on the fly`,
            )
          : e,
      ),
    );
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new ArchiveError(`nfdump could not convert ${file} (exit ${code}): ${err.trim().split('\n')[0] ?? ''}`)),
    );
  });
}
