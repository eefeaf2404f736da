import type { Admin } from 'kafkajs';
import { connectAdmin, createKafkaClient, KafkaTransportError, type KafkaClientOptions, type KafkaSection } from './kafka-common.js';

/**
 * The detector group's lag on the flow topic, as `kafka-consumer-groups --describe` shows it:
 * per partition the high watermark, the group's committed offset and their difference. Lag
 * counts Kafka messages, i.e. flow batches (up to ingest.batch.maxRecords flows each). A
 * partition the group never committed is read from its oldest retained batch (detectors start
 * from the beginning): its lag is everything retained (high − low), and counts in the total.
 */
export interface PartitionLag {
  partition: number;
  high: number;
  /** null: the group never committed an offset for this partition. */
  committed: number | null;
  lag: number;
}

export interface GroupLag {
  topic: string;
  groupId: string;
  /** Sum of the partitions' lag, in batches. */
  batches: number;
  partitions: PartitionLag[];
}

export async function consumerGroupLag(admin: Admin, topic: string, groupId: string): Promise<GroupLag> {
  const [highs, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const byPartition = new Map((committed.find((t) => t.topic === topic)?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  const partitions = highs
    .map((h) => {
      const high = Number(h.high);
      const c = byPartition.get(h.partition);
      const has = c !== undefined && c >= 0;
      return { partition: h.partition, high, committed: has ? c : null, lag: Math.max(0, high - (has ? c : Number(h.low))) };
    })
    .sort((a, b) => a.partition - b.partition);
  return { topic, groupId, batches: partitions.reduce((s, p) => s + p.lag, 0), partitions };
}

/**
 * A long-lived reader of the group's lag for a console: one admin connection, answers reused
 * for `minIntervalMs` (a page refresh per viewer must not become a request per viewer to the
 * brokers), and a failure answered as a reason rather than thrown.
 */
export class GroupLagReader {
  private admin: Admin | null = null;
  private last: { at: number; value: GroupLag | { error: string } } | null = null;
  private pending: Promise<GroupLag | { error: string }> | null = null;

  constructor(
    private readonly kafka: KafkaSection,
    private readonly opts: KafkaClientOptions & { minIntervalMs?: number } = {},
  ) {}

  async read(): Promise<GroupLag | { error: string }> {
    // Reused for the interval after the answer came (a failure too: brokers that are down are
    // not asked again by every page view).
    if (this.last && Date.now() - this.last.at < (this.opts.minIntervalMs ?? 5_000)) return this.last.value;
    this.pending ??= this.fetch().then(
      (value) => {
        this.last = { at: Date.now(), value };
        this.pending = null;
        return value;
      },
      (e: unknown) => {
        this.pending = null;
        throw e;
      },
    );
    return this.pending;
  }

  private async fetch(): Promise<GroupLag | { error: string }> {
    try {
      this.admin ??= await connectAdmin(createKafkaClient(this.kafka, this.opts), this.kafka);
      return await consumerGroupLag(this.admin, this.kafka.flowTopic, this.kafka.consumerGroup);
    } catch (e) {
      // Reconnect next time: the brokers may have moved or restarted.
      const a = this.admin;
      this.admin = null;
      await a?.disconnect().catch(() => undefined);
      const msg = e instanceof KafkaTransportError ? e.message : `Kafka brokers ${this.kafka.brokers.join(',')}: ${(e as Error).message}`;
      return { error: msg };
    }
  }

  async close(): Promise<void> {
    const a = this.admin;
    this.admin = null;
    await a?.disconnect();
  }
}
