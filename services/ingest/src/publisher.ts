import type { PrefixSet, Logger } from '@haystack/common';
import { BATCH_CONTINUES, F, HEADER_SIZE, RECORD_SIZE, SIDE_DST, SIDE_SRC, sealBatch, type BatchWriter } from '@haystack/flow-core';
import { partitionForBytes, type FlowSink } from '@haystack/transport';

export interface PublisherOptions {
  sink: FlowSink;
  /** Which end of a flow is the subscriber line. */
  subscriberPrefixes: PrefixSet;
  /** IPv6 line prefix length in bits (a /56 keeps a line's rotating addresses together). */
  ipv6LinePrefixLength: number;
  /** Records per published batch. */
  maxRecords: number;
  /** Batches in flight to the sink before `backpressure` applies (default: 4 per partition, at least 64). */
  maxInFlight?: number;
  /**
   * With `maxInFlight` batches outstanding: 'drop' (live collection; UDP cannot be paused, so a
   * full batch is dropped and counted in droppedBackpressure) or 'wait' (a replay: a file can
   * wait, so every batch is published and the reader holds back on `ready()`). Default 'drop'.
   */
  backpressure?: 'drop' | 'wait';
  log?: Logger;
  /**
   * Key records with no subscriber side by their client end (the end with the higher port,
   * an ephemeral one) instead of their source: at an IXP, where no end is a line, a host's flows
   * and the replies to them then meet in one partition (one detector sees all of a host).
   */
  clientKey?: boolean;
}

/** Every publisher counter at zero (a new publisher; a sum's start; a collector without one). */
export function emptyPublisherCounters(): PublisherCounters {
  return { records: 0, batches: 0, noSubscriber: 0, bothSubscribers: 0, droppedBackpressure: 0, publishErrors: 0, endBatches: 0 };
}

export interface PublisherCounters {
  records: number;
  batches: number;
  /** Records where neither end is a subscriber line (published, keyed by source). */
  noSubscriber: number;
  /** Records with a subscriber at both ends (keyed by source). */
  bothSubscribers: number;
  /** Records dropped because the sink was too far behind. */
  droppedBackpressure: number;
  publishErrors: number;
  /** Empty batches that ended a run of full ones (flush() with nothing staged after a full batch). */
  endBatches: number;
}

const WORDS = RECORD_SIZE >> 2;

/** Decide and write which end(s) of the record at `o` are subscriber lines (also for `haystack decode`). */
export function markSubscriberSide(buf: Uint8Array, dv: DataView, o: number, subs: PrefixSet): number {
  const v4 = buf[o + F.ipVersion] === 4;
  // Decoders write IPv4 as IPv4-mapped: test the address as one u32 (the common case).
  const s = v4 ? subs.containsV4(dv.getUint32(o + F.src + 12)) : subs.contains(buf, o + F.src);
  const d = v4 ? subs.containsV4(dv.getUint32(o + F.dst + 12)) : subs.contains(buf, o + F.dst);
  const side = (s ? SIDE_SRC : 0) | (d ? SIDE_DST : 0);
  buf[o + F.side] = side;
  return side;
}

/**
 * Marks each record's subscriber side and groups records into one batch per partition,
 * the partition chosen from the subscriber line (IPv4 address, or IPv6 prefix) with
 * Kafka's murmur2 partitioner: every flow of a line lands in the same partition.
 */
export class Publisher {
  readonly counters: PublisherCounters = emptyPublisherCounters();
  /** Per partition: the next batch being filled, records from HEADER_SIZE on (sealed in place). */
  private readonly staging: Buffer[];
  private readonly staging32: Int32Array[];
  private readonly batchBytes: number;
  /** The sink hands out batch memory and takes it back once published. */
  private readonly recycles: boolean;
  private readonly counts: Uint32Array;
  /** 1 where the partition's last published batch carried BATCH_CONTINUES (flush() then ends it). */
  private readonly continued: Uint8Array;
  private readonly keyBytes: number;
  private readonly lastMask: number;
  private readonly key = new Uint8Array(16);
  private inFlight = 0;
  private readonly pending = new Set<Promise<void>>();
  private readonly maxInFlight: number;
  private readonly waits: boolean;

  constructor(private readonly opts: PublisherOptions) {
    const n = opts.sink.partitions;
    this.batchBytes = HEADER_SIZE + opts.maxRecords * RECORD_SIZE;
    this.recycles = typeof opts.sink.batchBuffer === 'function';
    this.staging = Array.from({ length: n }, () => this.newBatchBuffer());
    this.staging32 = this.staging.map((b) => new Int32Array(b.buffer, b.byteOffset, b.length >> 2));
    this.counts = new Uint32Array(n);
    this.continued = new Uint8Array(n);
    this.keyBytes = Math.ceil(opts.ipv6LinePrefixLength / 8);
    const rem = opts.ipv6LinePrefixLength % 8;
    this.lastMask = rem === 0 ? 0xff : (0xff << (8 - rem)) & 0xff;
    // A flush by time emits every partition's batch at once: a fixed limit below a few batches
    // per partition would drop a healthy flush on a topic of many partitions.
    this.maxInFlight = opts.maxInFlight ?? Math.max(64, 4 * n);
    this.waits = opts.backpressure === 'wait';
  }

  /** Take every record of `w` (then reset it). */
  add(w: BatchWriter): void {
    const src = w.buf;
    const dv = w.dv;
    // BatchWriter buffers come from Buffer.alloc (own ArrayBuffer, offset 0): word-aligned.
    if ((src.byteOffset & 3) !== 0) throw new Error('Publisher.add: batch buffer is not 4-byte aligned');
    const src32 = new Int32Array(src.buffer, src.byteOffset, src.length >> 2);
    const subs = this.opts.subscriberPrefixes;
    const parts = this.staging.length;
    for (let i = 0; i < w.count; i++) {
      const o = HEADER_SIZE + i * RECORD_SIZE;
      const side = markSubscriberSide(src, dv, o, subs);
      if (side === 0) this.counters.noSubscriber++;
      else if (side === (SIDE_SRC | SIDE_DST)) this.counters.bothSubscribers++;
      const at =
        side === SIDE_DST || (side === 0 && this.opts.clientKey && dv.getUint16(o + F.dstPort, true) > dv.getUint16(o + F.srcPort, true))
          ? o + F.dst
          : o + F.src;
      let p: number;
      if (src[o + F.ipVersion] === 4) p = partitionForBytes(src, at + 12, 4, parts);
      else {
        const k = this.key;
        const kb = this.keyBytes;
        for (let j = 0; j < kb; j++) k[j] = src[at + j]!;
        k[kb - 1]! &= this.lastMask;
        p = partitionForBytes(k, 0, kb, parts);
      }
      const c = this.counts[p]!;
      // Word moves (34) beat a Buffer#copy call per record (both buffers are 4-byte aligned).
      const dst32 = this.staging32[p]!;
      for (let k = 0, a = o >> 2, b = (HEADER_SIZE + c * RECORD_SIZE) >> 2; k < WORDS; k++) dst32[b + k] = src32[a + k]!;
      this.counts[p] = c + 1;
      if (c + 1 === this.opts.maxRecords) this.emit(p, true);
    }
    this.counters.records += w.count;
    w.reset();
  }

  /**
   * Publish every non-empty partition buffer. A partition whose last batch went out full
   * (BATCH_CONTINUES) and has nothing staged gets an empty batch without the flag: the
   * detector holds a flagged batch's group open until a batch without it, so a pause in the
   * flows (or ingest stopping) must end it.
   */
  flush(): void {
    for (let p = 0; p < this.staging.length; p++) if (this.counts[p]! > 0 || this.continued[p] === 1) this.emit(p, false);
  }

  /** Flush and wait for everything in flight. */
  async drain(): Promise<void> {
    this.flush();
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /** Resolves when every publish started so far has settled (not those started meanwhile). */
  async settled(): Promise<void> {
    if (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /** `maxInFlight` publishes or more are outstanding: a reader that can wait should (`ready()`). */
  get full(): boolean {
    return this.inFlight >= this.maxInFlight;
  }

  /** Resolves once fewer than `maxInFlight` publishes are outstanding (replay uses it for backpressure). */
  async ready(): Promise<void> {
    while (this.full) await Promise.race(this.pending);
  }

  /** Word-aligned (own ArrayBuffer, or the sink's recycled one). */
  private newBatchBuffer(): Buffer {
    const b = this.opts.sink.batchBuffer?.(this.batchBytes) ?? Buffer.from(new ArrayBuffer(this.batchBytes));
    if ((b.byteOffset & 3) !== 0 || b.length < this.batchBytes) throw new Error('Publisher: a batch buffer must be word-aligned and hold a whole batch');
    return b;
  }

  /** `full`: flushed because the batch filled up, so the partition's flows continue (BATCH_CONTINUES). */
  private emit(p: number, full: boolean): void {
    const n = this.counts[p]!;
    this.counts[p] = 0;
    // 'wait': over the limit by at most what the reader adds between two checks of `full`, and
    // by one batch per partition when a flush emits them all at once.
    if (this.full && !this.waits) {
      this.counters.droppedBackpressure += n;
      return;
    }
    // The staging buffer becomes the batch (header written in place, no copy) and the partition
    // stages into fresh memory, recycled by the sink where it can (BatchBuffers). A sink that
    // keeps batches (the in-process bus) gets a short batch as an exact copy instead: a few
    // records must not hold a whole batch's memory while they wait in its queue.
    const sealed = sealBatch(this.staging[p]!, n, Date.now(), p, full ? BATCH_CONTINUES : 0);
    this.continued[p] = full ? 1 : 0;
    let batch = sealed;
    if (this.recycles || n * 2 >= this.opts.maxRecords) {
      const next = this.newBatchBuffer();
      this.staging[p] = next;
      this.staging32[p] = new Int32Array(next.buffer, next.byteOffset, next.length >> 2);
    } else batch = Buffer.from(sealed);
    this.counters.batches++;
    if (n === 0) this.counters.endBatches++;
    this.inFlight++;
    const pr: Promise<void> = this.opts.sink
      .publish(p, batch)
      .catch((err: unknown) => {
        this.counters.publishErrors++;
        this.opts.log?.error({ err, partition: p, records: n }, 'publishing a flow batch failed');
      })
      .finally(() => {
        this.inFlight--;
        this.pending.delete(pr);
      });
    this.pending.add(pr);
  }
}
