import type { DetectorRows } from '@haystack/store';
import { BatchHandedBackError } from '@haystack/transport';
import { GroupRows } from './group-rows.js';

/** A group's batches were dropped before storage (the source delivers them again). */
export class GroupAbandonedError extends BatchHandedBackError {
  constructor(reason: string) {
    super(`batches taken in but not stored: ${reason} (they are delivered again)`);
    this.name = 'GroupAbandonedError';
  }
}

/** Consecutive batches of one partition whose rows are stored together, keyed by `first`. */
export class OpenGroup {
  private readonly merged: GroupRows;
  /** Offset of the last batch added. */
  last: number;
  batches = 0;
  /** Settles when the group's rows are stored (or it failed or was abandoned): every batch's `stored` hangs on it. */
  readonly done: Promise<void>;
  private settle!: { resolve: () => void; reject: (e: unknown) => void };

  constructor(
    readonly partition: number,
    readonly first: number,
  ) {
    this.last = first - 1;
    this.merged = new GroupRows(first);
    this.done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    // Each batch observes `done` through its own chain; this one only keeps an unobserved rejection quiet.
    this.done.catch(() => undefined);
  }

  add(rows: DetectorRows, offset: number): void {
    this.merged.add(rows);
    this.last = offset;
    this.batches++;
  }

  /** The group's rows, one per fact (group-rows.ts). */
  rows(): DetectorRows {
    return this.merged.rows();
  }

  resolve(): void {
    this.settle.resolve();
  }

  reject(e: unknown): void {
    this.settle.reject(e);
  }
}

/**
 * Which batches of a partition share their stored rows. The rows of a group are merged per
 * fact and keyed by the group's first offset (group-rows.ts), so a group must come out the
 * same whenever its batches are delivered again (after a crash, a failed insert, or on
 * another member after a rebalance), or a redelivery would store the same flows under another
 * key and count them twice. So the boundaries follow from the log alone:
 *
 * - a group ends after a batch without BATCH_CONTINUES (ingest flushed it by time or at stop;
 *   health snapshots, undecodable batches and batches of older producers never carry it),
 * - after the last offset of an offset-aligned bucket of `size` offsets (under sustained load
 *   every batch is full: this bounds what a partition holds back), and
 * - before a batch that does not follow the last one (a gap in the offsets).
 *
 * Every batch of a group resolves `stored` only when the group is stored, so a committed
 * position is always a group's end and a redelivery starts where a group starts. A group is
 * never stored cut short: at stop, after a failed insert of the partition, on a new group
 * generation or a redelivery of batches held here, the open group is abandoned (its batches
 * are handed back unstored and delivered again, to form the same group).
 */
export class BatchGroups {
  private readonly open = new Map<number, OpenGroup>();

  constructor(
    /** Offsets per bucket (1: every batch is its own group). */
    readonly size: number,
    private readonly onClose: (g: OpenGroup) => void,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`group size must be a positive integer, got ${size}`);
  }

  /**
   * The group size for a source that lets a partition hold back `inFlight` batches: half of it
   * (the next group is taken in while one is stored), a power of two, at most 16.
   */
  static sizeFor(inFlight: number): number {
    let s = 1;
    while (s * 2 <= Math.min(16, Math.floor(inFlight / 2))) s *= 2;
    return s;
  }

  /** Batches held back in open groups, over all partitions. */
  held(): number {
    let n = 0;
    for (const g of this.open.values()) n += g.batches;
    return n;
  }

  /** `offset` is at or before what the partition's open group already holds: the source went back. */
  rewinds(partition: number, offset: number): boolean {
    const g = this.open.get(partition);
    return g !== undefined && offset <= g.last;
  }

  /**
   * Take in a batch's rows. `continues`: the batch carries BATCH_CONTINUES. Returns the group:
   * its `done` is the batch's storage.
   */
  add(partition: number, offset: number, rows: DetectorRows, continues: boolean): OpenGroup {
    let g = this.open.get(partition);
    if (g && (offset !== g.last + 1 || Math.floor(offset / this.size) !== Math.floor(g.first / this.size))) {
      this.close(partition);
      g = undefined;
    }
    if (!g) this.open.set(partition, (g = new OpenGroup(partition, offset)));
    g.add(rows, offset);
    if (!continues || (offset + 1) % this.size === 0) this.close(partition);
    return g;
  }

  /** Whether `partition` has an open group. */
  isOpen(partition: number): boolean {
    return this.open.has(partition);
  }

  /** Drop a partition's open group without storing it; its batches are rejected. Returns whether there was one. */
  abandon(partition: number, reason: string): boolean {
    const g = this.open.get(partition);
    if (!g) return false;
    this.open.delete(partition);
    g.reject(new GroupAbandonedError(reason));
    return true;
  }

  /** Abandon every open group; returns their partitions. */
  abandonAll(reason: string): number[] {
    const parts = [...this.open.keys()];
    for (const p of parts) this.abandon(p, reason);
    return parts;
  }

  private close(partition: number): void {
    const g = this.open.get(partition)!;
    this.open.delete(partition);
    this.onClose(g);
  }
}
