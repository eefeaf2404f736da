import type { LoadedHitlist } from '@haystack/hitlist';
import type { ClassHierarchy } from './hierarchy.js';
import { KeySet, V4Set } from './lines.js';
import { DAY_MS, HOUR_MS, dayOf, ts, ts64, type DetectionRow, type Window } from './rows.js';

/**
 * Default detection thresholds: distinct evidence domains of a class a line must contact
 * within the window. To be set by the accuracy benchmark against ground truth (DESIGN §1
 * step 7: report recall and false positives for each choice); until then the loosest rule.
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

/** A line's evidence for one class on one day: the domains per window and what fired already. */
export class ClassWindows {
  readonly dayDomains = new Set<string>();
  readonly hourDomains = new Map<number, Set<string>>();
  dayDetected = false;
  readonly hoursDetected = new Set<number>();
  /** Latest first-seen time among the evidence (ms), for re-derived detections. */
  lastFirstMs = 0;
  readonly hourLastFirstMs = new Map<number, number>();
}

/** One UTC day of a partition: lines seen (for active lines) and the evidence of matched lines. */
export class DayState {
  /** Lines seen on the day: IPv4 addresses, and other (IPv6 prefix) lines. */
  readonly active4 = new V4Set(1024);
  readonly active = new KeySet(256);
  /** key: line + '\t' + class id */
  readonly evidence = new Map<string, ClassWindows>();
  /** Rebuilt from storage (or known empty there)? */
  loaded = false;
  constructor(readonly day: number) {}
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
  }

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
    const k = `${ev.line}\t${ev.classId}`;
    let cw = ds.evidence.get(k);
    if (!cw) ds.evidence.set(k, (cw = new ClassWindows()));
    const hour = Math.floor(ev.at / HOUR_MS) * HOUR_MS;
    cw.dayDomains.add(ev.domain);
    let hs = cw.hourDomains.get(hour);
    if (!hs) cw.hourDomains.set(hour, (hs = new Set()));
    hs.add(ev.domain);
    if (ev.at > cw.lastFirstMs) cw.lastFirstMs = ev.at;
    if (ev.at > (cw.hourLastFirstMs.get(hour) ?? 0)) cw.hourLastFirstMs.set(hour, ev.at);
    return this.check(ds, cw, ev.line, ev.classId, ev.level, ev.hitlistDay, ev.ruleThreshold, ev.at, hour, pos, out);
  }

  /** Emit what the state now meets and has not emitted; `hour` limits the hourly check to one hour (null: all). */
  check(
    ds: DayState,
    cw: ClassWindows,
    line: string,
    classId: string,
    level: string,
    hitlistDay: string,
    rule: number,
    at: number | null,
    hour: number | null,
    pos: Position,
    out: DetectionRow[],
  ): number {
    let fired = 0;
    const day = ds.day * DAY_MS;
    if (this.thresholds.day && !cw.dayDetected && cw.dayDomains.size >= this.thresholds.of(classId, 'day', rule)) {
      cw.dayDetected = true;
      fired++;
      this.emit(out, pos, { day, window: 'day', windowStart: day, classId, level, line, domains: cw.dayDomains.size, at: at ?? cw.lastFirstMs, hitlistDay });
    }
    if (this.thresholds.hour) {
      const hours = hour === null ? [...cw.hourDomains.keys()] : [hour];
      for (const h of hours) {
        const hs = cw.hourDomains.get(h)!;
        if (cw.hoursDetected.has(h) || hs.size < this.thresholds.of(classId, 'hour', rule)) continue;
        cw.hoursDetected.add(h);
        fired++;
        this.emit(out, pos, { day, window: 'hour', windowStart: h, classId, level, line, domains: hs.size, at: at ?? cw.hourLastFirstMs.get(h) ?? h, hitlistDay });
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
