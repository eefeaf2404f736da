import { TYPE_A, TYPE_AAAA, TYPE_CNAME } from './dns.js';

/** One passive-DNS tuple of one day: what the hitlist needs, never who asked. */
export interface PdnsTuple {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  name: string;
  type: 'A' | 'AAAA' | 'CNAME';
  data: string;
  /** Unix ms. */
  first: number;
  last: number;
  count: number;
}

const TYPE_NAME: Record<number, PdnsTuple['type']> = { [TYPE_A]: 'A', [TYPE_AAAA]: 'AAAA', [TYPE_CNAME]: 'CNAME' };

export interface AggregatorOptions {
  /** Tuples held in memory before a flush is forced (bounded memory under any query mix). */
  maxTuples: number;
  /** Called with a full window; the aggregator goes on with an empty one at once. */
  flush: (tuples: PdnsTuple[], reason: 'size' | 'interval' | 'stop') => void;
}

/**
 * Aggregates answers into per-day tuples (name, type, data → first seen, last seen, count).
 * Memory is bounded by `maxTuples`: reaching it hands the window to `flush` and starts a new
 * one, so a flood of unique names costs flushes, never memory. The same tuple in two windows
 * is summed by the store (min first, max last, sum count).
 */
export class Aggregator {
  private tuples = new Map<string, PdnsTuple>();
  private dayCache = { start: 0, end: 0, text: '' };

  constructor(private readonly o: AggregatorOptions) {}

  get size(): number {
    return this.tuples.size;
  }

  private day(ms: number): string {
    const c = this.dayCache;
    if (ms >= c.start && ms < c.end) return c.text;
    const start = Math.floor(ms / 86_400_000) * 86_400_000;
    this.dayCache = { start, end: start + 86_400_000, text: new Date(start).toISOString().slice(0, 10) };
    return this.dayCache.text;
  }

  add(name: string, type: number, data: string, atMs: number): void {
    const t = TYPE_NAME[type];
    if (!t) return;
    const day = this.day(atMs);
    // One flat string (a template literal is a rope of ~7 heap objects, held as long as the tuple).
    const key = [day, t, name, data].join('\t');
    const cur = this.tuples.get(key);
    if (cur) {
      if (atMs < cur.first) cur.first = atMs;
      if (atMs > cur.last) cur.last = atMs;
      cur.count++;
      return;
    }
    this.tuples.set(key, { day, name, type: t, data, first: atMs, last: atMs, count: 1 });
    if (this.tuples.size >= this.o.maxTuples) this.flush('size');
  }

  flush(reason: 'size' | 'interval' | 'stop'): void {
    if (this.tuples.size === 0) return;
    const out = [...this.tuples.values()];
    this.tuples = new Map();
    this.o.flush(out, reason);
  }
}
