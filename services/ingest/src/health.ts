import { hostname } from 'node:os';
import { encodeHealth, type DomainHealth, type HealthSnapshot } from '@haystack/flow-core';
import type { DomainCounters, DomainState, FlowDecoder } from '@haystack/decoders';
import type { FlowSink } from '@haystack/transport';

type Totals = Pick<
  DomainCounters,
  'packets' | 'records' | 'sequenceGaps' | 'lost' | 'missingTemplateSets' | 'heldDroppedSets' | 'unknownRateRecords' | 'samplesLost' | 'sampleDrops'
> & {
  malformed: number;
};

const TOTAL_KEYS: readonly (keyof Totals)[] = [
  'packets',
  'records',
  'sequenceGaps',
  'lost',
  'malformed',
  'missingTemplateSets',
  'heldDroppedSets',
  'unknownRateRecords',
  'samplesLost',
  'sampleDrops',
];

function totals(c: DomainCounters): Totals {
  return {
    packets: c.packets,
    records: c.records,
    sequenceGaps: c.sequenceGaps,
    lost: c.lost,
    missingTemplateSets: c.missingTemplateSets,
    heldDroppedSets: c.heldDroppedSets,
    unknownRateRecords: c.unknownRateRecords,
    samplesLost: c.samplesLost,
    sampleDrops: c.sampleDrops,
    malformed: c.malformedPackets + c.malformedSets + c.malformedRecords,
  };
}

const ZERO: Totals = totals({
  packets: 0,
  records: 0,
  sequenceGaps: 0,
  lost: 0,
  missingTemplateSets: 0,
  heldDroppedSets: 0,
  unknownRateRecords: 0,
  samplesLost: 0,
  sampleDrops: 0,
  malformedPackets: 0,
  malformedSets: 0,
  malformedRecords: 0,
} as DomainCounters);

const DAY_MS = 86_400_000;
const dayTexts = new Map<number, string>();
/** Cached: pending() runs every publish round over every domain. */
const dayText = (day: number): string => {
  let t = dayTexts.get(day);
  if (t === undefined) {
    if (dayTexts.size > 64) dayTexts.clear();
    dayTexts.set(day, (t = new Date(day * DAY_MS).toISOString().slice(0, 10)));
  }
  return t;
};
const entryKey = (h: Pick<DomainHealth, 'exporter' | 'version' | 'domain' | 'day'>) => `${h.exporter}|${h.version}|${h.domain}|${h.day ?? ''}`;

function delta(now: Totals, prev: Totals): Totals | null {
  const d = { ...now };
  let any = false;
  for (const k of TOTAL_KEYS) {
    // A domain forgotten by the sweep comes back as a new state from zero: never a negative delta.
    d[k] = Math.max(0, now[k] - prev[k]);
    if (d[k] !== 0) any = true;
  }
  return any ? d : null;
}

function add(into: DomainHealth, h: DomainHealth): void {
  for (const k of TOTAL_KEYS) into[k] = (into[k] ?? 0) + (h[k] ?? 0);
}

/**
 * Turns the decoder's cumulative per-domain counters into delta snapshots and publishes
 * them on partition 0 of the flow topic (see flow-core health.ts). A domain's deltas are split
 * by the day of the flows they describe (the decoder marks where that day changed), and the
 * deltas a crashed predecessor saved but never published are carried into the next snapshot.
 */
export class HealthReporter {
  /** Counters as of the last snapshot, per domain state (a state forgotten and seen again starts afresh). */
  private readonly last = new WeakMap<DomainState, Totals>();
  /** Deltas restored from a checkpoint, not yet published. */
  private readonly carried = new Map<string, DomainHealth>();
  private seq = 0;
  private lastAt: number;
  readonly collector: string;

  constructor(
    private readonly decoder: FlowDecoder,
    private readonly sink: FlowSink,
    collector = `${hostname()}:${process.pid}:${Date.now().toString(36)}`,
    now = Date.now(),
  ) {
    this.collector = collector;
    this.lastAt = now;
  }

  /**
   * The deltas since the last snapshot (and those carried), per domain and flow day; `consume`
   * moves the baseline. A domain with no flows yet counts on the day of `atMs`, so it merges
   * with an entry of that day instead of becoming a second row under the same key.
   */
  private deltas(consume: boolean, atMs: number): DomainHealth[] {
    const today = dayText(Math.floor(atMs / DAY_MS));
    const out = new Map<string, DomainHealth>();
    const put = (h: DomainHealth) => {
      const k = entryKey(h);
      const have = out.get(k);
      if (have) add(have, h);
      else out.set(k, { ...h });
    };
    for (const h of this.carried.values()) put(h);
    for (const d of this.decoder.registry.all()) {
      const before = this.last.get(d);
      // Every counter moves only when a packet arrives: an idle domain costs one comparison.
      if (before && before.packets === d.counters.packets && d.dayMarks.length === 0) continue;
      let prev = before ?? ZERO;
      const base = { exporter: d.exporterText, version: d.version, domain: d.domain, samplingRate: d.shownRate };
      for (const m of d.dayMarks) {
        const at = totals(m.counters);
        const dd = delta(at, prev);
        if (dd) put({ ...base, day: dayText(m.day), ...dd });
        prev = at;
      }
      const now = totals(d.counters);
      const dd = delta(now, prev);
      if (dd) put({ ...base, day: d.flowDay >= 0 ? dayText(d.flowDay) : today, ...dd });
      if (consume) {
        this.last.set(d, now);
        d.dayMarks = [];
      }
    }
    if (consume) this.carried.clear();
    return [...out.values()];
  }

  /** What a snapshot taken now would hold, without taking it: saved with each checkpoint so a crash loses none of it. */
  pending(now = Date.now()): DomainHealth[] {
    return this.deltas(false, now);
  }

  /** Deltas a predecessor saved and never published: they go out with the next snapshot. */
  carry(entries: readonly DomainHealth[]): void {
    for (const h0 of entries) {
      if (!h0 || typeof h0.exporter !== 'string' || typeof h0.version !== 'number' || typeof h0.domain !== 'number') continue;
      // Saved by an older version without a day: the day it is carried on.
      const h = h0.day ? h0 : { ...h0, day: dayText(Math.floor(Date.now() / DAY_MS)) };
      const k = entryKey(h);
      const have = this.carried.get(k);
      if (have) add(have, h);
      else this.carried.set(k, { ...h });
    }
  }

  /** The snapshot of what changed since the previous one (null when nothing did). */
  snapshot(at = Date.now()): HealthSnapshot | null {
    const domains = this.deltas(true, at);
    if (domains.length === 0) return null;
    const s: HealthSnapshot = { id: `${this.collector}:${this.seq++}`, collector: this.collector, at, intervalMs: at - this.lastAt, domains };
    this.lastAt = at;
    return s;
  }

  /** Publish a snapshot if anything changed. */
  async report(at = Date.now()): Promise<HealthSnapshot | null> {
    const s = this.snapshot(at);
    if (s) await this.sink.publish(0, encodeHealth(s));
    return s;
  }

  /** Publish a snapshot taken earlier (the collector takes it in step with its checkpoint). */
  async publish(s: HealthSnapshot): Promise<void> {
    await this.sink.publish(0, encodeHealth(s));
  }
}
