import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/**
 * A name for a file's content: its size and the SHA-256 of its first and last 4 MiB (cheap on
 * files of any size). What was read from a file is stored under it, so reading the same file
 * again replaces its rows instead of counting them twice.
 */
export async function contentId(file: string): Promise<string> {
  const CHUNK = 4 << 20;
  const h = createHash('sha256');
  const fd = await open(file, 'r');
  try {
    const { size } = await fd.stat();
    h.update(`${size}:`);
    const head = Buffer.alloc(Math.min(CHUNK, size));
    await fd.read(head, 0, head.length, 0);
    h.update(head);
    if (size > CHUNK) {
      const tail = Buffer.alloc(Math.min(CHUNK, size - CHUNK));
      await fd.read(tail, 0, tail.length, size - tail.length);
      h.update(tail);
    }
  } finally {
    await fd.close();
  }
  return h.digest('hex').slice(0, 20);
}
