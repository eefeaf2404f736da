import { formatAddress, u32 } from '@haystack/common';
import { F, PROTOCOL, DIRECTION_UNKNOWN, type BatchWriter } from '@haystack/flow-core';
import type { TemplateRegistry, DomainState } from '../template/state.js';
import { parseHeader, parsed, LAYER_ETHERNET, LAYER_IPV4, LAYER_IPV6 } from '../packet/header.js';

/**
 * sFlow version 5 (sflow.org, "sFlow Version 5", 2004). XDR: big-endian, 4-byte aligned.
 *
 * One flow sample becomes one record: packets 1, bytes the sampled frame's length, the sample's
 * rate travelling with it (never multiplied in), MACs, VLAN and AS numbers where the sample has
 * them. Time is the datagram's arrival: sFlow carries only the agent's uptime.
 *
 * State is keyed by agent address (from the datagram, not the UDP source: relays forward sFlow)
 * and sub-agent id. Datagram sequence numbers are accounted like NetFlow v9 packets; each sample
 * source (ifIndex or VLAN) has its own sample sequence, whose gaps are samples lost, and a drops
 * counter (samples the agent could not take), whose increase is counted.
 * Returns records decoded, or -1 for a datagram whose header cannot be trusted.
 */
export const SFLOW_VERSION = 5;

// Sample and record formats (enterprise 0).
const FLOW_SAMPLE = 1;
const COUNTERS_SAMPLE = 2;
const FLOW_SAMPLE_EXPANDED = 3;
const COUNTERS_SAMPLE_EXPANDED = 4;
const RAW_HEADER = 1;
const SAMPLED_ETHERNET = 2;
const SAMPLED_IPV4 = 3;
const SAMPLED_IPV6 = 4;
const EXTENDED_SWITCH = 1001;
const EXTENDED_ROUTER = 1002;
const EXTENDED_GATEWAY = 1003;
const GENERIC_INTERFACE = 1;

/** Raw header protocols we parse (sFlow header_protocol enumeration). */
const HEADER_ETHERNET = 1;
const HEADER_IPV4 = 11;
const HEADER_IPV6 = 12;

/** Latest generic interface counters of one data source: kept as exporter health. */
export interface InterfaceCounters {
  ifIndex: number;
  ifSpeed: number;
  ifStatus: number;
  inOctets: number;
  inDiscards: number;
  inErrors: number;
  outOctets: number;
  outDiscards: number;
  outErrors: number;
  updatedMs: number;
}

interface SourceState {
  nextSeq: number;
  drops: number;
}

/** sFlow-only state of one agent/sub-agent, beside its DomainState. */
export interface SflowAgentState {
  sources: Map<number, SourceState>;
  interfaces: Map<number, InterfaceCounters>;
}

// Per agent/sub-agent: a switch has at most a few thousand ports; a spoofed agent cannot pin more.
const MAX_SOURCES = 8192;
const MAX_INTERFACES = 1024;
/** A sample sequence jumping further than this is a restart, not loss. */
const MAX_SAMPLE_GAP = 1_000_000;

const agents = new WeakMap<DomainState, SflowAgentState>();

export function sflowState(d: DomainState): SflowAgentState | undefined {
  return agents.get(d);
}

/** Per data source of an agent: [source id, next expected sample sequence, agent drops so far]. */
export type SflowSourceState = [number, number, number];

/** The agent's per-source sample sequences, for a collector checkpoint. */
export function sflowSources(d: DomainState): SflowSourceState[] {
  const st = agents.get(d);
  return st ? [...st.sources].map(([id, s]) => [id, s.nextSeq, s.drops]) : [];
}

/** Continue saved sample sequences: samples sent while the collector was down count as lost. */
export function restoreSflowSources(d: DomainState, sources: readonly SflowSourceState[]): void {
  const st = stateOf(d);
  for (const [id, nextSeq, drops] of sources) if (st.sources.size < MAX_SOURCES) st.sources.set(id >>> 0, { nextSeq: nextSeq >>> 0, drops: drops >>> 0 });
}

function stateOf(d: DomainState): SflowAgentState {
  let s = agents.get(d);
  if (!s) agents.set(d, (s = { sources: new Map(), interfaces: new Map() }));
  return s;
}

const agentsV4 = new Map<number, { bytes: Uint8Array; text: string }>();
const agentsV6 = new Map<string, { bytes: Uint8Array; text: string }>();

/** The agent address as 16 bytes and text, cached: IPv4 agents by their u32 (no string built per datagram). */
function agentAddress(b: Uint8Array, p: number, v6: boolean): { bytes: Uint8Array; text: string } {
  if (!v6) {
    const key = u32(b, p);
    let a = agentsV4.get(key);
    if (!a) {
      const bytes = new Uint8Array(16);
      bytes[10] = 0xff;
      bytes[11] = 0xff;
      bytes.set(b.subarray(p, p + 4), 12);
      a = { bytes, text: formatAddress(bytes) };
      if (agentsV4.size > 100_000) agentsV4.clear();
      agentsV4.set(key, a);
    }
    return a;
  }
  const raw = b.subarray(p, p + 16);
  const key = Buffer.from(raw.buffer, raw.byteOffset, 16).toString('hex');
  let a = agentsV6.get(key);
  if (!a) {
    const bytes = Uint8Array.from(raw);
    a = { bytes, text: formatAddress(bytes) };
    if (agentsV6.size > 100_000) agentsV6.clear();
    agentsV6.set(key, a);
  }
  return a;
}

export function decodeSflow(b: Uint8Array, receivedMs: number, reg: TemplateRegistry, w: BatchWriter): number {
  const len = b.length;
  if (len < 28 || u32(b, 0) !== SFLOW_VERSION) return -1;
  const addrType = u32(b, 4);
  if (addrType !== 1 && addrType !== 2) return -1;
  const v6 = addrType === 2;
  let p = 8 + (v6 ? 16 : 4);
  if (p + 16 > len) return -1;
  const agent = agentAddress(b, 8, v6);
  const subAgent = u32(b, p);
  const seq = u32(b, p + 4);
  const uptime = u32(b, p + 8);
  const numSamples = u32(b, p + 12);
  p += 16;
  const d = reg.get(agent.bytes, agent.text, PROTOCOL.sflow5, subAgent);
  if (!d) return -1;
  d.beginPacket(receivedMs, uptime, receivedMs);
  d.sequence(seq, 1);
  const st = stateOf(d);
  let records = 0;
  for (let i = 0; i < numSamples; i++) {
    if (p + 8 > len) {
      d.counters.malformedPackets++; // fewer samples than announced
      return records;
    }
    const format = u32(b, p);
    const sLen = u32(b, p + 4);
    const start = p + 8;
    const end = start + sLen;
    if (end > len || sLen % 4 !== 0) {
      // A length that lies: nothing after it can be framed. Keep what came before.
      d.counters.malformedPackets++;
      d.counters.malformedSets++;
      return records;
    }
    if (format >>> 12 !== 0) d.counters.unknownSamples++;
    else if (format === FLOW_SAMPLE || format === FLOW_SAMPLE_EXPANDED)
      records += flowSample(d, st, b, start, end, format === FLOW_SAMPLE_EXPANDED, receivedMs, w);
    else if (format === COUNTERS_SAMPLE || format === COUNTERS_SAMPLE_EXPANDED)
      counterSample(d, st, b, start, end, format === COUNTERS_SAMPLE_EXPANDED, receivedMs);
    else d.counters.unknownSamples++;
    p = end;
  }
  if (p < len) d.counters.trailingBytes++;
  return records;
}

function accountSource(d: DomainState, st: SflowAgentState, source: number, seq: number, drops: number): void {
  const s = st.sources.get(source);
  if (!s) {
    if (st.sources.size >= MAX_SOURCES) return;
    st.sources.set(source, { nextSeq: (seq + 1) >>> 0, drops });
    return;
  }
  const ahead = (seq - s.nextSeq) >>> 0;
  if (ahead !== 0) {
    if (ahead <= MAX_SAMPLE_GAP) d.counters.samplesLost += ahead;
    else if (0x100000000 - ahead <= 1000) {
      // Late: one the gap before counted as lost arrived after all (never below zero).
      d.counters.reordered++;
      if (d.counters.samplesLost > 0) d.counters.samplesLost--;
      return;
    } else {
      // A restart (or a jump): counting starts again from here, drops too.
      d.counters.sequenceResets++;
      s.drops = drops;
    }
  }
  if (drops > s.drops) d.counters.sampleDrops += drops - s.drops;
  s.nextSeq = (seq + 1) >>> 0;
  s.drops = drops;
}

function flowSample(d: DomainState, st: SflowAgentState, b: Uint8Array, p: number, end: number, expanded: boolean, receivedMs: number, w: BatchWriter): number {
  const fixed = expanded ? 44 : 32;
  if (p + fixed > end) {
    d.counters.malformedRecords++;
    return 0;
  }
  const seq = u32(b, p);
  let source: number, rate: number, drops: number, inIf: number, outIf: number, nRecords: number;
  if (expanded) {
    source = ((u32(b, p + 4) & 0xff) * 0x1000000 + (u32(b, p + 8) & 0xffffff)) >>> 0;
    rate = u32(b, p + 12);
    drops = u32(b, p + 20);
    inIf = u32(b, p + 24) === 0 ? ifIndexOf(u32(b, p + 28)) : 0;
    outIf = u32(b, p + 32) === 0 ? ifIndexOf(u32(b, p + 36)) : 0;
    nRecords = u32(b, p + 40);
  } else {
    source = u32(b, p + 4);
    rate = u32(b, p + 8);
    drops = u32(b, p + 16);
    // Top two bits: 0 = an ifIndex; 1 = discarded (reason), 2 = several interfaces.
    const i = u32(b, p + 20);
    const o = u32(b, p + 24);
    inIf = i >>> 30 === 0 ? ifIndexOf(i & 0x3fffffff) : 0;
    outIf = o >>> 30 === 0 ? ifIndexOf(o & 0x3fffffff) : 0;
    nRecords = u32(b, p + 28);
  }
  if (rate !== 0) d.lastSampleRate = rate;

  accountSource(d, st, source, seq, drops);
  p += fixed;

  const o = w.reserve(1);
  const u8 = w.buf;
  const dv = w.dv;
  let bytes = 0;
  let ethBytes = 0;
  let ipBytes = 0;
  let ok = true;
  for (let r = 0; r < nRecords; r++) {
    if (p + 8 > end) {
      ok = false;
      break;
    }
    const format = u32(b, p);
    const rLen = u32(b, p + 4);
    const rs = p + 8;
    const re = rs + rLen;
    if (re > end) {
      ok = false;
      break;
    }
    if (format >>> 12 !== 0) d.counters.unknownFlowRecords++;
    else if (format === RAW_HEADER) {
      if (rLen < 16) {
        ok = false;
        break;
      }
      const proto = u32(b, rs);
      const frameLength = u32(b, rs + 4);
      const hLen = u32(b, rs + 12);
      if (rs + 16 + hLen > re) {
        ok = false;
        break;
      }
      const layer = proto === HEADER_ETHERNET ? LAYER_ETHERNET : proto === HEADER_IPV4 ? LAYER_IPV4 : proto === HEADER_IPV6 ? LAYER_IPV6 : -1;
      if (layer >= 0) {
        parseHeader(b, rs + 16, rs + 16 + hLen, layer, u8, dv, o);
        if (parsed.truncated) d.counters.truncatedHeaders++;
      } else d.counters.unknownFlowRecords++;
      bytes = frameLength;
    } else if (format === SAMPLED_ETHERNET) {
      if (rLen < 24) {
        ok = false;
        break;
      }
      ethBytes = u32(b, rs);
      // Only where no raw header gave the MACs.
      if (isZero(u8, o + F.srcMac, 12)) {
        u8.set(b.subarray(rs + 4, rs + 10), o + F.srcMac);
        u8.set(b.subarray(rs + 12, rs + 18), o + F.dstMac);
      }
    } else if (format === SAMPLED_IPV4 || format === SAMPLED_IPV6) {
      const v6 = format === SAMPLED_IPV6;
      if (rLen < (v6 ? 56 : 32)) {
        ok = false;
        break;
      }
      ipBytes = u32(b, rs);
      if (u8[o + F.ipVersion] === 0) {
        if (v6) {
          u8.set(b.subarray(rs + 8, rs + 24), o + F.src);
          u8.set(b.subarray(rs + 24, rs + 40), o + F.dst);
        } else {
          dv.setUint32(o + F.src + 8, 0xffff0000, true);
          dv.setUint32(o + F.dst + 8, 0xffff0000, true);
          u8.set(b.subarray(rs + 8, rs + 12), o + F.src + 12);
          u8.set(b.subarray(rs + 12, rs + 16), o + F.dst + 12);
        }
        const q = rs + (v6 ? 40 : 16);
        u8[o + F.proto] = u32(b, rs + 4) & 0xff;
        dv.setUint16(o + F.srcPort, u32(b, q) & 0xffff, true);
        dv.setUint16(o + F.dstPort, u32(b, q + 4) & 0xffff, true);
        dv.setUint16(o + F.tcpFlags, u32(b, q + 8) & 0x1ff, true);
        u8[o + F.ipVersion] = v6 ? 6 : 4;
      }
    } else if (format === EXTENDED_SWITCH) {
      if (rLen < 16) {
        ok = false;
        break;
      }
      // src_vlan, else dst_vlan (a frame only tagged on its way out); 0xFFFFFFFF is "unknown".
      const vlan = vlanOf(u32(b, rs)) || vlanOf(u32(b, rs + 8));
      if (vlan) dv.setUint16(o + F.vlan, vlan, true);
    } else if (format === EXTENDED_GATEWAY) {
      if (!gateway(b, rs, re, dv, o)) {
        ok = false;
        break;
      }
    } else if (format !== EXTENDED_ROUTER) d.counters.unknownFlowRecords++;
    // Extended router (next hop, masks) is read past: nothing in the record holds it.
    p = re;
  }
  if (!ok) {
    d.counters.malformedRecords++;
    u8.fill(0, o, o + (F.dstAs + 8));
    return 0;
  }
  if (u8[o + F.ipVersion] === 0) {
    // ARP, LLDP, a header cut before the addresses: nothing to attribute.
    u8.fill(0, o, o + (F.dstAs + 8));
    d.counters.recordsWithoutAddress++;
    return 0;
  }
  if (!bytes) bytes = ethBytes || ipBytes;
  dv.setFloat64(o + F.start, receivedMs, true);
  dv.setFloat64(o + F.end, receivedMs, true);
  dv.setFloat64(o + F.packets, 1, true);
  dv.setFloat64(o + F.bytes, bytes, true);
  const r = d.overrideRate || rate || d.defaultRate;
  if (r === 0) d.counters.unknownRateRecords++;
  dv.setUint32(o + F.sampling, r, true);
  dv.setUint32(o + F.inIf, inIf, true);
  dv.setUint32(o + F.outIf, outIf, true);
  u8[o + F.direction] = DIRECTION_UNKNOWN;
  dv.setUint32(o + F.exporter, d.exp0, true);
  dv.setUint32(o + F.exporter + 4, d.exp1, true);
  dv.setUint32(o + F.exporter + 8, d.exp2, true);
  dv.setUint32(o + F.exporter + 12, d.exp3, true);
  dv.setUint32(o + F.domain, d.domain, true);
  u8[o + F.version] = PROTOCOL.sflow5;
  w.count++;
  d.counters.records++;
  return 1;
}

function isZero(u8: Uint8Array, at: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (u8[at + i] !== 0) return false;
  return true;
}

/** sFlow's ifIndex 0x3FFFFFFF is the device's internal interface, not an index: unknown (0). */
function ifIndexOf(i: number): number {
  return i === 0x3fffffff ? 0 : i;
}

/** A VLAN id (1–4094) from an extended switch field; 0xFFFFFFFF ("unknown") and others: 0. */
function vlanOf(v: number): number {
  return v >= 1 && v <= 4094 ? v : 0;
}

/**
 * Extended gateway: source AS, and the destination AS as the last of the AS path (the origin).
 * A source AS of 0 or an empty destination path means the router's own AS (the end is local),
 * which other collectors substitute too.
 */
function gateway(b: Uint8Array, p: number, end: number, dv: DataView, o: number): boolean {
  if (p + 4 > end) return false;
  const t = u32(b, p);
  p += 4 + (t === 2 ? 16 : t === 1 ? 4 : 0);
  if (p + 16 > end) return false;
  const routerAs = u32(b, p);
  const srcAs = u32(b, p + 4) || routerAs;
  const segments = u32(b, p + 12);
  p += 16;
  let dstAs = 0;
  for (let s = 0; s < segments; s++) {
    if (p + 8 > end) return false;
    const n = u32(b, p + 4);
    p += 8;
    if (p + n * 4 > end) return false;
    if (n > 0) dstAs = u32(b, p + (n - 1) * 4);
    p += n * 4;
  }
  if (dstAs === 0) dstAs = routerAs;
  if (srcAs) dv.setUint32(o + F.srcAs, srcAs, true);
  if (dstAs) dv.setUint32(o + F.dstAs, dstAs, true);
  return true;
}

function counterSample(d: DomainState, st: SflowAgentState, b: Uint8Array, p: number, end: number, expanded: boolean, receivedMs: number): void {
  const fixed = expanded ? 16 : 12;
  if (p + fixed > end) {
    d.counters.malformedRecords++;
    return;
  }
  d.counters.counterSamples++;
  const n = u32(b, p + fixed - 4);
  p += fixed;
  for (let r = 0; r < n; r++) {
    if (p + 8 > end) {
      d.counters.malformedRecords++;
      return;
    }
    const format = u32(b, p);
    const rLen = u32(b, p + 4);
    const rs = p + 8;
    if (rs + rLen > end) {
      d.counters.malformedRecords++;
      return;
    }
    if (format === GENERIC_INTERFACE && rLen >= 88) {
      const ifIndex = u32(b, rs);
      let c = st.interfaces.get(ifIndex);
      if (!c) {
        if (st.interfaces.size >= MAX_INTERFACES) {
          p = rs + rLen;
          continue;
        }
        c = { ifIndex, ifSpeed: 0, ifStatus: 0, inOctets: 0, inDiscards: 0, inErrors: 0, outOctets: 0, outDiscards: 0, outErrors: 0, updatedMs: 0 };
        st.interfaces.set(ifIndex, c);
      }
      c.ifSpeed = u64(b, rs + 8);
      c.ifStatus = u32(b, rs + 20);
      c.inOctets = u64(b, rs + 24);
      c.inDiscards = u32(b, rs + 44);
      c.inErrors = u32(b, rs + 48);
      c.outOctets = u64(b, rs + 56);
      c.outDiscards = u32(b, rs + 76);
      c.outErrors = u32(b, rs + 80);
      c.updatedMs = receivedMs;
    }
    p = rs + rLen;
  }
}

function u64(b: Uint8Array, p: number): number {
  return u32(b, p) * 4294967296 + u32(b, p + 4);
}
