import { readFile } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DomainCounters } from '@haystack/decoders';
import { lossUnit } from '@haystack/flow-core';
import type { FlowDecoder, ExporterCounters } from '@haystack/decoders';
import { emptyPublisherCounters, type Publisher, type PublisherCounters } from './publisher.js';
import { readIngestStats, type IngestStats } from './ingest-stats.js';

/** Where the ingest metrics read: one collector's decoder and publisher, or the workers' sum. */
export type IngestMetricsSource =
  | { decoder: FlowDecoder; publisher?: Publisher; sockets?: () => { port: number; family: 4 | 6 }[]; refused?: () => number }
  | { stats: () => Promise<IngestStats>; sockets?: () => { port: number; family: 4 | 6 }[] };

const NO_PUBLISHER: PublisherCounters = emptyPublisherCounters();

/** Scrape-time reads share one copy of the counters for 100 ms (one scrape). */
function statsReader(src: IngestMetricsSource): () => Promise<IngestStats> {
  let at = 0;
  let last: Promise<IngestStats> | null = null;
  const read: () => Promise<IngestStats> =
    'stats' in src
      ? src.stats
      : () =>
          Promise.resolve(
            readIngestStats(src.decoder, src.publisher ?? { counters: NO_PUBLISHER }, {
              refused: src.refused?.() ?? 0,
              templatesFromPeers: 0,
              splitExporters: 0,
            }),
          );
  return () => {
    const now = Date.now();
    if (!last || now - at > 100) {
      at = now;
      last = read();
    }
    return last;
  };
}

/**
 * Prometheus view of the ingest counters. Values are read from the decoder and
 * publisher at scrape time, so the packet path never touches prom-client.
 */
export function registerIngestMetrics(reg: Registry, src: IngestMetricsSource): void {
  const stats = statsReader(src);
  const hasPublisher = !('decoder' in src) || !!src.publisher;
  const hasRefused = !('decoder' in src) || !!src.refused;
  const exporterKeys: (keyof ExporterCounters)[] = ['packets', 'bytes', 'malformedPackets', 'unknownVersion', 'decoderErrors'];
  for (const k of exporterKeys) {
    new Counter({
      name: `haystack_ingest_exporter_${snake(k)}_total`,
      help: `Per exporter: ${snake(k).replace(/_/g, ' ')}`,
      labelNames: ['exporter'],
      registers: [reg],
      async collect() {
        this.reset();
        for (const [exp, c] of (await stats()).exporters) this.inc({ exporter: exp }, c[k]);
      },
    });
  }
  const domainKeys: (keyof DomainCounters)[] = [
    'packets',
    'records',
    'optionsRecords',
    'templatesAdded',
    'templatesChanged',
    'templatesWithdrawn',
    'templatesRejected',
    'missingTemplateSets',
    'heldDecodedSets',
    'heldDroppedSets',
    'malformedPackets',
    'malformedSets',
    'malformedRecords',
    'trailingBytes',
    'unknownWithdrawals',
    'unknownRateRecords',
    'unanchoredTimes',
    'sequenceGaps',
    'lost',
    'reordered',
    'sequenceResets',
    'recordsWithoutAddress',
    'samplesLost',
    'sampleDrops',
    'counterSamples',
    'unknownSamples',
    'unknownFlowRecords',
    'truncatedHeaders',
    'nselEventsSkipped',
    'reverseRecords',
  ];
  for (const k of domainKeys) {
    // `lost` is in the protocol's own unit (v9 packets, v5/IPFIX records, sFlow datagrams): labelled, so a sum can keep them apart.
    const unit = k === 'lost';
    new Counter({
      name: `haystack_ingest_domain_${snake(k)}_total`,
      help: `Per exporter, protocol version and observation domain: ${snake(k).replace(/_/g, ' ')}${unit ? ' (in the unit the label names; never add units together)' : ''}`,
      labelNames: unit ? ['exporter', 'version', 'domain', 'unit'] : ['exporter', 'version', 'domain'],
      registers: [reg],
      async collect() {
        this.reset();
        for (const d of (await stats()).domains)
          this.inc(
            { exporter: d.exporter, version: String(d.version), domain: String(d.domain), ...(unit ? { unit: lossUnit(d.version) } : {}) },
            d.counters[k],
          );
      },
    });
  }
  new Gauge({
    name: 'haystack_ingest_templates',
    help: 'Templates known per exporter/version/domain',
    labelNames: ['exporter', 'version', 'domain'],
    registers: [reg],
    async collect() {
      this.reset();
      for (const d of (await stats()).domains) this.set({ exporter: d.exporter, version: String(d.version), domain: String(d.domain) }, d.templates);
    },
  });
  new Gauge({
    name: 'haystack_ingest_sampling_rate',
    help: 'Sampling rate used for records naming no sampler (0 = unknown)',
    labelNames: ['exporter', 'version', 'domain'],
    registers: [reg],
    async collect() {
      this.reset();
      for (const d of (await stats()).domains) this.set({ exporter: d.exporter, version: String(d.version), domain: String(d.domain) }, d.shownRate);
    },
  });
  new Gauge({
    name: 'haystack_ingest_held_bytes',
    help: 'Bytes of data sets held while their template is missing (all exporters)',
    registers: [reg],
    async collect() {
      this.set((await stats()).heldBytes);
    },
  });
  new Counter({
    name: 'haystack_ingest_domains_refused_total',
    help: 'Packets refused because the exporter/domain limit was reached',
    registers: [reg],
    async collect() {
      this.reset();
      this.inc((await stats()).refusedDomains);
    },
  });
  new Counter({
    name: 'haystack_ingest_domains_evicted_total',
    help: 'Exporter/domains forgotten after staying silent (templates included)',
    registers: [reg],
    async collect() {
      this.reset();
      this.inc((await stats()).evictedDomains);
    },
  });
  if (hasPublisher) {
    // Every publisher counter: a counter added to the publisher is exported without a second list.
    const pubKeys = Object.keys(NO_PUBLISHER) as (keyof PublisherCounters)[];
    for (const k of pubKeys) {
      new Counter({
        name: `haystack_ingest_published_${snake(k)}_total`,
        help: `Publisher: ${snake(k).replace(/_/g, ' ')}`,
        registers: [reg],
        async collect() {
          this.reset();
          this.inc((await stats()).publisher[k]);
        },
      });
    }
  }
  if (hasRefused) {
    new Counter({
      name: 'haystack_ingest_refused_packets_total',
      help: 'Datagrams from exporters outside the allowlist',
      registers: [reg],
      async collect() {
        this.reset();
        this.inc((await stats()).refusedPackets);
      },
    });
  }
  const shared: ['templatesFromPeers' | 'splitExporters', string, string][] = [
    [
      'templatesFromPeers',
      'haystack_ingest_templates_from_peers_total',
      'Templates learned from other collectors or workers (an exporter that moved, or is spread)',
    ],
    [
      'splitExporters',
      'haystack_ingest_split_exporters_total',
      'Exporters found heard by another collector or worker too: their sequence gaps are not counted as loss meanwhile',
    ],
  ];
  for (const [k, name, help] of shared)
    new Counter({
      name,
      help,
      registers: [reg],
      async collect() {
        this.reset();
        this.inc((await stats())[k]);
      },
    });
  if (src.sockets) {
    new Gauge({
      name: 'haystack_ingest_socket_drops',
      help: 'Datagrams the kernel dropped on our UDP sockets (receive buffer full), from /proc/net/udp',
      labelNames: ['port'],
      registers: [reg],
      async collect() {
        this.reset();
        for (const s of src.sockets!()) this.set({ port: String(s.port) }, await socketDrops(s.port));
      },
    });
  }
}

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * The UDP sockets bound to a local port (Linux /proc/net/udp and udp6, any address): how many,
 * and the kernel's drop counter summed over them. Null where /proc is not there.
 */
export async function udpPortSockets(port: number): Promise<{ sockets: number; drops: number } | null> {
  let sockets = 0;
  let drops = 0;
  let read = false;
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = await readFile(f, 'utf8');
    } catch {
      continue;
    }
    read = true;
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 13) continue;
      const local = cols[1]!;
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) !== port) continue;
      sockets++;
      drops += Number(cols[cols.length - 1]);
    }
  }
  return read ? { sockets, drops } : null;
}

/** Kernel drop counter for a bound UDP port (Linux), summed over its sockets (every worker's). */
export async function socketDrops(port: number): Promise<number> {
  return (await udpPortSockets(port))?.drops ?? 0;
}
