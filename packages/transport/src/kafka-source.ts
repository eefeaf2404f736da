import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Accepted, BatchMeta, FlowHandler, FlowSource } from './types.js';
import { KafkaTransportError, connectAdmin, createKafkaClient, flowTopicPartitions, type KafkaClientOptions, type KafkaSection } from './kafka-common.js';
import { backoffDelays, BatchHandedBackError, Signal, Sleeper, type RetryBackoff } from './util.js';
import { CompleteRoundRobinAssigner } from './kafka-assigner.js';

export interface KafkaSourceOptions extends KafkaClientOptions {
  /** brokers, clientId, flowTopic, consumerGroup are used. */
  kafka: KafkaSection;
  /** Group session timeout, default 30 s (kafkajs). A rebalance may wait this long for a dead member. */
  sessionTimeout?: number;
  /** Default 3 s (kafkajs); must be well below sessionTimeout. */
  heartbeatInterval?: number;
  rebalanceTimeout?: number;
  /** How long a fetch waits for data, default 1 s. */
  maxWaitTimeInMs?: number;
  maxBytesPerPartition?: number;
  /**
   * Where a group without committed offsets starts: true = earliest retained batch,
   * false (default, like Kafka's auto.offset.reset=latest) = only new batches.
   */
  fromBeginning?: boolean;
  /** Partitions whose handlers may run at the same time, default 1. */
  concurrency?: number;
  /**
   * Batches of one partition a handler may have taken in (returned `Accepted`) whose storage
   * has not finished, default 32: the next batches are delivered meanwhile, so one storage
   * write carries many batches instead of one round trip per batch.
   */
  maxInFlight?: number;
  /** Commit stored positions at most this often, default 1 s, and when stopping. */
  commitIntervalMs?: number;
  /** Back-off between retries of a failed handler. */
  retry?: RetryBackoff;
  /**
   * Back-off before replacing a consumer that kafkajs gave up on (default 1 s doubling to
   * 30 s): kafkajs restarts only after retriable errors, so a non-retriable one during a
   * group rejoin (common while members come and go) would otherwise end delivery for good.
   */
  restart?: RetryBackoff;
  /** Called for each handler failure (before its retry) and for consumer crashes (meta undefined). */
  onError?: (err: unknown, meta: BatchMeta | undefined) => void;
}

export interface KafkaSourceStats {
  /** Batches whose handler resolved. */
  delivered: number;
  /** Handler failures (each retried). */
  handlerErrors: number;
  /** Batches the handler handed back unstored on purpose (BatchHandedBackError), delivered again. */
  handedBack: number;
  /** Messages without a value (tombstones), skipped: they cannot be flow batches. */
  skippedEmpty: number;
  /** Offset commits that reached the group coordinator. */
  commits: number;
  /** Consumer crashes reported by kafkajs (it restarts on retriable ones). */
  crashes: number;
  /** Consumers we replaced after a crash kafkajs does not restart from. */
  restarts: number;
}

/** Errors no restart can fix (credentials, permissions, protocol): reported through failed(). */
const PERMANENT = /AUTHORIZATION_FAILED|AUTHENTICATION|SASL|UNSUPPORTED|INVALID_GROUP_ID|INVALID_SESSION_TIMEOUT|INCONSISTENT_GROUP_PROTOCOL/;

function rootCause(e: unknown): { type?: string; name?: string } {
  let x = e as { cause?: unknown; type?: string; name?: string };
  while (x && typeof x === 'object' && x.cause) x = x.cause as typeof x;
  return x ?? {};
}

function isPermanent(e: unknown): boolean {
  const c = rootCause(e);
  return PERMANENT.test(c.type ?? '') || c.name === 'KafkaJSNotImplemented';
}

function waitOrTimeout(signal: Signal, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([signal.wait(), new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
}

/**
 * The batches of one partition the handler took in and whose storage has not settled, in
 * offset order, and the highest offset stored with everything before it.
 */
class Pipeline {
  private readonly entries: { offset: string; state: 'pending' | 'stored' | 'failed' }[] = [];
  storedThrough: string | undefined;
  committed: string | undefined;
  /** The lowest offset whose storage failed: delivery restarts there. */
  failedAt: string | undefined;
  readonly changed = new Signal();
  /** Back-off between deliveries again after a storage failure (reset on success). */
  retryDelay: (() => number) | undefined;
  redelivering = false;

  constructor(private readonly onStored: () => void) {}

  pending(): number {
    let n = 0;
    for (const e of this.entries) if (e.state === 'pending') n++;
    return n;
  }

  done(offset: string): void {
    this.entries.push({ offset, state: 'stored' });
    this.advance();
  }

  track(offset: string, stored: Promise<void>, onFailed: (err: unknown) => void): void {
    const e = { offset, state: 'pending' as 'pending' | 'stored' | 'failed' };
    this.entries.push(e);
    stored.then(
      () => {
        e.state = 'stored';
        this.advance();
      },
      (err: unknown) => {
        e.state = 'failed';
        if (this.failedAt === undefined || BigInt(offset) < BigInt(this.failedAt)) this.failedAt = offset;
        onFailed(err);
        this.changed.notify();
      },
    );
  }

  private advance(): void {
    let moved = false;
    while (this.entries[0]?.state === 'stored') {
      this.storedThrough = this.entries.shift()!.offset;
      moved = true;
    }
    if (moved) {
      if (this.failedAt === undefined) this.retryDelay = undefined;
      this.onStored();
    }
    this.changed.notify();
  }
}

/**
 * FlowSource on a Kafka consumer group (kafkajs), committing by itself (autoCommit off).
 * Batches of a partition are handed over in order; a handler that returns `Accepted` lets the
 * next ones come while its rows are stored (up to maxInFlight per partition), and a position is
 * committed (every commitIntervalMs and on stop) only once its batch and all before it are
 * stored. A handler that throws is retried with back-off while heartbeats continue; a store that
 * fails makes the partition fetch again from that batch. Nothing is skipped: a partition that
 * moves to another member resumes there at the first uncommitted batch. A consumer kafkajs gives
 * up on is replaced; errors no restart fixes settle failed().
 */
export class KafkaFlowSource implements FlowSource {
  private readonly client: Kafka;
  private consumer: Consumer | undefined;
  private readonly sleeper = new Sleeper();
  private readonly counters: KafkaSourceStats = { delivered: 0, handlerErrors: 0, handedBack: 0, skippedEmpty: 0, commits: 0, crashes: 0, restarts: 0 };
  private assigned: number[] = [];
  private readonly assignmentListeners = new Set<(partitions: number[]) => void>();
  private stopping = false;
  private handler: FlowHandler | undefined;
  private pipes = new Map<number, Pipeline>();
  private readonly lagBy = new Map<number, number>();
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> = Promise.resolve();
  /** eachBatch calls running now (close() waits for them before the final commit). */
  private readonly active = new Set<Promise<void>>();
  private restartDelay: (() => number) | undefined;
  private fatal: ((e: Error) => void) | undefined;
  private readonly fatalError = new Promise<Error>((resolve) => {
    this.fatal = resolve;
  });

  constructor(private readonly opts: KafkaSourceOptions) {
    this.client = createKafkaClient(opts.kafka, opts);
    const c = opts.concurrency ?? 1;
    if (!Number.isInteger(c) || c < 1) throw new RangeError(`concurrency must be a positive integer, got ${c}`);
  }

  get inFlightPerPartition(): number {
    return Math.max(1, this.opts.maxInFlight ?? 32);
  }

  /** Join the group and start delivering; resolves once this member has joined. */
  async run(handler: FlowHandler): Promise<void> {
    if (this.handler) throw new Error('source is already running');
    const { kafka } = this.opts;
    // The mock (and Kafka with auto-create) would create a missing topic on subscribe.
    const admin = await connectAdmin(this.client, kafka);
    try {
      await flowTopicPartitions(admin, kafka);
    } finally {
      await admin.disconnect();
    }
    this.handler = handler;
    this.stopping = false;
    try {
      await this.startConsumer(handler);
    } catch (e) {
      this.handler = undefined;
      throw new KafkaTransportError(`cannot start Kafka consumer group '${kafka.consumerGroup}': ${(e as Error).message}`, { cause: e });
    }
  }

  private async startConsumer(handler: FlowHandler): Promise<void> {
    const { kafka } = this.opts;
    const consumer = this.client.consumer({
      groupId: kafka.consumerGroup,
      sessionTimeout: this.opts.sessionTimeout,
      heartbeatInterval: this.opts.heartbeatInterval,
      rebalanceTimeout: this.opts.rebalanceTimeout,
      maxWaitTimeInMs: this.opts.maxWaitTimeInMs ?? 1_000,
      maxBytesPerPartition: this.opts.maxBytesPerPartition,
      allowAutoTopicCreation: false,
      partitionAssigners: [CompleteRoundRobinAssigner],
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.restartDelay = undefined; // joined: the next crash starts the back-off afresh
      this.assigned = [...(e.payload.memberAssignment[kafka.flowTopic] ?? [])].sort((a, b) => a - b);
      // A new generation fetches from the committed positions: what was taken in but not
      // committed is delivered again (storage is idempotent), so start every pipeline afresh.
      this.pipes = new Map();
      this.lagBy.clear(); // a partition that comes back has no current figure until it is fetched from again
      for (const l of this.assignmentListeners) l(this.assigned);
    });
    consumer.on(consumer.events.COMMIT_OFFSETS, () => {
      this.counters.commits++;
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.counters.crashes++;
      this.opts.logger?.error({ err: e.payload.error, restart: e.payload.restart }, 'Kafka consumer crashed');
      this.opts.onError?.(e.payload.error, undefined);
      // kafkajs has disconnected a consumer it will not restart: replace it ourselves.
      if (!e.payload.restart && this.consumer === consumer) this.replace(consumer, handler, e.payload.error);
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [kafka.flowTopic], fromBeginning: this.opts.fromBeginning ?? false });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.opts.concurrency ?? 1,
        eachBatch: (payload) => {
          const run = this.eachBatch(payload, handler);
          this.active.add(run);
          return run.finally(() => this.active.delete(run));
        },
      });
    } catch (e) {
      if (this.consumer === consumer) this.consumer = undefined;
      await consumer.disconnect().catch(() => undefined);
      throw e;
    }
  }

  /** After a crash kafkajs does not restart from: a new consumer after back-off, or failed() for errors no restart fixes. */
  private replace(old: Consumer, handler: FlowHandler, err: Error): void {
    if (this.stopping) return;
    this.assigned = [];
    void (async () => {
      await old.disconnect().catch(() => undefined);
      this.restartDelay ??= backoffDelays({ initialMs: 1_000, maxMs: 30_000, ...this.opts.restart });
      for (;;) {
        if (isPermanent(err)) {
          this.fatal?.(new KafkaTransportError(`Kafka consumer of group '${this.opts.kafka.consumerGroup}' stopped: ${err.message}`, { cause: err }));
          return;
        }
        const delay = this.restartDelay();
        this.opts.logger?.warn({ err, delayMs: delay, group: this.opts.kafka.consumerGroup }, 'Kafka consumer stopped after a crash; starting a new one');
        // close() cancels the sleep: no consumer is started after it.
        if (!(await this.sleeper.sleep(delay)) || this.stopping) return;
        this.counters.restarts++;
        try {
          await this.startConsumer(handler);
          return;
        } catch (e) {
          err = e as Error;
          this.opts.onError?.(e, undefined);
        }
      }
    })();
  }

  /** Partitions assigned to this member at the last group join. */
  assignment(): number[] {
    return [...this.assigned];
  }

  /** Calls `listener` after every group join with this member's partitions; returns an unsubscribe. */
  onAssignment(listener: (partitions: number[]) => void): () => void {
    this.assignmentListeners.add(listener);
    return () => this.assignmentListeners.delete(listener);
  }

  failed(): Promise<Error> {
    return this.fatalError;
  }

  stats(): KafkaSourceStats {
    return { ...this.counters };
  }

  /**
   * Per assigned partition, batches behind the partition's end as of the last fetch (its high
   * watermark then, minus the last batch taken in): the consumer lag as this member sees it,
   * without asking the brokers. Partitions nothing was fetched from yet are not listed.
   */
  lag(): { partition: number; batches: number }[] {
    return this.assigned.filter((p) => this.lagBy.has(p)).map((p) => ({ partition: p, batches: this.lagBy.get(p)! }));
  }

  /**
   * Finish the handlers in flight and wait (at most `settleMs`, default 30 s) for what they
   * took in to be stored; commit the stored positions, leave the group and disconnect.
   * Anything not stored by then stays uncommitted and is delivered again.
   */
  async close(settleMs = 30_000): Promise<void> {
    if (!this.handler) return;
    this.stopping = true;
    this.sleeper.cancel(); // a handler waiting to be retried stays uncommitted; no consumer is replaced
    for (const pipe of this.pipes.values()) pipe.changed.notify(); // wake deliveries waiting for room
    const consumer = this.consumer;
    try {
      await Promise.allSettled([...this.active]);
      const deadline = Date.now() + settleMs;
      for (const pipe of this.pipes.values()) {
        while (pipe.pending() > 0 && Date.now() < deadline) await waitOrTimeout(pipe.changed, 100);
      }
      clearTimeout(this.commitTimer);
      this.commitTimer = undefined;
      if (consumer)
        await this.commitStored(consumer).catch((err: unknown) =>
          this.opts.logger?.warn({ err }, 'committing stored positions at stop failed; they are delivered again'),
        );
      await consumer?.disconnect();
    } finally {
      this.consumer = undefined;
      this.handler = undefined;
      this.assigned = [];
      this.pipes = new Map();
    }
  }

  private pipe(partition: number): Pipeline {
    let p = this.pipes.get(partition);
    if (!p) this.pipes.set(partition, (p = new Pipeline(() => this.scheduleCommit())));
    return p;
  }

  /** Stored positions are committed at most every commitIntervalMs (and at stop). */
  private scheduleCommit(): void {
    if (this.commitTimer || this.stopping) return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = undefined;
      const consumer = this.consumer;
      if (!consumer || this.stopping) return;
      this.commitStored(consumer).catch((err: unknown) => {
        // A rebalance or coordinator move: the next generation starts from what was committed.
        this.opts.logger?.warn({ err }, 'committing stored positions failed; retried with the next stored batch');
      });
    }, this.opts.commitIntervalMs ?? 1_000);
  }

  private commitStored(consumer: Consumer): Promise<void> {
    const run = this.committing.then(async () => {
      const topic = this.opts.kafka.flowTopic;
      const offsets: { topic: string; partition: number; offset: string }[] = [];
      const done: [Pipeline, string][] = [];
      for (const [partition, pipe] of this.pipes) {
        const s = pipe.storedThrough;
        if (s === undefined || s === pipe.committed) continue;
        offsets.push({ topic, partition, offset: (BigInt(s) + 1n).toString() });
        done.push([pipe, s]);
      }
      if (offsets.length === 0) return;
      await consumer.commitOffsets(offsets);
      for (const [pipe, s] of done) pipe.committed = s;
    });
    this.committing = run.catch(() => undefined);
    return run;
  }

  private async eachBatch(p: EachBatchPayload, handler: FlowHandler): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = p;
    const partition = batch.partition;
    const pipe = this.pipe(partition);
    const live = () => isRunning() && !isStale() && !this.stopping;
    const limit = this.inFlightPerPartition;
    // Batches after an offset up to the partition's end as of this fetch (for lag()).
    const end = Number(batch.highWatermark);
    const behind = (offset: string) => Math.max(0, end - Number(offset) - 1);
    for (const m of batch.messages) {
      if (!live() || pipe.failedAt !== undefined) break;
      // Resolving moves the fetch position on; commits follow storage (commitStored).
      if (m.value === null) {
        this.counters.skippedEmpty++;
        resolveOffset(m.offset);
        this.lagBy.set(partition, behind(m.offset));
        pipe.done(m.offset);
        continue;
      }
      while (pipe.pending() >= limit && pipe.failedAt === undefined && live()) await this.waitChange(pipe, heartbeat);
      if (pipe.failedAt !== undefined || !live()) break;
      const meta: BatchMeta = { partition, offset: m.offset };
      const accepted = await this.deliver(handler, m.value, meta, live, heartbeat);
      if (accepted === false) break;
      resolveOffset(m.offset);
      this.counters.delivered++;
      this.lagBy.set(partition, behind(m.offset));
      if (accepted) pipe.track(m.offset, accepted.stored, (err) => this.storeFailed(err, meta, pipe));
      else pipe.done(m.offset);
      await heartbeat();
    }
  }

  private storeFailed(err: unknown, meta: BatchMeta, pipe: Pipeline): void {
    if (err instanceof BatchHandedBackError) this.counters.handedBack++;
    else {
      this.counters.handlerErrors++;
      this.opts.logger?.warn({ err, partition: meta.partition, offset: meta.offset }, 'flow batch not stored, delivering it again');
      this.opts.onError?.(err, meta);
    }
    void this.redeliver(meta.partition, pipe);
  }

  /**
   * A batch taken in was not stored: let the rest of its pipeline settle, then, after
   * back-off, fetch again from it. Batches after it that were stored come again too (storage
   * is idempotent). Runs outside eachBatch: with nothing new to fetch, none would come.
   */
  private async redeliver(partition: number, pipe: Pipeline): Promise<void> {
    if (pipe.redelivering) return;
    pipe.redelivering = true;
    const current = () => !this.stopping && this.pipes.get(partition) === pipe; // a rebalance starts afresh anyway
    while (pipe.pending() > 0 && current()) await waitOrTimeout(pipe.changed, 1_000);
    if (!current()) return;
    pipe.retryDelay ??= backoffDelays(this.opts.retry);
    if (!(await this.sleeper.sleep(pipe.retryDelay())) || !current()) return;
    const fresh = new Pipeline(() => this.scheduleCommit());
    fresh.storedThrough = pipe.storedThrough;
    fresh.committed = pipe.committed;
    fresh.retryDelay = pipe.retryDelay;
    this.pipes.set(partition, fresh);
    // autoCommit is off, so seek only moves the fetch position; a running eachBatch sees isStale().
    this.consumer?.seek({ topic: this.opts.kafka.flowTopic, partition, offset: pipe.failedAt! });
  }

  /** Until the pipeline changes (a batch stored or failed), heartbeating at least every interval. */
  private async waitChange(pipe: Pipeline, heartbeat: () => Promise<void>): Promise<void> {
    await waitOrTimeout(pipe.changed, Math.max(100, this.opts.heartbeatInterval ?? 3_000));
    await heartbeat();
  }

  /** Sleeps in heartbeat-sized steps so a long back-off does not cost the assignment; false when stopping. */
  private async sleepBeating(ms: number, live: () => boolean, heartbeat: () => Promise<void>): Promise<boolean> {
    const beat = Math.max(100, this.opts.heartbeatInterval ?? 3_000);
    for (let left = ms; left > 0; left -= beat) {
      if (!live() || !(await this.sleeper.sleep(Math.min(left, beat)))) return false;
      await heartbeat();
    }
    return live();
  }

  /** Calls the handler until it resolves; false when stopping or the partition was taken away. */
  private async deliver(
    handler: FlowHandler,
    value: Buffer,
    meta: BatchMeta,
    live: () => boolean,
    heartbeat: () => Promise<void>,
  ): Promise<Accepted | void | false> {
    const delay = backoffDelays(this.opts.retry);
    for (;;) {
      try {
        return await handler(value, meta);
      } catch (e) {
        this.counters.handlerErrors++;
        this.opts.logger?.warn({ err: e, partition: meta.partition, offset: meta.offset }, 'flow handler failed, retrying the batch');
        this.opts.onError?.(e, meta);
      }
      if (!(await this.sleepBeating(delay(), live, heartbeat))) return false;
    }
  }
}
