import { BatchBuffers } from './batch-buffers.js';
import { Admin, Producer, TimeoutError, type BaseOptions, type CompressionAlgorithmValue, type MessageToProduce } from '@platformatic/kafka';
import { FORMAT_VERSION } from '@haystack/flow-core';
import type { Logger } from '@haystack/common';
import type { FlowSink } from './types.js';
import { BATCH_FORMAT_HEADER, KafkaTransportError, partitionKey, type KafkaSection } from './kafka-common.js';
import { backoffDelays, checkBatch, checkPartition, Sleeper, TransportClosedError, type RetryBackoff } from './util.js';

/** Connection settings of the producer's client (@platformatic/kafka), passed as they are. */
export type KafkaProducerClientOptions = Pick<BaseOptions, 'connectTimeout' | 'requestTimeout' | 'timeout' | 'retries' | 'retryDelay' | 'tls' | 'sasl'>;

export interface KafkaSinkOptions {
  /** brokers, clientId, flowTopic, acks, compression are used. */
  kafka: KafkaSection;
  logger?: Logger;
  /** The client's own retries default to 1 (100 ms apart): the sink retries on top, up to deliveryTimeoutMs. */
  client?: KafkaProducerClientOptions;
  /** How long the first publish of an idle sink waits for company before sending, default 2 ms. */
  lingerMs?: number;
  /** Upper bound of one produce call (all partitions), default 4 MiB. */
  maxRequestBytes?: number;
  /**
   * Upper bound per partition within one produce call, default 900,000 bytes: a call's messages
   * for a partition form one record batch, which the broker refuses above message.max.bytes
   * (1 MB by default). A single larger batch is still sent, alone.
   */
  maxPartitionBytes?: number;
  /** Keep retrying transient failures this long before failing the publish, default 60 s. */
  deliveryTimeoutMs?: number;
  /** Back-off between sink-level retries (after the client's own retries gave up). */
  retry?: RetryBackoff;
}

export interface KafkaSinkStats {
  /** Batches acknowledged by Kafka (per acks). */
  batches: number;
  /** Bytes of those batches (message values). */
  bytes: number;
  /** Batches whose publish failed (rejected to the caller). */
  errors: number;
  /** Produce calls that failed transiently and were retried. */
  retries: number;
  /** Produce calls made (each carries many batches). */
  requests: number;
  /** Batches accepted but not yet acknowledged. */
  pending: number;
}

interface Entry {
  partition: number;
  value: Buffer;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** The batches that go out in one produce call. */
class Group {
  entries: Entry[] = [];
  bytes = 0;
  sealed = false;
  private perPartition = new Map<number, number>();

  constructor(
    private readonly maxBytes: number,
    private readonly maxPartitionBytes: number,
  ) {}

  fits(partition: number, size: number): boolean {
    if (this.entries.length === 0) return true;
    return this.bytes + size <= this.maxBytes && (this.perPartition.get(partition) ?? 0) + size <= this.maxPartitionBytes;
  }

  add(e: Entry): void {
    this.entries.push(e);
    this.bytes += e.value.length;
    this.perPartition.set(e.partition, (this.perPartition.get(e.partition) ?? 0) + e.value.length);
  }
}

/**
 * FlowSink on a Kafka topic (kafkajs producer). Each publish names its partition; publishes
 * made while a produce call is in flight are grouped into the next call (kafkajs's
 * per-call overhead dominates otherwise). One call at a time keeps batches of a partition
 * in publish order even across retries.
 *
 * Delivery is at least once: a retry after a partial failure may write a batch twice.
 * The partition count is read at connect; after growing the topic, restart publishers.
 */
/**
 * Whether retrying can help (@platformatic/kafka errors): lost connections and timeouts can;
 * a broker's error code says so itself (`canRetry`); an aggregate can when all its parts can.
 */
export function isTransientProduceError(err: unknown): boolean {
  const e = err as { code?: string; canRetry?: boolean; closed?: boolean; errors?: unknown[]; cause?: unknown } | undefined;
  if (!e || typeof e !== 'object') return false;
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.every(isTransientProduceError);
  // A timeout says canRetry: false, though a later attempt may well pass; a closed client or
  // pool says so too, and means it.
  if (err instanceof TimeoutError) return true;
  if (e.closed === true || e.canRetry === false) return false;
  if (e.code === 'PLT_KFK_NETWORK') return true;
  if (typeof e.canRetry === 'boolean') return e.canRetry;
  return e.cause !== undefined && isTransientProduceError(e.cause);
}

const COMPRESSION: Record<KafkaSection['compression'], CompressionAlgorithmValue> = { none: 'none', gzip: 'gzip', lz4: 'lz4', zstd: 'zstd' };

/**
 * FlowSink on a Kafka topic (@platformatic/kafka producer). Each publish names its partition;
 * publishes made while a produce call is in flight are grouped into the next call (a call's
 * overhead dominates otherwise). One call at a time keeps batches of a partition in publish
 * order even across retries.
 *
 * Delivery is at least once: a retry after a partial failure may write a batch twice.
 * The partition count is read at connect; after growing the topic, restart publishers.
 */
export class KafkaFlowSink implements FlowSink {
  readonly partitions: number;
  readonly topic: string;

  private readonly keys: Buffer[];
  private readonly headers = new Map([[Buffer.from(BATCH_FORMAT_HEADER), Buffer.from(String(FORMAT_VERSION))]]);
  private readonly acks: -1 | 0 | 1;
  private readonly compression: CompressionAlgorithmValue;
  private readonly groups: Group[] = [];
  private pumping: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly sleeper = new Sleeper();
  private readonly counters = { batches: 0, bytes: 0, errors: 0, retries: 0, requests: 0 };
  private pendingCount = 0;
  /** Acknowledged batches' memory, for the publisher's next ones (not after a failure: a request may still hold it). */
  private readonly buffers = new BatchBuffers();
  private readonly lingerMs: number;
  private readonly maxRequestBytes: number;
  private readonly maxPartitionBytes: number;
  private readonly deliveryTimeoutMs: number;

  private constructor(
    private readonly producer: Producer,
    private readonly opts: KafkaSinkOptions,
    partitions: number,
  ) {
    this.partitions = partitions;
    this.topic = opts.kafka.flowTopic;
    this.keys = Array.from({ length: partitions }, (_, p) => partitionKey(p));
    this.acks = opts.kafka.acks;
    this.compression = COMPRESSION[opts.kafka.compression];
    this.lingerMs = opts.lingerMs ?? 2;
    this.maxRequestBytes = opts.maxRequestBytes ?? 4 * 1024 * 1024;
    this.maxPartitionBytes = opts.maxPartitionBytes ?? 900_000;
    this.deliveryTimeoutMs = opts.deliveryTimeoutMs ?? 60_000;
  }

  /** Connect, check the flow topic exists and read its partition count. */
  static async connect(opts: KafkaSinkOptions): Promise<KafkaFlowSink> {
    const k = opts.kafka;
    if (k.brokers.length === 0) throw new KafkaTransportError('kafka.brokers is empty: nothing to connect to (empty means the embedded bus)');
    const base = { clientId: k.clientId, bootstrapBrokers: k.brokers, retries: 1, retryDelay: 100, ...opts.client };
    const partitions = await flowTopicPartitionsOf(new Admin(base), k);
    // Partitions are always explicit; the topic must exist (never auto-created).
    const producer = new Producer({ ...base, autocreateTopics: false });
    return new KafkaFlowSink(producer, opts, partitions);
  }

  publish(partition: number, batch: Buffer): Promise<void> {
    try {
      checkPartition(partition, this.partitions);
      checkBatch(batch);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.closed) return Promise.reject(new TransportClosedError('KafkaFlowSink is closed'));
    return new Promise<void>((resolve, reject) => {
      let g = this.groups[this.groups.length - 1];
      if (!g || g.sealed || !g.fits(partition, batch.length)) {
        if (g) g.sealed = true;
        g = new Group(this.maxRequestBytes, this.maxPartitionBytes);
        this.groups.push(g);
      }
      g.add({ partition, value: batch, resolve, reject });
      this.pendingCount++;
      if (g.bytes >= this.maxRequestBytes) g.sealed = true;
      this.kick();
    });
  }

  batchBuffer(bytes: number): Buffer {
    return this.buffers.take(bytes);
  }

  /** Resolves when every batch published so far is acknowledged or failed. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.groups.length > 0 || this.pumping) {
      if (!this.pumping) this.pumping = this.pump();
      await this.pumping;
    }
  }

  stats(): KafkaSinkStats {
    return { ...this.counters, pending: this.pendingCount };
  }

  /** Send what is pending (retrying transient errors up to deliveryTimeoutMs), then disconnect. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      try {
        await this.flush();
      } finally {
        await this.producer.close();
      }
    })();
    return this.closing;
  }

  private kick(): void {
    if (this.pumping) return; // the running pump takes the new group next
    const head = this.groups[0]!;
    if (head.sealed || this.lingerMs <= 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.pumping = this.pump();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (!this.pumping) this.pumping = this.pump();
      }, this.lingerMs);
    }
  }

  private async pump(): Promise<void> {
    try {
      // Whatever accumulated while a call was in flight has waited long enough: send it now.
      for (let g = this.groups[0]; g; g = this.groups[0]) {
        g.sealed = true;
        await this.send(g);
        this.groups.shift();
      }
    } finally {
      this.pumping = undefined;
    }
  }

  private async send(g: Group): Promise<void> {
    const messages: MessageToProduce[] = g.entries.map((e) => ({
      topic: this.topic,
      partition: e.partition,
      key: this.keys[e.partition],
      value: e.value,
      headers: this.headers,
    }));
    const deadline = Date.now() + this.deliveryTimeoutMs;
    const delay = backoffDelays(this.opts.retry);
    for (;;) {
      this.counters.requests++;
      try {
        await this.producer.send({ acks: this.acks, compression: this.compression, messages });
        this.counters.batches += g.entries.length;
        this.counters.bytes += g.bytes;
        this.pendingCount -= g.entries.length;
        for (const e of g.entries) {
          this.buffers.give(e.value);
          e.resolve();
        }
        return;
      } catch (e) {
        const d = delay();
        if (isTransientProduceError(e) && Date.now() + d < deadline) {
          this.counters.retries++;
          this.opts.logger?.warn({ err: e, batches: g.entries.length, retryInMs: d }, 'Kafka produce failed, retrying');
          if (await this.sleeper.sleep(d)) continue;
        }
        this.counters.errors += g.entries.length;
        this.pendingCount -= g.entries.length;
        const err = new KafkaTransportError(`publishing ${g.entries.length} batch(es) to Kafka topic '${this.topic}' failed: ${(e as Error).message}`, {
          cause: e,
        });
        this.opts.logger?.error({ err: e, batches: g.entries.length }, 'Kafka produce failed');
        for (const en of g.entries) en.reject(err);
        return;
      }
    }
  }
}

/**
 * Partition count of the flow topic, failing clearly when it does not exist. Existence is
 * checked with a full topic listing first because a Metadata request naming the topic may
 * auto-create it (librdkafka's mock always does; Kafka does with auto.create.topics).
 */
async function flowTopicPartitionsOf(admin: Admin, k: KafkaSection): Promise<number> {
  try {
    let topics: string[];
    try {
      topics = await admin.listTopics();
    } catch (e) {
      throw new KafkaTransportError(`cannot connect to Kafka brokers ${k.brokers.join(',')}: ${(e as Error).message}`, { cause: e });
    }
    if (!topics.includes(k.flowTopic))
      throw new KafkaTransportError(
        `Kafka topic '${k.flowTopic}' (kafka.flowTopic) does not exist on ${k.brokers.join(',')}; ` +
          'create it with the partition count you want: Haystack does not auto-create it',
      );
    const md = await admin.metadata({ topics: [k.flowTopic], autocreateTopics: false });
    const n = md.topics.get(k.flowTopic)?.partitionsCount ?? 0;
    if (n < 1) throw new KafkaTransportError(`Kafka topic '${k.flowTopic}' has no partitions`);
    return n;
  } finally {
    await admin.close().catch(() => undefined);
  }
}
