import { hostname } from 'node:os';
import { encodeHealth, type DomainHealth, type HealthSnapshot } from '@haystack/flow-core';
import { type DomainCounters } from '@haystack/decoders';
import type { FlowSink } from '@haystack/transport';
import type { FlowDecoder } from '@haystack/decoders';

type Totals = Pick<
  DomainCounters,
  'packets' | 'records' | 'sequenceGaps' | 'lost' | 'missingTemplateSets' | 'heldDroppedSets' | 'unknownRateRecords' | 'samplesLost' | 'sampleDrops'
> & {
  malformed: number;
};

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

/**
 * Turns the decoder's cumulative per-domain counters into delta snapshots and publishes
 * them on partition 0 of the flow topic (see flow-core health.ts).
 */
export class HealthReporter {
  private readonly last = new Map<string, Totals>();
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

  /** The snapshot of what changed since the previous one (null when nothing did). */
  snapshot(at = Date.now()): HealthSnapshot | null {
    const domains: DomainHealth[] = [];
    for (const d of this.decoder.registry.all()) {
      const key = `${d.exporterText}|${d.version}|${d.domain}`;
      const now = totals(d.counters);
      const prev = this.last.get(key);
      this.last.set(key, now);
      const delta = { ...now };
      if (prev) for (const k of Object.keys(now) as (keyof Totals)[]) delta[k] = now[k] - prev[k];
      if (Object.values(delta).every((v) => v === 0)) continue;
      domains.push({ exporter: d.exporterText, version: d.version, domain: d.domain, samplingRate: d.shownRate, ...delta });
    }
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
}
