/**
 * FIFO of file chunks. Records that lie inside one chunk are returned as views (no copy);
 * only a record straddling a chunk boundary is copied into a buffer of exactly its size.
 * Consumed chunks are dropped, so memory stays at about one chunk plus the largest record.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0;
  /** Read offset inside chunks[head]. */
  private off = 0;
  private avail = 0;

  get available(): number {
    return this.avail;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.avail += chunk.length;
  }

  /** The next `n` bytes without consuming them; caller must check `available >= n` first. */
  peek(n: number): Buffer {
    const first = this.chunks[this.head]!;
    if (first.length - this.off >= n) return first.subarray(this.off, this.off + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let i = this.head;
    let o = this.off;
    while (filled < n) {
      const c = this.chunks[i]!;
      const take = Math.min(n - filled, c.length - o);
      c.copy(out, filled, o, o + take);
      filled += take;
      i++;
      o = 0;
    }
    return out;
  }

  /** Consumes and returns the next `n` bytes (a view when contiguous). */
  take(n: number): Buffer {
    const b = this.peek(n);
    this.skip(n);
    return b;
  }

  skip(n: number): void {
    this.avail -= n;
    while (n > 0) {
      const c = this.chunks[this.head]!;
      const left = c.length - this.off;
      if (n < left) {
        this.off += n;
        return;
      }
      n -= left;
      this.chunks[this.head] = EMPTY;
      this.head++;
      this.off = 0;
    }
    // Compact the array now and then instead of shifting on every consumed chunk.
    if (this.head > 64 || this.head === this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

const EMPTY = Buffer.alloc(0);
