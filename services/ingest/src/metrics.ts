import { readFile } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DomainCounters } from '@haystack/decoders';
import { lossUnit } from '@haystack/flow-core';
import type { FlowDecoder, ExporterCounters } from '@haystack/decoders';
import type { Publisher, PublisherCounters } from './publisher.js';

/**
 * Prometheus view of the ingest counters. Values are read from the decoder and
 * publisher at scrape time, so the packet path never touches prom-client.
 */
export function registerIngestMetrics(
  reg: Registry,
  src: { decoder: FlowDecoder; publisher?: Publisher; sockets?: () => { port: number; family: 4 | 6 }[]; refused?: () => number },
): void {
  const exporterKeys: (keyof ExporterCounters)[] = ['packets', 'bytes', 'malformedPackets', 'unknownVersion', 'decoderErrors'];
  for (const k of exporterKeys) {
    new Counter({
      name: `haystack_ingest_exporter_${snake(k)}_total`,
      help: `Per exporter: ${snake(k).replace(/_/g, ' ')}`,
      labelNames: ['exporter'],
      registers: [reg],
      collect() {
        this.reset();
        for (const [exp, c] of src.decoder.exporters) this.inc({ exporter: exp }, c[k]);
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
      collect() {
        this.reset();
        for (const d of src.decoder.registry.all())
          this.inc(
            { exporter: d.exporterText, version: String(d.version), domain: String(d.domain), ...(unit ? { unit: lossUnit(d.version) } : {}) },
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
    collect() {
      this.reset();
      for (const d of src.decoder.registry.all())
        this.set({ exporter: d.exporterText, version: String(d.version), domain: String(d.domain) }, d.templates.size);
    },
  });
  new Gauge({
    name: 'haystack_ingest_sampling_rate',
    help: 'Sampling rate used for records naming no sampler (0 = unknown)',
    labelNames: ['exporter', 'version', 'domain'],
    registers: [reg],
    collect() {
      this.reset();
      for (const d of src.decoder.registry.all()) this.set({ exporter: d.exporterText, version: String(d.version), domain: String(d.domain) }, d.shownRate);
    },
  });
  new Gauge({
    name: 'haystack_ingest_held_bytes',
    help: 'Bytes of data sets held while their template is missing (all exporters)',
    registers: [reg],
    collect() {
      this.set(src.decoder.registry.held.bytes);
    },
  });
  new Counter({
    name: 'haystack_ingest_domains_refused_total',
    help: 'Packets refused because the exporter/domain limit was reached',
    registers: [reg],
    collect() {
      this.reset();
      this.inc(src.decoder.registry.refusedDomains);
    },
  });
  new Counter({
    name: 'haystack_ingest_domains_evicted_total',
    help: 'Exporter/domains forgotten after staying silent (templates included)',
    registers: [reg],
    collect() {
      this.reset();
      this.inc(src.decoder.registry.evictedDomains);
    },
  });
  if (src.publisher) {
    const pubKeys: (keyof PublisherCounters)[] = ['records', 'batches', 'noSubscriber', 'bothSubscribers', 'droppedBackpressure', 'publishErrors'];
    for (const k of pubKeys) {
      new Counter({
        name: `haystack_ingest_published_${snake(k)}_total`,
        help: `Publisher: ${snake(k).replace(/_/g, ' ')}`,
        registers: [reg],
        collect() {
          this.reset();
          this.inc(src.publisher!.counters[k]);
        },
      });
    }
  }
  if (src.refused) {
    new Counter({
      name: 'haystack_ingest_refused_packets_total',
      help: 'Datagrams from exporters outside the allowlist',
      registers: [reg],
      collect() {
        this.reset();
        this.inc(src.refused!());
      },
    });
  }
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

/** Kernel drop counter for a bound UDP port (Linux), summed over IPv4 and IPv6 sockets. */
export async function socketDrops(port: number): Promise<number> {
  let total = 0;
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = await readFile(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 13) continue;
      const local = cols[1]!;
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) total += Number(cols[cols.length - 1]);
    }
  }
  return total;
}
