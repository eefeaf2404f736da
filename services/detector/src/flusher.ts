import type { Logger } from '@haystack/common';
import { appendRows, emptyRows, rowCount, type DetectorRows } from '@haystack/store';
import type { DetectorStorage } from './storage.js';

export interface FlusherOptions {
  /** Longest a submission waits for others to join its insert. */
  maxDelayMs: number;
  /** Insert as soon as this many rows are buffered. */
  maxRows: number;
  /** Insert attempts per flush before its submissions are rejected (their batches are then retried by the source). */
  attempts: number;
  /** Back-off between attempts: initialMs doubling up to maxMs. */
  backoff?: { initialMs?: number; maxMs?: number };
  log: Logger;
  onRetry?: (err: unknown, attempt: number) => void;
  onFailure?: (err: unknown) => void;
}

interface Submission {
  rows: DetectorRows;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class FlushAbortedError extends Error {
  constructor() {
    super('detector stopping: buffered rows not inserted (their batches stay uncommitted and are delivered again)');
    this.name = 'FlushAbortedError';
  }
}

/**
 * Groups the rows of batches handled at the same time (one per partition in flight) into one
 * insert per table, and resolves each batch's handler only once its rows are stored, so the
 * source commits a position only after the insert. One insert runs at a time; while it runs,
 * submissions gather for the next one (group commit). Otherwise an insert starts when every
 * handler in flight is waiting here, when maxRows are buffered, or after maxDelayMs. A failing insert is retried
 * with back-off a few times (rows written by an earlier attempt are not written again); then
 * the submissions are rejected and the source retries their batches later, with its own
 * back-off, without committing them.
 */
export class Flusher {
  private pending: Submission[] = [];
  private rows = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  /** An insert is running (the next group forms meanwhile). */
  private busy = false;
  private aborted = false;
  private sleepers = new Set<() => void>();
  /** Handlers currently between start and finish (kept by the detector). */
  inFlight = 0;
  /** Submissions in the group being inserted (their handlers are in flight but have nothing more to add). */
  private inserting = 0;
  /** Insert at once (stopping: nobody else is coming). */
  urgent = false;
  inserts = 0;
  retries = 0;
  failures = 0;

  constructor(
    private readonly storage: DetectorStorage,
    private readonly opts: FlusherOptions,
  ) {}

  submit(rows: DetectorRows): Promise<void> {
    if (this.aborted) return Promise.reject(new FlushAbortedError());
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ rows, resolve, reject });
      this.rows += rowCount(rows);
      this.maybeFlush();
    });
  }

  /** Called when a handler finishes or stops counting as in flight (may complete a group). */
  maybeFlush(): void {
    if (this.pending.length === 0) return;
    if (this.busy) return; // taken as the next group when the running insert ends
    if (this.urgent || this.pending.length >= this.inFlight - this.inserting || this.rows >= this.opts.maxRows || this.opts.maxDelayMs === 0) {
      this.kick();
      return;
    }
    this.timer ??= setTimeout(() => this.kick(), this.opts.maxDelayMs);
  }

  /** Insert everything buffered now; resolves when it is stored (or failed). */
  async flush(): Promise<void> {
    do {
      this.kick();
      await this.running;
    } while (this.pending.length > 0 && !this.aborted);
  }

  /** Stop retrying; reject what is buffered or being retried. */
  abort(): void {
    this.aborted = true;
    for (const w of this.sleepers) w();
    this.sleepers.clear();
    const p = this.pending;
    this.pending = [];
    this.rows = 0;
    for (const s of p) s.reject(new FlushAbortedError());
  }

  /**
   * Start an insert of everything pending, unless one is running: then what arrives meanwhile
   * waits and goes in the next insert as one group (group commit: under load each insert takes
   * everything that came during the previous one; idle, nothing waits).
   */
  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0 || this.busy) return;
    const group = this.pending;
    this.pending = [];
    this.rows = 0;
    this.busy = true;
    this.inserting = group.length;
    this.running = this.insertGroup(group)
      .catch((e: unknown) => {
        // insertGroup settles every submission itself; this only keeps the flusher alive.
        this.opts.log.error({ err: e }, 'detector flusher fault');
        for (const s of group) s.reject(e);
      })
      .finally(() => {
        this.busy = false;
        this.inserting = 0;
        if (this.pending.length > 0) this.kick();
      });
  }

  private async insertGroup(group: Submission[]): Promise<void> {
    const all = emptyRows();
    for (const s of group) appendRows(all, s.rows);
    const done = new Set<keyof DetectorRows>();
    let delay = this.opts.backoff?.initialMs ?? 100;
    const maxDelay = this.opts.backoff?.maxMs ?? 5_000;
    for (let attempt = 1; ; attempt++) {
      if (this.aborted) {
        for (const s of group) s.reject(new FlushAbortedError());
        return;
      }
      try {
        await this.storage.insert(all, done);
        this.inserts++;
        for (const s of group) s.resolve();
        return;
      } catch (e) {
        if (attempt >= this.opts.attempts) {
          this.failures++;
          this.opts.onFailure?.(e);
          this.opts.log.warn(
            { err: e, attempts: attempt, batches: group.length },
            'storing detector rows failed; the batches stay uncommitted and will be delivered again',
          );
          for (const s of group) s.reject(e);
          return;
        }
        this.retries++;
        this.opts.onRetry?.(e, attempt);
        this.opts.log.debug({ err: e, attempt }, 'detector insert failed, retrying');
        await this.sleep(delay);
        delay = Math.min(maxDelay, delay * 2);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.sleepers.delete(wake);
        resolve();
      }, ms);
      const wake = () => {
        clearTimeout(t);
        resolve();
      };
      this.sleepers.add(wake);
    });
  }
}
