import type { HaystackConfig, Logger } from '@haystack/common';
import { decodeHealth, isHealth, openBatch, type HealthSnapshot } from '@haystack/flow-core';
import { KafkaFlowSink, type FlowSink } from '@haystack/transport';

/**
 * Where ingest publishes when no detector runs in this process and no Kafka is
 * configured: it validates and counts batches per partition, so `haystack replay`
 * reports what it would have published.
 */
export class CountingSink implements FlowSink {
  readonly perPartition: number[];
  batches = 0;
  records = 0;
  readonly health: HealthSnapshot[] = [];
  constructor(readonly partitions: number) {
    this.perPartition = new Array<number>(partitions).fill(0);
  }
  async publish(partition: number, batch: Buffer): Promise<void> {
    if (isHealth(batch)) {
      this.health.push(decodeHealth(batch));
      return;
    }
    const v = openBatch(batch, false); // built and checksummed in this process a moment ago
    this.batches++;
    this.records += v.count;
    this.perPartition[partition]! += v.count;
  }
  async close(): Promise<void> {}
}

/** Kafka when brokers are configured, else a counting sink with `embeddedPartitions` partitions. */
export async function sinkFor(config: HaystackConfig, log: Logger, embeddedPartitions = 4): Promise<FlowSink> {
  if (config.kafka.brokers.length === 0) return new CountingSink(embeddedPartitions);
  return KafkaFlowSink.connect({ kafka: config.kafka, logger: log });
}
