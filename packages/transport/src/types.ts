/**
 * The boundary between ingest and detection. Ingest publishes flow batches (see
 * @haystack/flow-core batch.ts) to a partition chosen from the subscriber line, so all
 * flows of a line land in one partition; detectors consume partitions as a group.
 * Embedded mode uses the in-process bus, distributed mode Kafka: same interface.
 */
export interface FlowSink {
  /** Number of partitions of the flow topic (ingest groups records per partition). */
  readonly partitions: number;
  /** Publish one batch to a partition. Resolves when the transport has accepted it (acks per config). */
  publish(partition: number, batch: Buffer): Promise<void>;
  close(): Promise<void>;
}

export interface BatchMeta {
  readonly partition: number;
  /** Transport position (Kafka offset as a string; in-process sequence number). */
  readonly offset: string;
}

export interface FlowSource {
  /**
   * Deliver batches to `handler` in partition order. A batch's position is committed
   * only after its handler resolved, so a crash redelivers rather than loses.
   */
  run(handler: (batch: Buffer, meta: BatchMeta) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}
