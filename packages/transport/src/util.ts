/** Small shared pieces of the transports. */

export class TransportClosedError extends Error {
  constructor(message = 'transport is closed') {
    super(message);
    this.name = 'TransportClosedError';
  }
}

/**
 * A handler hands a batch it had taken in back on purpose (its storage was not attempted, e.g.
 * a group of batches dropped at stop or after a rebalance): the source delivers it again as
 * after any storage failure, but it is not counted or logged as one.
 */
export class BatchHandedBackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchHandedBackError';
  }
}

/** Retry delays for a handler that failed: exponential from initialMs, capped at maxMs. */
export interface RetryBackoff {
  /** First delay, default 100 ms. */
  initialMs?: number;
  /** Largest delay, default 10 s. */
  maxMs?: number;
}

export function backoffDelays(opts: RetryBackoff = {}): () => number {
  const initial = Math.max(1, opts.initialMs ?? 100);
  const max = Math.max(initial, opts.maxMs ?? 10_000);
  let next = initial;
  return () => {
    const d = next;
    next = Math.min(max, next * 2);
    return d;
  };
}

/** A sleep that `cancel()` ends early (resolving false), so close() never waits out a back-off. */
export class Sleeper {
  private pending = new Set<{ timer: NodeJS.Timeout; resolve: (v: boolean) => void }>();

  sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.pending.delete(entry);
          resolve(true);
        }, ms),
        resolve,
      };
      this.pending.add(entry);
    });
  }

  cancel(): void {
    for (const e of this.pending) {
      clearTimeout(e.timer);
      e.resolve(false);
    }
    this.pending.clear();
  }
}

/** Wakes everyone waiting for "something changed" (edge-triggered; waiters re-check their condition). */
export class Signal {
  private waiters: (() => void)[] = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const w = this.waiters;
    if (w.length === 0) return;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}

export function checkPartition(partition: number, partitions: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= partitions)
    throw new RangeError(`partition ${partition} out of range: the flow topic has ${partitions} partition(s)`);
}

export function checkBatch(batch: unknown): asserts batch is Buffer {
  if (!Buffer.isBuffer(batch)) throw new TypeError('batch must be a Buffer');
  if (batch.length === 0) throw new RangeError('batch is empty');
}
