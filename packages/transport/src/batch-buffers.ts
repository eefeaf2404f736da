/**
 * Batch memory recycled by a sink. A flow batch is hundreds of KiB; allocating one per batch
 * at a million records a second makes V8 count hundreds of MB/s of external memory and run a
 * full mark-compact every half second (measured: a fifth of the collector's CPU). A sink that
 * holds no reference to a batch once its publish settled hands the memory back through this.
 *
 * Only buffers this pool allocated are taken back (by their ArrayBuffer): a batch built
 * elsewhere, or a view into Node's shared Buffer pool, is never reused or transferred.
 */
export class BatchBuffers {
  private readonly mine = new WeakSet<ArrayBuffer>();
  private readonly free: ArrayBuffer[] = [];
  allocated = 0;
  reused = 0;

  /** `max`: buffers kept for reuse (more in flight are allocated, then dropped when returned). */
  constructor(private readonly max = 16) {}

  /** A buffer of at least `bytes` (its own ArrayBuffer, from byte 0): recycled when one fits. */
  take(bytes: number): Buffer {
    while (this.free.length > 0) {
      const ab = this.free.pop()!;
      if (ab.byteLength >= bytes) {
        this.reused++;
        return Buffer.from(ab);
      }
    }
    const ab = new ArrayBuffer(bytes);
    this.mine.add(ab);
    this.allocated++;
    return Buffer.from(ab);
  }

  /** This pool's buffer (a view of it from byte 0 or not): may it be transferred or reused? */
  owns(batch: Uint8Array): boolean {
    return batch.buffer instanceof ArrayBuffer && this.mine.has(batch.buffer);
  }

  /** The sink is done with `batch`: its memory serves a later take() (if it is this pool's). */
  give(batch: Uint8Array): void {
    const ab = batch.buffer;
    if (!(ab instanceof ArrayBuffer) || !this.mine.has(ab) || ab.byteLength === 0 || this.free.length >= this.max || this.free.includes(ab)) return;
    this.free.push(ab);
  }

  /** Memory of this pool's that went elsewhere and came back (a worker's batch returned by the main thread). */
  adopt(ab: ArrayBuffer): void {
    this.mine.add(ab);
    if (ab.byteLength > 0 && this.free.length < this.max) this.free.push(ab);
  }
}
