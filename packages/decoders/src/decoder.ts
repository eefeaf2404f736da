import { formatAddress, parseAddress } from '@haystack/common';
import { F, HEADER_SIZE, RECORD_SIZE, type BatchWriter } from '@haystack/flow-core';
import { SamplingConfig, TemplateRegistry, type RegistryLimits } from './template/index.js';
import { decodeV5 } from './netflow/v5.js';
import { decodeV9 } from './netflow/v9.js';
import { decodeIpfix } from './ipfix/ipfix.js';
import { decodeSflow } from './sflow/sflow.js';

/** Where counters of sources beyond the exporter limit go (a spoofed flood must not grow memory). */
export const OTHER_EXPORTERS = '(other)';

const DAY_MS = 86_400_000;
/** Flows may start long before they are exported (long-lived flows, active timeouts): up to a week. */
const PLAUSIBLE_PAST_MS = 7 * DAY_MS;

/** Per-exporter packet-level counters (per-domain ones live in the template registry). */
export interface ExporterCounters {
  packets: number;
  bytes: number;
  /** Too short for a header, or a header that lies (not: refused for the domain limit). */
  malformedPackets: number;
  /** Version field not NetFlow 5, 9, IPFIX 10 or sFlow 5. */
  unknownVersion: number;
  /** Internal decoder faults caught at the packet boundary (should stay 0; each is logged). */
  decoderErrors: number;
}

export interface FlowDecoderOptions {
  sampling?: SamplingConfig;
  limits?: Partial<RegistryLimits>;
  /** Called for a caught internal fault, with the packet for reproduction. */
  onError?: (err: unknown, exporter: string, packet: Uint8Array) => void;
}

/**
 * Datagram → flow records. Dispatches on the version field to the NetFlow v5/v9, IPFIX
 * and sFlow v5 decoders, which share the registry (templates, samplers, sequence
 * accounting, keyed by exporter + protocol + observation domain; for sFlow, agent address
 * + sub-agent id). Never throws on input.
 */
export class FlowDecoder {
  readonly registry: TemplateRegistry;
  readonly exporters = new Map<string, ExporterCounters>();
  private readonly addrs = new Map<string, { bytes: Uint8Array; text: string }>();
  private readonly onError?: FlowDecoderOptions['onError'];
  private readonly maxExporters: number;
  private lastReceivedMs = 0;

  constructor(opts: FlowDecoderOptions = {}) {
    this.registry = new TemplateRegistry(opts.sampling ?? new SamplingConfig(), opts.limits);
    this.onError = opts.onError;
    this.maxExporters = this.registry.limits.maxDomains;
  }

  /** Normalised exporter address (IPv4-mapped IPv6 from dual-stack sockets becomes IPv4). */
  exporterAddress(text: string): { bytes: Uint8Array; text: string } {
    let a = this.addrs.get(text);
    if (!a) {
      const bytes = parseAddress(text);
      a = { bytes, text: formatAddress(bytes) };
      if (this.addrs.size > 100_000) this.addrs.clear();
      this.addrs.set(text, a);
    }
    return a;
  }

  /** Counters of one exporter; past `maxExporters` distinct sources, one shared "(other)" entry. */
  counters(exporterText: string): ExporterCounters {
    let c = this.exporters.get(exporterText);
    if (!c) {
      const key = this.exporters.size >= this.maxExporters ? OTHER_EXPORTERS : exporterText;
      c = this.exporters.get(key);
      if (!c) {
        c = { packets: 0, bytes: 0, malformedPackets: 0, unknownVersion: 0, decoderErrors: 0 };
        this.exporters.set(key, c);
      }
    }
    return c;
  }

  /** Arrival time of the latest datagram (capture time during a replay). */
  get lastReceived(): number {
    return this.lastReceivedMs;
  }

  /** Housekeeping (held sets, idle domains) at the time of the latest datagram. */
  sweep(): void {
    this.registry.sweep(this.lastReceivedMs);
  }

  /** Decode one datagram from `exporter`; records are appended to `w`. Returns records decoded. */
  decode(packet: Uint8Array, exporter: string, receivedMs: number, w: BatchWriter): number {
    const a = this.exporterAddress(exporter);
    const c = this.counters(a.text);
    if (receivedMs > this.lastReceivedMs) this.lastReceivedMs = receivedMs;
    c.packets++;
    c.bytes += packet.length;
    if (packet.length < 2) {
      c.malformedPackets++;
      return 0;
    }
    const version = (packet[0]! << 8) | packet[1]!;
    const mark = w.count;
    const refused = this.registry.refusedDomains;
    let n: number;
    try {
      if (version === 9) n = decodeV9(packet, a.bytes, a.text, receivedMs, this.registry, w);
      else if (version === 10) n = decodeIpfix(packet, a.bytes, a.text, receivedMs, this.registry, w);
      else if (version === 5) n = decodeV5(packet, a.bytes, a.text, receivedMs, this.registry, w);
      // sFlow's version is a 32-bit 5: its first two bytes are 0.
      else if (version === 0 && packet.length >= 4 && packet[2] === 0 && packet[3] === 5) n = decodeSflow(packet, receivedMs, this.registry, w);
      else {
        c.unknownVersion++;
        return 0;
      }
    } catch (err) {
      // A bug, not bad input: keep the collector alive, drop this packet's partial records.
      c.decoderErrors++;
      w.truncate(mark);
      this.onError?.(err, a.text, packet);
      return 0;
    }
    if (n < 0) {
      // Refused for the domain limit (counted by the registry) is not malformed.
      if (this.registry.refusedDomains === refused) c.malformedPackets++;
      return 0;
    }
    if (w.count > mark) this.noteFlowDay(w, mark, receivedMs);
    return w.count - mark;
  }

  /** Per packet, not per record: the day of its first record's start, when plausible (else of its arrival). */
  private noteFlowDay(w: BatchWriter, first: number, receivedMs: number): void {
    const d = this.registry.lastDomain;
    if (!d) return;
    const start = w.dv.getFloat64(HEADER_SIZE + first * RECORD_SIZE + F.start, true);
    const t = start > receivedMs - PLAUSIBLE_PAST_MS && start < receivedMs + DAY_MS ? start : receivedMs;
    if (t >= d.flowDayStartMs && t < d.flowDayStartMs + DAY_MS) return; // the common case: the same day
    d.noteFlowDay(Math.floor(t / DAY_MS));
  }
}
