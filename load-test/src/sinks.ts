import { CountingSink, type FlowSink } from '@haystack/transport';

/** What `haystack ingest` publishes to without Kafka, checking every batch's CRC as a consumer would. */
export const countingSink = (partitions: number): CountingSink => new CountingSink(partitions, true);

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
