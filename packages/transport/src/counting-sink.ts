import { decodeHealth, isHealth, openBatch, type HealthSnapshot } from '@haystack/flow-core';
import type { FlowSink } from './types.js';
import { BatchBuffers } from './batch-buffers.js';

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
  /** Counted and forgotten: a batch's memory serves the next one. */
  readonly buffers = new BatchBuffers();
  /** `verifyCrc`: check every batch's CRC-32 too (benchmarks: the work a real consumer does). */
  constructor(
    readonly partitions: number,
    private readonly verifyCrc = false,
  ) {
    this.perPartition = new Array<number>(partitions).fill(0);
  }
  async publish(partition: number, batch: Buffer): Promise<void> {
    if (isHealth(batch)) {
      this.health.push(decodeHealth(batch));
      return;
    }
    const v = openBatch(batch, this.verifyCrc); // built and checksummed in this process a moment ago
    this.batches++;
    this.records += v.count;
    this.perPartition[partition]! += v.count;
    this.buffers.give(batch);
  }
  batchBuffer(bytes: number): Buffer {
    return this.buffers.take(bytes);
  }
  async close(): Promise<void> {}
}
