import type { DomainCounters, ExporterCounters, FlowDecoder } from '@haystack/decoders';
import { lossUnit, type ExporterCounts } from '@haystack/flow-core';
import { emptyPublisherCounters, type PublisherCounters } from './publisher.js';

/** One exporter domain (exporter, protocol version, observation domain) as the metrics show it. */
export interface DomainStats {
  exporter: string;
  version: number;
  domain: number;
  counters: DomainCounters;
  templates: number;
  shownRate: number;
}

/**
 * What a collector counts, as plain data: read from one collector, or summed over the workers
 * of a process (each posts its own). Metrics, health and summaries read only this.
 */
export interface IngestStats {
  exporters: [string, ExporterCounters][];
  domains: DomainStats[];
  heldBytes: number;
  refusedDomains: number;
  evictedDomains: number;
  publisher: PublisherCounters;
  /** Datagrams from exporters outside the allowlist. */
  refusedPackets: number;
  /** Templates learned from other collectors (or workers); exporters found spread over several. */
  templatesFromPeers: number;
  splitExporters: number;
}

/** A copy of one collector's counters now. */
export function readIngestStats(
  decoder: FlowDecoder,
  publisher: { counters: PublisherCounters },
  collector?: { refused: number; templatesFromPeers: number; splitExporters: number },
): IngestStats {
  const reg = decoder.registry;
  const domains: DomainStats[] = [];
  for (const d of reg.all())
    domains.push({
      exporter: d.exporterText,
      version: d.version,
      domain: d.domain,
      counters: { ...d.counters },
      templates: d.templates.size,
      shownRate: d.shownRate,
    });
  return {
    exporters: [...decoder.exporters].map(([k, c]) => [k, { ...c }]),
    domains,
    heldBytes: reg.held.bytes,
    refusedDomains: reg.refusedDomains,
    evictedDomains: reg.evictedDomains,
    publisher: { ...publisher.counters },
    refusedPackets: collector?.refused ?? 0,
    templatesFromPeers: collector?.templatesFromPeers ?? 0,
    splitExporters: collector?.splitExporters ?? 0,
  };
}

function addInto<T extends object>(into: T, from: T): void {
  for (const k of Object.keys(from) as (keyof T)[]) {
    const v = from[k];
    if (typeof v === 'number') (into[k] as number) = ((into[k] as number | undefined) ?? 0) + v;
  }
}

/**
 * Workers' counters summed. An exporter that moved between workers (it changed its source port)
 * is one row with both workers' counts; its templates and sampling rate are the larger of theirs
 * (every worker may know the shared templates: they are not added).
 */
export function sumIngestStats(all: IngestStats[]): IngestStats {
  const exporters = new Map<string, ExporterCounters>();
  const domains = new Map<string, DomainStats>();
  const out: IngestStats = {
    exporters: [],
    domains: [],
    heldBytes: 0,
    refusedDomains: 0,
    evictedDomains: 0,
    publisher: emptyPublisherCounters(),
    refusedPackets: 0,
    templatesFromPeers: 0,
    splitExporters: 0,
  };
  for (const s of all) {
    for (const [k, c] of s.exporters) {
      const have = exporters.get(k);
      if (have) addInto(have, c);
      else exporters.set(k, { ...c });
    }
    for (const d of s.domains) {
      const key = `${d.exporter}|${d.version}|${d.domain}`;
      const have = domains.get(key);
      if (!have) domains.set(key, { ...d, counters: { ...d.counters } });
      else {
        addInto(have.counters, d.counters);
        have.templates = Math.max(have.templates, d.templates);
        have.shownRate = Math.max(have.shownRate, d.shownRate);
      }
    }
    out.heldBytes += s.heldBytes;
    out.refusedDomains += s.refusedDomains;
    out.evictedDomains += s.evictedDomains;
    addInto(out.publisher, s.publisher);
    out.refusedPackets += s.refusedPackets;
    out.templatesFromPeers += s.templatesFromPeers;
    out.splitExporters += s.splitExporters;
  }
  out.exporters = [...exporters];
  out.domains = [...domains.values()];
  return out;
}

/** Every exporter domain's health counters, sorted (console, data-quality API). */
export function exporterHealth(s: IngestStats): ExporterCounts[] {
  return s.domains
    .map((d) => {
      const c = d.counters;
      return {
        exporter: d.exporter,
        version: d.version,
        domain: d.domain,
        records: c.records,
        samplingRate: d.shownRate,
        sequenceGaps: c.sequenceGaps,
        lost: c.lost,
        lostUnit: lossUnit(d.version),
        malformed: c.malformedPackets + c.malformedSets + c.malformedRecords,
        missingTemplateSets: c.missingTemplateSets,
        samplesLost: c.samplesLost,
        sampleDrops: c.sampleDrops,
      };
    })
    .sort((a, b) => a.exporter.localeCompare(b.exporter) || a.version - b.version || a.domain - b.domain);
}
