import { formatAddress, parseAddress, type PrefixSet } from '@haystack/common';
import { BatchWriter, F, HEADER_SIZE, RECORD_SIZE } from '@haystack/flow-core';
import { FlowDecoder } from '@haystack/decoders';
import { readUdp } from '@haystack/pcap';

/**
 * Reads a simulated export capture back through the project's own decoder (the collector's
 * FlowDecoder), for tests and the accuracy harness: one plain object per flow record.
 */
export interface DecodedFlow {
  /** 1-based frame in the capture (tshark's frame.number). */
  frame: number;
  exporter: string;
  domain: number;
  version: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  proto: number;
  packets: number;
  bytes: number;
  startMs: number;
  endMs: number;
  sampling: number;
  /** Source and destination MAC (aa:bb:..; all zero when the export carries none). */
  srcMac: string;
  dstMac: string;
}

const macAt = (b: Uint8Array, o: number): string => Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');

export interface DecodeSummary {
  flows: DecodedFlow[];
  datagrams: number;
  decoder: FlowDecoder;
}

/** Decode every export datagram of `pcap` (records kept only when `keep` says so, to save memory). */
export async function decodeCapture(pcap: string, keep: (f: DecodedFlow) => boolean = () => true): Promise<DecodeSummary> {
  const decoder = new FlowDecoder();
  const w = new BatchWriter(4096);
  const flows: DecodedFlow[] = [];
  let datagrams = 0;
  for await (const d of readUdp(pcap)) {
    datagrams++;
    decoder.decode(d.payload, d.src, d.tsMs, w);
    for (let i = 0; i < w.count; i++) {
      const o = HEADER_SIZE + i * RECORD_SIZE;
      const dv = w.dv;
      const f: DecodedFlow = {
        frame: d.index,
        exporter: formatAddress(w.buf, o + F.exporter),
        domain: dv.getUint32(o + F.domain, true),
        version: w.buf[o + F.version]!,
        src: formatAddress(w.buf, o + F.src),
        dst: formatAddress(w.buf, o + F.dst),
        srcPort: dv.getUint16(o + F.srcPort, true),
        dstPort: dv.getUint16(o + F.dstPort, true),
        proto: w.buf[o + F.proto]!,
        packets: dv.getFloat64(o + F.packets, true),
        bytes: dv.getFloat64(o + F.bytes, true),
        startMs: dv.getFloat64(o + F.start, true),
        endMs: dv.getFloat64(o + F.end, true),
        sampling: dv.getUint32(o + F.sampling, true),
        srcMac: macAt(w.buf, o + F.srcMac),
        dstMac: macAt(w.buf, o + F.dstMac),
      };
      if (keep(f)) flows.push(f);
    }
    w.reset();
  }
  return { flows, datagrams, decoder };
}

/** The subscriber end of a decoded flow, as the detector keys lines: IPv4 address or IPv6 /bits. */
export function lineOf(f: DecodedFlow, subscribers: PrefixSet, v6Bits: number): { line: string; service: string; servicePort: number } | null {
  const srcSub = subscribers.match(parseAddress(f.src)) >= 0;
  const dstSub = subscribers.match(parseAddress(f.dst)) >= 0;
  if (srcSub === dstSub) return null;
  const sub = srcSub ? f.src : f.dst;
  return { line: sub.includes(':') ? v6Line(sub, v6Bits) : sub, service: srcSub ? f.dst : f.src, servicePort: srcSub ? f.dstPort : f.srcPort };
}

export function v6Line(addr: string, bits: number): string {
  const b = parseAddress(addr);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    b[i]! &= keep === 8 ? 0xff : (0xff << (8 - keep)) & 0xff;
  }
  return `${formatAddress(b)}/${bits}`;
}
