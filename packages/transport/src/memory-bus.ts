import type { BatchMeta, FlowHandler, FlowSink, FlowSource } from './types.js';
import { backoffDelays, checkBatch, checkPartition, Signal, Sleeper, TransportClosedError, type RetryBackoff } from './util.js';

/**
 * The embedded transport: ingest and detector in one process, no Kafka. Behaves like a
 * one-member consumer group on a Kafka topic where it matters to the code on either side:
 * N partitions, order kept per partition, a position (sequence number, shown as the offset)
 * that advances only after the handler resolved, and a failed handler retried rather than
 * skipped. Each partition holds at most `queueCapacity` uncommitted batches; publish waits
 * for room (backpressure instead of unbounded memory).
 *
 * Published buffers are passed by reference: do not modify a batch after publishing it
 * (BatchWriter.finish() returns a fresh copy, so ingest never does).
 */
export interface MemoryBusOptions {
  /** Partitions, default 1. */
  partitions?: number;
  /** Uncommitted batches held per partition before publish waits, default 64. */
  queueCapacity?: number;
}

export interface MemorySourceOptions {
  /** Partitions whose handlers may run at the same time, default 1 (Kafka source: same meaning). */
  concurrency?: number;
  /** Back-off between retries of a failed handler. */
  retry?: RetryBackoff;
  /** Called for each handler failure before its retry. */
  onError?: (err: unknown, meta: BatchMeta) => void;
}

export interface MemoryBusStats {
  /** Batches accepted into a partition queue. */
  published: number;
  /** Batches whose handler resolved (their position is committed). */
  delivered: number;
  /** Batches in the queues, not yet committed (includes those being handled). */
  queued: number;
  /** Publishes currently waiting for room. */
  waiting: number;
  /** Times a publish had to wait for room. */
  publishWaits: number;
  /** Handler failures (each one retried). */
  handlerErrors: number;
}

interface Waiter {
  batch: Buffer;
  resolve: () => void;
  reject: (e: Error) => void;
}

class PartitionQueue {
  items: Buffer[] = [];
  head = 0;
  /** Sequence number of items[head]: the committed position. */
  position = 0;
  waiters: Waiter[] = [];
  busy = false;

  get length(): number {
    return this.items.length - this.head;
  }

  push(b: Buffer): void {
    this.items.push(b);
  }

  peek(): Buffer {
    return this.items[this.head]!;
  }

  shift(): void {
    this.items[this.head] = undefined as unknown as Buffer; // release the buffer now
    this.head++;
    this.position++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

export class MemoryBus {
  readonly partitions: number;
  readonly queueCapacity: number;
  /** The publishing side, handed to ingest. */
  readonly sink: FlowSink;

  private readonly queues: PartitionQueue[];
  /** Notified on every publish, commit and close, to wake idle workers and drainers. */
  readonly changed = new Signal();
  private sinkClosed = false;
  private closed = false;
  private active: MemoryFlowSource | undefined;
  private counters = { published: 0, delivered: 0, publishWaits: 0, handlerErrors: 0 };
  private rr = 0;

  constructor(opts: MemoryBusOptions = {}) {
    const partitions = opts.partitions ?? 1;
    const cap = opts.queueCapacity ?? 64;
    if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError(`queueCapacity must be a positive integer, got ${cap}`);
    this.partitions = partitions;
    this.queueCapacity = cap;
    this.queues = Array.from({ length: partitions }, () => new PartitionQueue());
    this.sink = {
      partitions,
      publish: (partition, batch) => this.publish(partition, batch),
      // New publishes fail; ones already waiting for room still complete as the source drains.
      close: async () => {
        this.sinkClosed = true;
      },
    };
  }

  /** Resolves once the batch is queued; waits while the partition is full. */
  publish(partition: number, batch: Buffer): Promise<void> {
    try {
      checkPartition(partition, this.partitions);
      checkBatch(batch);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.sinkClosed || this.closed) return Promise.reject(new TransportClosedError('MemoryBus sink is closed'));
    const q = this.queues[partition]!;
    // Queue behind earlier waiters even when room appeared, so publish order is kept.
    if (q.waiters.length === 0 && q.length < this.queueCapacity) {
      q.push(batch);
      this.counters.published++;
      this.changed.notify();
      return Promise.resolve();
    }
    this.counters.publishWaits++;
    return new Promise((resolve, reject) => q.waiters.push({ batch, resolve, reject }));
  }

  /**
   * A consumer of every partition. One source may run at a time; a new one resumes at the
   * committed positions (like a restarted Kafka consumer in the same group).
   */
  createSource(opts: MemorySourceOptions = {}): FlowSource {
    return new MemoryFlowSource(this, opts);
  }

  stats(): MemoryBusStats {
    let queued = 0;
    let waiting = 0;
    for (const q of this.queues) {
      queued += q.length;
      waiting += q.waiters.length;
    }
    return { ...this.counters, queued, waiting };
  }

  /** Committed position (next sequence number to deliver) of a partition. */
  position(partition: number): number {
    checkPartition(partition, this.partitions);
    return this.queues[partition]!.position;
  }

  /**
   * Stop the bus. drain (default): first wait until a running source has delivered every
   * queued and waiting batch (at most timeoutMs, default unlimited). Then the source is
   * stopped after its in-flight handlers, and publishes still waiting fail.
   */
  async close(opts: { drain?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.sinkClosed = true;
    if (opts.drain ?? true) {
      const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
      let timer: NodeJS.Timeout | undefined;
      try {
        while (this.active && !this.empty() && Date.now() < deadline) {
          const wake = this.changed.wait();
          if (deadline !== Infinity) {
            clearTimeout(timer);
            timer = setTimeout(() => this.changed.notify(), Math.max(0, deadline - Date.now()));
          }
          await wake;
        }
      } finally {
        clearTimeout(timer);
      }
    }
    this.closed = true;
    await this.active?.close();
    for (const q of this.queues) {
      for (const w of q.waiters.splice(0)) w.reject(new TransportClosedError('MemoryBus closed before the batch found room'));
    }
    this.changed.notify();
  }

  private empty(): boolean {
    return this.queues.every((q) => q.length === 0 && q.waiters.length === 0);
  }

  // ---- used by MemoryFlowSource ----

  /** @internal */
  attach(src: MemoryFlowSource): void {
    if (this.closed) throw new TransportClosedError('MemoryBus is closed');
    if (this.active) throw new Error('MemoryBus already has a running source (one consumer at a time)');
    this.active = src;
  }

  /** @internal */
  detach(src: MemoryFlowSource): void {
    if (this.active === src) this.active = undefined;
    this.changed.notify();
  }

  /** @internal Next idle partition with work, round-robin so no partition starves. */
  claim(): number | undefined {
    for (let i = 0; i < this.partitions; i++) {
      const p = (this.rr + i) % this.partitions;
      const q = this.queues[p]!;
      if (!q.busy && q.length > 0) {
        q.busy = true;
        this.rr = (p + 1) % this.partitions;
        return p;
      }
    }
    return undefined;
  }

  /** @internal */
  head(p: number): { batch: Buffer; position: number } {
    const q = this.queues[p]!;
    return { batch: q.peek(), position: q.position };
  }

  /** @internal The handler of the head batch resolved: advance the position, admit a waiter. */
  commit(p: number): void {
    const q = this.queues[p]!;
    q.shift();
    this.counters.delivered++;
    // Once closed nothing is admitted: waiting publishers are refused rather than told
    // "accepted" for a batch no one will deliver.
    if (this.closed) return;
    const w = q.waiters.shift();
    if (w) {
      q.push(w.batch);
      this.counters.published++;
      w.resolve();
    }
  }

  /** @internal */
  release(p: number): void {
    this.queues[p]!.busy = false;
    this.changed.notify();
  }

  /** @internal */
  countHandlerError(): void {
    this.counters.handlerErrors++;
  }
}

class MemoryFlowSource implements FlowSource {
  /** The in-process bus waits for each batch to be stored before delivering the next. */
  readonly inFlightPerPartition = 1;
  private running = false;
  private workers: Promise<void>[] = [];
  private readonly sleeper = new Sleeper();
  private readonly concurrency: number;

  constructor(
    private readonly bus: MemoryBus,
    private readonly opts: MemorySourceOptions,
  ) {
    const c = opts.concurrency ?? 1;
    if (!Number.isInteger(c) || c < 1) throw new RangeError(`concurrency must be a positive integer, got ${c}`);
    this.concurrency = c;
  }

  async run(handler: FlowHandler): Promise<void> {
    if (this.running) throw new Error('source is already running');
    this.bus.attach(this);
    this.running = true;
    for (let i = 0; i < this.concurrency; i++) this.workers.push(this.worker(handler));
  }

  /** The in-process bus has no failure that ends delivery: handler errors are retried. */
  failed(): Promise<Error> {
    return new Promise<Error>(() => undefined);
  }

  async close(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.sleeper.cancel();
    this.bus.changed.notify();
    await Promise.all(this.workers);
    this.workers = [];
    this.bus.detach(this);
  }

  private async worker(handler: FlowHandler): Promise<void> {
    while (this.running) {
      const p = this.bus.claim();
      if (p === undefined) {
        await this.bus.changed.wait();
        continue;
      }
      try {
        await this.deliver(p, handler);
      } finally {
        this.bus.release(p);
      }
    }
  }

  private async deliver(p: number, handler: FlowHandler): Promise<void> {
    const { batch, position } = this.bus.head(p);
    const meta: BatchMeta = { partition: p, offset: String(position) };
    const delay = backoffDelays(this.opts.retry);
    for (;;) {
      try {
        // The in-process bus does not pipeline: a batch is done once stored.
        const accepted = await handler(batch, meta);
        if (accepted) await accepted.stored;
        break;
      } catch (e) {
        this.bus.countHandlerError();
        this.opts.onError?.(e, meta);
        // Stopping leaves the batch uncommitted: the next run delivers it again.
        if (!this.running || !(await this.sleeper.sleep(delay())) || !this.running) return;
      }
    }
    this.bus.commit(p);
  }
}
