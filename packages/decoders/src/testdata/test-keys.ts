import type { FlowRecord } from '@haystack/flow-core';
import type { TsharkFlowRecord } from '@haystack/testkit/tshark';

/**
 * One record as a comparable line: what tshark (generating testdata/) and our decoder (reading
 * it back) must agree on. Ports count for TCP and UDP only (ICMP type/code placement differs
 * between exporters' conventions).
 */
export interface KeyFields {
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  proto?: number;
  packets?: number;
  bytes?: number;
  start?: number;
  end?: number;
}

export function netflowKey(r: KeyFields): string {
  const ports = r.proto === 6 || r.proto === 17;
  return [r.src, r.dst, ports ? r.srcPort : '-', ports ? r.dstPort : '-', r.proto, r.packets, r.bytes, r.start, r.end].join('|');
}

/** Our record in the same shape. */
export function ourNetflowKey(r: FlowRecord): string {
  return netflowKey({
    src: r.src,
    dst: r.dst,
    srcPort: r.srcPort,
    dstPort: r.dstPort,
    proto: r.proto,
    packets: r.packets,
    bytes: r.bytes,
    start: r.start,
    end: r.end,
  });
}

/** sFlow: a flow sample is one sampled packet (its frame length as bytes), with the agent's rate and MACs. */
export function sflowKey(r: {
  src?: string;
  dst?: string;
  proto?: number;
  srcPort?: number;
  dstPort?: number;
  bytes?: number;
  rate?: number;
  srcMac?: string;
  dstMac?: string;
}): string {
  const ports = r.proto === 6 || r.proto === 17;
  return [r.src, r.dst, r.proto, ports ? r.srcPort : '-', ports ? r.dstPort : '-', r.bytes, r.rate, r.srcMac, r.dstMac].join('|');
}

export function ourSflowKey(r: FlowRecord): string {
  return sflowKey({
    src: r.src,
    dst: r.dst,
    proto: r.proto,
    srcPort: r.srcPort,
    dstPort: r.dstPort,
    bytes: r.bytes,
    rate: r.samplingRate,
    srcMac: r.srcMac ?? undefined,
    dstMac: r.dstMac ?? undefined,
  });
}

/** What testdata/<name>.json holds beside testdata/<name>.pcap. */
export interface Expected {
  /** Which exporter made the capture, how, and which tshark decoded it. */
  made: string;
  kind: 'netflow' | 'sflow';
  /** UDP port the datagrams were sent to. */
  port: number;
  /** The sampling rate every record must carry. */
  rate: number;
  /** Records per frame number (1-based, as tshark counts), as keys, sorted. */
  frames: Record<string, string[]>;
}

/** Absolute times from tshark's fields (tshark shows a sysUpTime of exactly 0 as the absolute date 1970-01-01: read as uptime 0): absolute, or anchored on the v9 header / IPFIX init time. */
export function tsharkTimes(t: TsharkFlowRecord, initMs: number | undefined): { start?: number; end?: number } {
  const abs = (absolute: number | undefined, uptime: number | undefined, derived: number | undefined) => {
    if (absolute === 0 && uptime === undefined) uptime = 0;
    else if (absolute !== undefined) return absolute;
    if (uptime === undefined) return derived;
    if (t.version === 9 && t.sysUptimeMs !== undefined) return t.exportTimeSec * 1000 - ((t.sysUptimeMs - uptime) | 0);
    if (t.version === 10 && initMs !== undefined) return initMs + uptime;
    return derived;
  };
  return { start: abs(t.startMs, t.startUptimeMs, t.derivedStartMs), end: abs(t.endMs, t.endUptimeMs, t.derivedEndMs) };
}
