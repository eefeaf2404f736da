import { PrefixSet, type ExporterSampling } from '@haystack/common';
import { IE } from './fields.js';

/** What configuration says about one exporter/domain's sampling. */
export interface SamplingPolicy {
  /** Always use this rate (operator override); 0 = none. */
  override: number;
  /** Use when the exporter announces nothing; 0 = none. */
  fallback: number;
}

/**
 * Per-exporter defaults and overrides from configuration, resolved once per
 * exporter/domain (never per record). The most specific matching entry wins:
 * an entry with an observation domain over one without, a longer prefix over a shorter.
 */
export class SamplingConfig {
  private readonly entries: { set: PrefixSet; bits: number; domain?: number; rate: number; override: boolean }[];

  constructor(
    entries: readonly ExporterSampling[] = [],
    private readonly defaultRate: number | null = null,
  ) {
    this.entries = entries.map((e) => {
      const set = new PrefixSet([e.exporter]);
      return { set, bits: set.prefixes[0]!.bits, domain: e.observationDomain, rate: e.rate, override: e.override };
    });
    this.entries.sort((a, b) => (b.domain !== undefined ? 1 : 0) - (a.domain !== undefined ? 1 : 0) || b.bits - a.bits);
  }

  policyFor(exporter: Uint8Array, domain: number): SamplingPolicy {
    for (const e of this.entries) {
      if (e.domain !== undefined && e.domain !== domain) continue;
      if (!e.set.contains(exporter)) continue;
      return e.override ? { override: e.rate, fallback: e.rate } : { override: 0, fallback: e.rate };
    }
    return { override: 0, fallback: this.defaultRate ?? 0 };
  }
}

/** Sampling facts carried by one options data record. */
export interface SamplingAnnouncement {
  /** Sampler / selector id, or -1 when the record names none (exporter-wide). */
  samplerId: number;
  rate: number;
}

/**
 * Rate from an options record's fields (values by IE id):
 * - 34 samplingInterval, or 50 samplerRandomInterval: 1 out of N
 * - PSAMP 305/306: rate = (interval + space) / interval (softflowd writes 1 and N-1)
 * - PSAMP 309/310: rate = population / size
 */
export function samplingFromOptions(values: ReadonlyMap<number, number>): SamplingAnnouncement | null {
  let rate = 0;
  const si = values.get(IE.samplingInterval) ?? 0;
  const ri = values.get(IE.samplerRandomInterval) ?? 0;
  const pi = values.get(IE.samplingPacketInterval) ?? 0;
  const ps = values.get(IE.samplingPacketSpace);
  const size = values.get(IE.samplingSize) ?? 0;
  const pop = values.get(IE.samplingPopulation) ?? 0;
  if (si > 0) rate = si;
  else if (ri > 0) rate = ri;
  else if (pi > 0 && ps !== undefined) rate = Math.round((pi + ps) / pi);
  else if (size > 0 && pop > 0) rate = Math.round(pop / size);
  if (rate <= 0) return null;
  const sid = values.get(IE.selectorId) ?? values.get(IE.samplerId);
  return { samplerId: sid ?? -1, rate };
}
