import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { BatchMeta, FlowHandler, FlowSource } from './types.js';
import {
  KafkaTransportError,
  connectAdmin,
  createKafkaClient,
  flowTopicPartitions,
  type KafkaClientOptions,
  type KafkaSection,
} from './kafka-common.js';
import { backoffDelays, Sleeper, type RetryBackoff } from './util.js';

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
   * Within a long fetched batch, commit handled positions at least this often, default 1 s.
   * Positions are also committed at the end of every fetched batch and when stopping.
   */
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

/**
 * FlowSource on a Kafka consumer group (kafkajs). Offsets are resolved one message at a
 * time, only after the handler resolved, and committed by us (autoCommit off): at the end
 * of each fetched batch, every commitIntervalMs within one, and on stop. A failing handler
 * is retried with back-off while heartbeats continue, so one bad moment downstream never
 * skips data; if the partition moves to another member meanwhile, that member starts at
 * the same uncommitted batch.
 */
export class KafkaFlowSource implements FlowSource {
  private readonly client: Kafka;
  private consumer: Consumer | undefined;
  private readonly sleeper = new Sleeper();
  private readonly counters: KafkaSourceStats = { delivered: 0, handlerErrors: 0, skippedEmpty: 0, commits: 0, crashes: 0, restarts: 0 };
  private assigned: number[] = [];
  private readonly assignmentListeners = new Set<(partitions: number[]) => void>();
  private stopping = false;
  private handler: FlowHandler | undefined;
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
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.restartDelay = undefined; // joined: the next crash starts the back-off afresh
      this.assigned = [...(e.payload.memberAssignment[kafka.flowTopic] ?? [])].sort((a, b) => a - b);
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
        // Read by commitOffsetsIfNecessary() even with autoCommit off.
        autoCommitInterval: this.opts.commitIntervalMs ?? 1_000,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.opts.concurrency ?? 1,
        eachBatch: (payload) => this.eachBatch(payload, handler),
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
    const { consumerGroup } = this.opts.kafka;
    if (isPermanent(err)) {
      this.fatal?.(new KafkaTransportError(`Kafka consumer of group '${consumerGroup}' stopped: ${err.message}`, { cause: err }));
      return;
    }
    this.restartDelay ??= backoffDelays({ initialMs: 1_000, maxMs: 30_000, ...this.opts.restart });
    const delay = this.restartDelay();
    this.assigned = [];
    this.opts.logger?.warn({ err, delayMs: delay, group: consumerGroup }, 'Kafka consumer stopped after a crash; starting a new one');
    void (async () => {
      await old.disconnect().catch(() => undefined);
      if (!(await this.sleeper.sleep(delay)) || this.stopping || this.consumer !== old) return;
      this.counters.restarts++;
      try {
        await this.startConsumer(handler);
      } catch (e) {
        this.opts.logger?.error({ err: e }, 'starting a new Kafka consumer failed');
        this.opts.onError?.(e, undefined);
        if (this.consumer === undefined && !this.stopping) {
          this.consumer = old; // keeps replace()'s ownership check simple
          this.replace(old, handler, e as Error);
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

  /** Finish the handlers in flight, commit, leave the group and disconnect. */
  async close(): Promise<void> {
    if (!this.handler) return;
    this.stopping = true;
    this.sleeper.cancel(); // a handler waiting to be retried stays uncommitted; no consumer is replaced
    const consumer = this.consumer;
    try {
      await consumer?.disconnect();
    } finally {
      this.consumer = undefined;
      this.handler = undefined;
      this.assigned = [];
    }
  }

  private async eachBatch(p: EachBatchPayload, handler: FlowHandler): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary, uncommittedOffsets } = p;
    const partition = batch.partition;
    const live = () => isRunning() && !isStale() && !this.stopping;
    let failed = false;
    try {
      for (const m of batch.messages) {
        if (!live()) break;
        if (m.value === null) {
          this.counters.skippedEmpty++;
          resolveOffset(m.offset);
          continue;
        }
        const meta: BatchMeta = { partition, offset: m.offset };
        if (!(await this.deliver(handler, m.value, meta, live, heartbeat))) break;
        resolveOffset(m.offset);
        this.counters.delivered++;
        await commitOffsetsIfNecessary();
        await heartbeat();
      }
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      // Commit what was handled before kafkajs moves on (stop, rebalance, next fetch),
      // so nothing already handled is delivered again.
      try {
        await commitOffsetsIfNecessary(uncommittedOffsets());
      } catch (e) {
        if (!failed) throw e; // else the first error is the one worth reporting
      }
    }
  }

  /** Calls the handler until it resolves; false when stopping or the partition was taken away. */
  private async deliver(
    handler: FlowHandler,
    value: Buffer,
    meta: BatchMeta,
    live: () => boolean,
    heartbeat: () => Promise<void>,
  ): Promise<boolean> {
    const delay = backoffDelays(this.opts.retry);
    const beat = Math.max(100, this.opts.heartbeatInterval ?? 3_000);
    for (;;) {
      try {
        await handler(value, meta);
        return true;
      } catch (e) {
        this.counters.handlerErrors++;
        this.opts.logger?.warn({ err: e, partition: meta.partition, offset: meta.offset }, 'flow handler failed, retrying the batch');
        this.opts.onError?.(e, meta);
      }
      // Sleep in heartbeat-sized steps so a long back-off does not cost the assignment.
      for (let left = delay(); left > 0; left -= beat) {
        if (!live() || !(await this.sleeper.sleep(Math.min(left, beat)))) return false;
        await heartbeat();
      }
      if (!live()) return false;
    }
  }
}
