import { BatchWriter, F, openBatch, readRecord } from '@haystack/flow-core';

/**
 * Real flow batches for the transport tests: written with BatchWriter at the batch.ts
 * offsets and sealed with finish() (header + CRC), tagged so a received batch says
 * which partition and sequence number it was published as.
 */
export function makeBatch(partition: number, seq: number, records = 3): Buffer {
  const w = new BatchWriter(records);
  const o0 = w.reserve(records);
  for (let i = 0; i < records; i++) {
    const o = o0 + i * (w.offset(1) - w.offset(0));
    const b = w.buf;
    const dv = w.dv;
    dv.setFloat64(o + F.start, 1_700_000_000_000 + seq * 1000 + i, true);
    dv.setFloat64(o + F.end, 1_700_000_000_500 + seq * 1000 + i, true);
    dv.setFloat64(o + F.bytes, 1500 * (i + 1), true);
    dv.setFloat64(o + F.packets, i + 1, true);
    // ::ffff:10.<partition>.<seq>.<i> → ::ffff:203.0.113.<i>
    b[o + F.src + 10] = 0xff;
    b[o + F.src + 11] = 0xff;
    b.set([10, partition & 0xff, seq & 0xff, i & 0xff], o + F.src + 12);
    b[o + F.dst + 10] = 0xff;
    b[o + F.dst + 11] = 0xff;
    b.set([203, 0, 113, i & 0xff], o + F.dst + 12);
    b[o + F.exporter + 10] = 0xff;
    b[o + F.exporter + 11] = 0xff;
    b.set([192, 0, 2, 1], o + F.exporter + 12);
    dv.setUint32(o + F.sampling, 1000, true);
    dv.setUint16(o + F.srcPort, 40000 + i, true);
    dv.setUint16(o + F.dstPort, 443, true);
    b[o + F.proto] = 6;
    b[o + F.ipVersion] = 4;
    b[o + F.direction] = 0;
    b[o + F.side] = 1;
    dv.setUint16(o + F.templateId, 256, true);
    b[o + F.version] = 9;
  }
  w.count += records;
  return w.finish(1_700_000_000_000 + seq, partition);
}

/** Partition and sequence a makeBatch() batch was made for; throws if the batch is damaged (CRC). */
export function batchTag(buf: Buffer): { partition: number; seq: number } {
  const v = openBatch(buf);
  const r = readRecord(v.buf, v.dv, 0);
  const seq = v.createdMs - 1_700_000_000_000;
  if (r.start !== 1_700_000_000_000 + seq * 1000) throw new Error('batch records do not match its header');
  return { partition: v.producerField, seq };
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Collects what handlers observed and lets a test wait for a condition without clocks:
 * `waitFor` re-checks after every `changed()`. An assertion failing inside a handler would
 * only make the transport retry the batch forever, so handlers report it via `fail()` and
 * `waitFor` rejects with it.
 */
export class Observer {
  private checks = new Set<() => void>();
  error: unknown;

  changed(): void {
    for (const c of [...this.checks]) c();
  }

  fail(e: unknown): void {
    this.error ??= e;
    this.changed();
  }

  /** Wrap a handler: its exceptions are recorded (and swallowed unless `rethrow`). */
  guard<A extends unknown[], R = void>(fn: (...a: A) => Promise<R> | R): (...a: A) => Promise<R | undefined> {
    return async (...a: A) => {
      try {
        return await fn(...a);
      } catch (e) {
        this.fail(e);
        return undefined;
      } finally {
        this.changed();
      }
    };
  }

  /**
   * Resolves once `cond` holds (checked on every change). Rejects with the first recorded
   * error, or after `timeoutMs` (default 90 s) naming `what` and the `state()` at that moment,
   * so a group that never settles fails the test with a reason instead of hanging it.
   */
  waitFor(cond: () => boolean, opts: { what?: string; timeoutMs?: number; state?: () => unknown } = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 90_000;
    return new Promise((resolve, reject) => {
      const finish = (err?: unknown) => {
        this.checks.delete(check);
        clearTimeout(timer);
        if (err === undefined) resolve();
        else reject(err);
      };
      const check = () => {
        if (this.error !== undefined) finish(this.error);
        else if (cond()) finish();
      };
      const timer = setTimeout(() => {
        const state = opts.state ? ` (state: ${JSON.stringify(opts.state())})` : '';
        finish(new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}${state}`));
      }, timeoutMs);
      this.checks.add(check);
      check();
    });
  }
}
