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
  /**
   * Optional: memory of at least `bytes` for the next batch, recycled from batches this sink
   * is done with (see BatchBuffers). Offered only by sinks that keep no reference to a batch
   * once its publish resolved; not by the in-process bus, whose consumer reads it later.
   */
  batchBuffer?(bytes: number): Buffer;
}

export interface BatchMeta {
  readonly partition: number;
  /** Transport position (Kafka offset as a string; in-process sequence number). */
  readonly offset: string;
}

/**
 * What a handler may return once it has taken a batch in (processed it, its rows buffered):
 * `stored` settles when they are durable. The source may deliver the next batches meanwhile
 * (pipelining, so storage writes group many batches) and commits a position only once its
 * batch and every one before it are stored. A rejected `stored` makes the source deliver
 * that batch again, and those after it.
 */
export interface Accepted {
  readonly stored: Promise<void>;
}

/**
 * Handles one batch, in partition order. Resolving without a result means the batch is
 * done (its position may be committed); resolving with `Accepted` defers that to `stored`.
 * A rejection is retried with back-off, the batch is never skipped.
 */
export type FlowHandler = (batch: Buffer, meta: BatchMeta) => Promise<void | Accepted>;

export interface FlowSource {
  /**
   * Deliver batches to `handler` in partition order. A batch's position is committed
   * only after its handler resolved, so a crash redelivers rather than loses.
   * Resolves once delivery has started (Kafka: joined the group); delivery goes on in the
   * background until close(). A handler that rejects is retried with back-off, never
   * skipped: handlers count and skip invalid batches themselves (e.g. BatchFormatError).
   */
  run(handler: FlowHandler): Promise<void>;
  /**
   * Batches of one partition a handler may have taken in whose `stored` has not settled yet
   * (Kafka: maxInFlight; 1 for a source that waits for each batch to be stored before the
   * next). A handler must never hold more than this many back, or delivery stops.
   */
  readonly inFlightPerPartition: number;
  /**
   * Optional: tells `listener` each time this member's partitions are assigned anew (a Kafka
   * group generation); delivery then restarts from the committed positions. Returns an
   * unsubscribe function.
   */
  onAssignment?(listener: (partitions: number[]) => void): () => void;
  /**
   * Settles with the error that ended delivery for good (Kafka: a consumer crash the client
   * will not restart from). Never settles for a source that cannot fail that way. A service
   * should exit on it so its supervisor restarts it, instead of idling while lag grows.
   */
  failed(): Promise<Error>;
  /** Stop after the handlers in flight; their positions are committed, the rest redelivered later. */
  close(): Promise<void>;
}
