import type { HealthSnapshot } from '@haystack/flow-core';
import { dayOf, ts64, type HealthRow } from '@haystack/store';

const count = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? Math.round(x) : 0);

/** Rows of an ingest health snapshot; refuses one whose domains are not what flow-core's format says. */
export function healthRows(s: HealthSnapshot): HealthRow[] {
  if (typeof s.at !== 'number' || !Number.isFinite(s.at)) throw new Error('health snapshot without a time');
  return s.domains.map((d) => {
    if (!d || typeof d.exporter !== 'string' || typeof d.version !== 'number' || typeof d.domain !== 'number')
      throw new Error('health snapshot domain without exporter, version or domain');
    if (!(d.version >= 0 && d.version <= 255 && d.domain >= 0 && d.domain <= 0xffffffff))
      throw new Error(`health snapshot domain with version ${d.version} / domain ${d.domain} out of range`);
    return {
      // The day of the flows the counters describe (so a replayed or late day holds its own loss).
      day: typeof d.day === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(d.day) ? d.day : dayOf(s.at),
      at: ts64(s.at),
      snapshot_id: s.id,
      collector: String(s.collector ?? ''),
      exporter: d.exporter,
      version: count(d.version),
      observation_domain: count(d.domain),
      packets: count(d.packets),
      records: count(d.records),
      sequence_gaps: count(d.sequenceGaps),
      lost: count(d.lost),
      malformed: count(d.malformed),
      missing_template_sets: count(d.missingTemplateSets),
      held_dropped_sets: count(d.heldDroppedSets),
      unknown_rate_records: count(d.unknownRateRecords),
      sampling_rate: count(d.samplingRate),
      samples_lost: count(d.samplesLost),
      sample_drops: count(d.sampleDrops),
    };
  });
}
