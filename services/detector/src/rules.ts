import type { LoadedHitlist } from '@haystack/hitlist-contract';
import type { ClassHierarchy } from './hierarchy.js';
import { KeySet, V4Set } from './line-sets.js';
import { DAY_MS, dayOf, type DetectionRow, HOUR_MS, type LineIds, ts, ts64, type Window } from '@haystack/store';

/**
 * Default detection thresholds: distinct evidence domains of a class a line must contact
 * within the window. Chosen by the accuracy benchmark (load-test/results/accuracy-day-hitlist:
 * 3,000 simulated lines, 2 days, sampling 1:100, 1:1000, 1:10000, thresholds 1–3): with the
 * day's own hitlist addresses, 1 domain keeps the false-positive rate at or below 0.035 % at
 * every level and sampling rate while giving the best recall (product within 24 h: 95 % at
 * 1:100, 95 % at 1:1000, 85 % at 1:10000); 2 and 3 only cost recall.
 * Overridden by detector.thresholds (all classes) and detector.classThresholds (one class).
 */
export const DEFAULT_THRESHOLDS: Readonly<Record<'hourly' | 'daily', number>> = { hourly: 1, daily: 1 };

export interface ThresholdConfig {
  windows: readonly Window[];
  thresholds: { hourly: number | null; daily: number | null };
  classThresholds: Record<string, { hourly?: number; daily?: number }>;
}

const KEY: Record<Window, 'hourly' | 'daily'> = { hour: 'hourly', day: 'daily' };

/**
 * Effective threshold of a class in a window: detector.classThresholds.<class>.<window>,
 * else detector.thresholds.<window>, else the larger of DEFAULT_THRESHOLDS.<window> and the
 * hitlist rule's own threshold (the dictionary policy's minimum).
 */
export class Thresholds {
  readonly hour: boolean;
  readonly day: boolean;
  constructor(private readonly cfg: ThresholdConfig) {
    this.hour = cfg.windows.includes('hour');
    this.day = cfg.windows.includes('day');
  }

  of(classId: string, w: Window, ruleThreshold: number): number {
    const k = KEY[w];
    return this.cfg.classThresholds[classId]?.[k] ?? this.cfg.thresholds[k] ?? Math.max(DEFAULT_THRESHOLDS[k], ruleThreshold);
  }
}

/** Rule thresholds of a hitlist by class id (cached per loaded hitlist). */
const ruleCache = new WeakMap<LoadedHitlist, Map<string, number>>();
export function ruleThreshold(hl: LoadedHitlist | null | undefined, classId: string): number {
  if (!hl) return 1;
  let m = ruleCache.get(hl);
  if (!m) {
    m = new Map();
    for (const r of hl.meta.rules) {
      const c = hl.meta.classes[r.class];
      if (c) m.set(c.id, r.threshold);
    }
    ruleCache.set(hl, m);
  }
  return m.get(classId) ?? 1;
}

/** A line's evidence for one class in one UTC hour. */
export class HourWindow {
  /** Distinct evidence domains (few: a small array beats a Set in memory and speed). */
  readonly domains: string[] = [];
  detected = false;
  /** Latest first-seen time among the evidence (ms), for re-derived detections. */
  lastFirstMs = 0;
  constructor(readonly hour: number) {}
}

/** A line's evidence for one class on one day: the domains per window and what fired already. */
export class ClassWindows {
  readonly dayDomains: string[] = [];
  readonly hours: HourWindow[] = [];
  dayDetected = false;
  lastFirstMs = 0;
  constructor(readonly classId: string) {}

  hour(h: number): HourWindow {
    for (const w of this.hours) if (w.hour === h) return w;
    const w = new HourWindow(h);
    this.hours.push(w);
    return w;
  }
}

/**
 * One UTC day of a partition: lines seen (for active lines) and the evidence of matched lines,
 * per line a short list of its classes (a line has evidence of few classes).
 */
export class DayState {
  /** Lines seen on the day: IPv4 addresses, and other (IPv6 prefix) lines. */
  readonly active4 = new V4Set(1024);
  readonly active = new KeySet(256);
  readonly evidence = new Map<string, ClassWindows[]>();
  /** Rebuilt from storage (or known empty there)? */
  loaded = false;
  constructor(readonly day: number) {}

  /** The id of a line seen today, computed once and kept in the day's line set. */
  lineId(ids: LineIds, a: number, b: number, c: number, d: number, v4: boolean): string {
    let id = v4 ? this.active4.get(d) : this.active.get(a, b, c, d);
    if (id === undefined) {
      id = ids.id(a, b, c, d, v4, this.day);
      if (v4) this.active4.set(d, id);
      else this.active.set(a, b, c, d, id);
    }
    return id;
  }

  windows(line: string, classId: string): ClassWindows {
    let list = this.evidence.get(line);
    if (!list) this.evidence.set(line, (list = []));
    for (const cw of list) if (cw.classId === classId) return cw;
    const cw = new ClassWindows(classId);
    list.push(cw);
    return cw;
  }
}

/** A partition's state: local to the lines of that partition (ingest keys partitions by line). */
export class PartitionState {
  private readonly days = new Map<number, DayState>();
  private maxDay = -Infinity;
  constructor(
    readonly partition: number,
    /** Days kept in memory behind the newest one seen; older days are rebuilt from storage if flows for them arrive. */
    private readonly keepDays = 1,
  ) {}

  day(d: number): DayState {
    let s = this.days.get(d);
    if (!s) {
      s = new DayState(d);
      this.days.set(d, s);
      if (d > this.maxDay) {
        this.maxDay = d;
        for (const k of this.days.keys()) if (k < d - this.keepDays) this.days.delete(k);
      }
    }
    return s;
  }

  /** Lines already seen on day `d` (matcher.ts ActiveLines). */
  activeSet(d: number): KeySet {
    return this.day(d).active;
  }

  activeV4(d: number): V4Set {
    return this.day(d).active4;
  }

  peek(d: number): DayState | undefined {
    return this.days.get(d);
  }

  /** Forget everything (after a failed insert: storage is the truth, rebuilt on the next batch). */
  reset(): void {
    this.days.clear();
    this.maxDay = -Infinity;
    this.wasReset = true;
  }

  /** Set by reset(): even a source new to storage must rebuild from it now. */
  wasReset = false;

  get dayCount(): number {
    return this.days.size;
  }
}

export interface EvidenceEvent {
  line: string;
  classId: string;
  level: string;
  domain: string;
  /** Flow start (ms). */
  at: number;
  hitlistDay: string;
  ruleThreshold: number;
}

export interface Position {
  source: string;
  src_partition: number;
  src_offset: number;
}

/**
 * Applies evidence to a day's state and emits detections: a line is detected hosting class C
 * in a window when it contacted at least threshold(C, window) distinct evidence domains of C
 * in it; the detection of a product also names its manufacturer and platforms (rows with
 * via = the product). Each (window, class, line) fires once per process; a re-emission after
 * a restart collapses in storage (same key).
 */
export class DetectionEngine {
  constructor(
    readonly thresholds: Thresholds,
    private readonly hierarchy: () => ClassHierarchy | null,
  ) {}

  add(ds: DayState, ev: EvidenceEvent, pos: Position, out: DetectionRow[]): number {
    const cw = ds.windows(ev.line, ev.classId);
    const hour = Math.floor(ev.at / HOUR_MS) * HOUR_MS;
    const hw = cw.hour(hour);
    // Once a window has fired, more domains in it change nothing: skip the bookkeeping.
    if (!cw.dayDetected && !cw.dayDomains.includes(ev.domain)) cw.dayDomains.push(ev.domain);
    if (!hw.detected && !hw.domains.includes(ev.domain)) hw.domains.push(ev.domain);
    if (ev.at > cw.lastFirstMs) cw.lastFirstMs = ev.at;
    if (ev.at > hw.lastFirstMs) hw.lastFirstMs = ev.at;
    if (cw.dayDetected && hw.detected) return 0;
    return this.check(ds, cw, ev.line, ev.level, ev.hitlistDay, ev.ruleThreshold, ev.at, hw, pos, out);
  }

  /** Emit what the state now meets and has not emitted; `only` limits the hourly check to one hour (null: all). */
  check(
    ds: DayState,
    cw: ClassWindows,
    line: string,
    level: string,
    hitlistDay: string,
    rule: number,
    at: number | null,
    only: HourWindow | null,
    pos: Position,
    out: DetectionRow[],
  ): number {
    let fired = 0;
    const classId = cw.classId;
    const day = ds.day * DAY_MS;
    if (this.thresholds.day && !cw.dayDetected && cw.dayDomains.length >= this.thresholds.of(classId, 'day', rule)) {
      cw.dayDetected = true;
      fired++;
      this.emit(out, pos, { day, window: 'day', windowStart: day, classId, level, line, domains: cw.dayDomains.length, at: at ?? cw.lastFirstMs, hitlistDay });
    }
    if (this.thresholds.hour) {
      for (const hw of only ? [only] : cw.hours) {
        if (hw.detected || hw.domains.length < this.thresholds.of(classId, 'hour', rule)) continue;
        hw.detected = true;
        fired++;
        this.emit(out, pos, {
          day,
          window: 'hour',
          windowStart: hw.hour,
          classId,
          level,
          line,
          domains: hw.domains.length,
          at: at ?? (hw.lastFirstMs || hw.hour),
          hitlistDay,
        });
      }
    }
    return fired;
  }

  private emit(
    out: DetectionRow[],
    pos: Position,
    d: { day: number; window: Window; windowStart: number; classId: string; level: string; line: string; domains: number; at: number; hitlistDay: string },
  ): void {
    const base = {
      day: dayOf(d.day),
      window: d.window,
      window_start: ts(d.windowStart),
      line: d.line,
      domains: d.domains,
      detected_at: ts64(d.at),
      hitlist_day: d.hitlistDay,
      ...pos,
    };
    out.push({ ...base, class_id: d.classId, level: d.level, via: d.classId });
    const h = this.hierarchy();
    if (!h) return;
    for (const p of h.parents(d.classId)) out.push({ ...base, class_id: p, level: h.info(p)?.level ?? '', via: d.classId });
  }
}
