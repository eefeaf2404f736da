import { openBatch } from '@haystack/flow-core';
import type { FlowSink } from '@haystack/transport';

/**
 * The same work as packages/cli's CountingSink (what `haystack ingest` publishes to without
 * Kafka): validate each batch (magic, sizes, CRC-32) and count records per partition.
 * Copied rather than imported so the load test does not pull in the CLI and its Kafka client.
 */
export class CountingSink implements FlowSink {
  readonly perPartition: number[];
  batches = 0;
  records = 0;
  constructor(readonly partitions: number) {
    this.perPartition = new Array<number>(partitions).fill(0);
  }
  async publish(partition: number, batch: Buffer): Promise<void> {
    const v = openBatch(batch);
    this.batches++;
    this.records += v.count;
    this.perPartition[partition]! += v.count;
  }
  async close(): Promise<void> {}
}

/** Counts records from the batch header only: what partitioning costs without the sink's CRC check. */
export class NullSink implements FlowSink {
  batches = 0;
  records = 0;
  constructor(readonly partitions: number) {}
  async publish(_partition: number, batch: Buffer): Promise<void> {
    this.batches++;
    this.records += batch.readUInt32LE(8);
  }
  async close(): Promise<void> {}
}
