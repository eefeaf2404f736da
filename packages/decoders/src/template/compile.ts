import { F, RECORD_SIZE, DIRECTION_UNKNOWN, type BatchWriter } from '@haystack/flow-core';
import { IE, VARLEN, NTP_UNIX_OFFSET_S, REVERSE_PEN, FW_EVENT } from './fields.js';
import { parseHeader, parsed, LAYER_ETHERNET, LAYER_IP, LAYER_TRANSPORT } from '../packet/header.js';

export interface TemplateField {
  readonly id: number;
  /** Bytes, or VARLEN (65535) for an IPFIX variable-length element. */
  readonly length: number;
  /** IPFIX private enterprise number; 0 for IANA / NetFlow v9 elements. */
  readonly enterprise: number;
}

/**
 * What a compiled decoder needs to know about the packet it decodes. One object per
 * exporter/domain, refreshed per packet: never allocated per record.
 */
export interface RecordContext {
  /** Exporter address as four u32 words, little-endian in the batch. */
  exp0: number;
  exp1: number;
  exp2: number;
  exp3: number;
  domain: number;
  /** 9 or 10. */
  version: number;
  templateId: number;
  /** Export time from the packet header, Unix ms. */
  exportMs: number;
  /** NetFlow v9 header sysUptime in ms; NaN for IPFIX. */
  uptimeMs: number;
  /** Unix ms at which the exporter's sysUpTime was 0 (IPFIX systemInitTimeMilliseconds); NaN if unknown. */
  initMs: number;
  /** Configured override rate, 0 when none. */
  overrideRate: number;
  /** Rate for records naming no sampler: announced exporter-wide or configured default; 0 = unknown. */
  defaultRate: number;
  /** Rate announced for a sampler / selector id, else defaultRate. */
  rateFor(samplerId: number): number;
  /** Counters the compiled code bumps. */
  unknownRate: number;
  unanchoredTimes: number;
  malformedRecords: number;
  /** Packet-section records whose bytes hold no IP packet: not published. */
  noAddress: number;
  truncatedHeaders: number;
  nselSkipped: number;
  reverseRecords: number;
  /** Records read from the set as exported (skipped ones included, made-up reverse ones not): what IPFIX sequence numbers count. */
  consumed: number;
  /** NSEL: a flow-update event for this connection (its bytes are now counted by updates). */
  nselUpdate(connId: number): void;
  /** NSEL: a teardown; true when updates already counted this connection's bytes. */
  nselTeardown(connId: number): boolean;
}

export type DataDecoder = (b: Uint8Array, p: number, end: number, w: BatchWriter, ctx: RecordContext) => number;
type GeneratedDecoder = (b: Uint8Array, p: number, end: number, w: BatchWriter, ctx: RecordContext, H: Helpers) => number;

export interface CompiledTemplate {
  readonly decode: DataDecoder;
  /** Bytes of one record, or -1 when it has variable-length fields. */
  readonly recordLength: number;
  /** Smallest possible record (variable-length fields count 1 byte). */
  readonly minLength: number;
  /** Ids of fields the decoder uses (for `haystack decode --templates` and tests). */
  readonly used: readonly number[];
  /** How this layout is read, where it is not obvious (tunnels, packet sections, NSEL, biflows). */
  readonly notes: readonly string[];
}

/** What generated decoders call for the rare, branchy parts (packet sections, reverse records). */
const helpers = {
  header: parseHeader,
  parsed,
  /** Copy the record at `o` to the next slot as its reverse direction (RFC 5103, NSEL responder). */
  reverse(u8: Uint8Array, o: number): void {
    const r = o + RECORD_SIZE;
    u8.copyWithin(r, o, o + RECORD_SIZE);
    const swap = (a: number, b: number, n: number) => {
      for (let i = 0; i < n; i++) {
        const t = u8[r + a + i]!;
        u8[r + a + i] = u8[r + b + i]!;
        u8[r + b + i] = t;
      }
    };
    swap(F.src, F.dst, 16);
    swap(F.srcPort, F.dstPort, 2);
    swap(F.inIf, F.outIf, 4);
    swap(F.srcMac, F.dstMac, 6);
    swap(F.srcAs, F.dstAs, 4);
    // The reverse of an ingress flow left through the other side: direction is no longer known.
    u8[r + F.direction] = DIRECTION_UNKNOWN;
    u8[r + F.tcpFlags] = 0;
    u8[r + F.tcpFlags + 1] = 0;
  },
};
type Helpers = typeof helpers;

/** Reads an unsigned big-endian integer of 1–8 bytes at `at` (a JS expression). */
function uint(len: number, at: string): string {
  const byte = (i: number) => `b[${at}+${i}]`;
  switch (len) {
    case 1:
      return byte(0);
    case 2:
      return `(${byte(0)}<<8|${byte(1)})`;
    case 3:
      return `(${byte(0)}<<16|${byte(1)}<<8|${byte(2)})`;
    case 4:
      return `(${byte(0)}*16777216+(${byte(1)}<<16|${byte(2)}<<8|${byte(3)}))`;
    default: {
      if (len > 8 || len < 1) throw new Error(`unsupported integer length ${len}`);
      // High part (len-4 bytes) times 2^32 plus the low u32: exact below 2^53.
      return `(${uint(len - 4, at)}*4294967296+${uint(4, `${at}+${len - 4}`)})`;
    }
  }
}

type Src = { idx: number; id: number; len: number };

/** First field in `ids` order that the template carries with an acceptable length. */
function pick(fields: readonly TemplateField[], ids: readonly number[], ok: (len: number) => boolean): Src | null {
  for (const id of ids) {
    const idx = fields.findIndex((f) => f.enterprise === 0 && f.id === id && f.length !== VARLEN && ok(f.length));
    if (idx >= 0) return { idx, id, len: fields[idx]!.length };
  }
  return null;
}

/** Last field in `ids` order found (for tunnel templates: the inner header's copy). */
function pickLast(fields: readonly TemplateField[], ids: readonly number[], ok: (len: number) => boolean): Src | null {
  for (const id of ids) {
    let idx = -1;
    fields.forEach((f, i) => {
      if (f.enterprise === 0 && f.id === id && f.length !== VARLEN && ok(f.length)) idx = i;
    });
    if (idx >= 0) return { idx, id, len: fields[idx]!.length };
  }
  return null;
}

/** A field of a given enterprise (RFC 5103 reverse elements). */
function pickEnterprise(fields: readonly TemplateField[], ids: readonly number[], enterprise: number, ok: (len: number) => boolean): Src | null {
  for (const id of ids) {
    const idx = fields.findIndex((f) => f.enterprise === enterprise && f.id === id && f.length !== VARLEN && ok(f.length));
    if (idx >= 0) return { idx, id, len: fields[idx]!.length };
  }
  return null;
}

/** Fields that make up the 5-tuple: a template repeating one describes two header layers. */
const TUPLE: readonly number[] = [
  IE.sourceIPv4Address,
  IE.destinationIPv4Address,
  IE.sourceIPv6Address,
  IE.destinationIPv6Address,
  IE.sourceTransportPort,
  IE.destinationTransportPort,
  IE.protocolIdentifier,
];

/** Does the template repeat a 5-tuple field (outer and inner header of a tunnel)? */
export function isTunnelTemplate(fields: readonly TemplateField[]): boolean {
  const seen = new Set<number>();
  for (const f of fields) {
    if (f.enterprise !== 0 || !TUPLE.includes(f.id)) continue;
    if (seen.has(f.id)) return true;
    seen.add(f.id);
  }
  return false;
}

/** Packet-section fields (IPFIX 313–315): the bytes of the packet itself. */
export const SECTION_IDS: readonly number[] = [IE.dataLinkFrameSection, IE.ipHeaderPacketSection, IE.ipPayloadPacketSection];

const intLen = (l: number) => l >= 1 && l <= 8;
const smallInt = (l: number) => l >= 1 && l <= 4;

const cache = new Map<string, CompiledTemplate>();

/** Signature of a template's layout: identical layouts share one compiled decoder. */
export function layoutKey(fields: readonly TemplateField[]): string {
  let s = '';
  for (const f of fields) s += `${f.enterprise ? f.enterprise + ':' : ''}${f.id}/${f.length},`;
  return s;
}

/**
 * Compile a data template into a decoder function. Field selection, offsets and
 * conversions are decided here once; the generated loop only moves bytes.
 */
export function compileTemplate(fields: readonly TemplateField[]): CompiledTemplate {
  const key = layoutKey(fields);
  const hit = cache.get(key);
  if (hit) return hit;
  const compiled = build(fields);
  if (cache.size > 10000) cache.clear(); // bounded: hostile exporters can mint layouts
  cache.set(key, compiled);
  return compiled;
}

function build(fields: readonly TemplateField[]): CompiledTemplate {
  const varlen = fields.some((f) => f.length === VARLEN);
  let minLength = 0;
  for (const f of fields) minLength += f.length === VARLEN ? 1 : f.length;
  if (minLength === 0) throw new Error('template has no bytes');

  // Tunnel templates (Cisco SRv6 / IP-in-IP, Huawei) carry the outer and the inner header's
  // fields: the 5-tuple comes from one layer, the inner (later) one, as pmacct takes it.
  const tunnel = isTunnelTemplate(fields);
  const tuple = tunnel ? pickLast : pick;
  const notes: string[] = [];
  if (tunnel) notes.push('tunnel template: addresses, ports and protocol from the inner header');
  const src4 = tuple(fields, [IE.sourceIPv4Address], (l) => l === 4);
  const dst4 = tuple(fields, [IE.destinationIPv4Address], (l) => l === 4);
  const src6 = tuple(fields, [IE.sourceIPv6Address], (l) => l === 16);
  const dst6 = tuple(fields, [IE.destinationIPv6Address], (l) => l === 16);
  const sport = tuple(fields, [IE.sourceTransportPort, IE.udpSourcePort, IE.tcpSourcePort], (l) => l === 2);
  const dport = tuple(fields, [IE.destinationTransportPort, IE.udpDestinationPort, IE.tcpDestinationPort], (l) => l === 2);
  const proto = tuple(fields, [IE.protocolIdentifier], (l) => l === 1);
  const flags = pick(fields, [IE.tcpControlBits], (l) => l === 1 || l === 2);
  // Delta counts first; totals (85/86) when an exporter sends only those; NSEL initiator counts.
  const bytes = pick(fields, [IE.octetDeltaCount, IE.octetTotalCount, IE.postOctetDeltaCount, IE.initiatorOctets], intLen);
  const pkts = pick(fields, [IE.packetDeltaCount, IE.packetTotalCount, IE.postPacketDeltaCount, IE.initiatorPackets], intLen);
  const srcMac = pick(fields, [IE.sourceMacAddress, IE.postSourceMacAddress], (l) => l === 6);
  const dstMac = pick(fields, [IE.destinationMacAddress, IE.postDestinationMacAddress], (l) => l === 6);
  const srcAs = pick(fields, [IE.bgpSourceAsNumber], (l) => l === 2 || l === 4);
  const dstAs = pick(fields, [IE.bgpDestinationAsNumber], (l) => l === 2 || l === 4);
  const vlan = pick(fields, [IE.vlanId, IE.dot1qVlanId], (l) => l === 2);
  // NSEL (Cisco ASA) events and RFC 5103 biflows.
  const fwEvent = pick(fields, [IE.firewallEvent, IE.nselEventV84], (l) => l === 1);
  const connId = pick(fields, [IE.flowId], (l) => l === 4 || l === 8);
  const revBytes =
    pickEnterprise(fields, [IE.octetDeltaCount, IE.octetTotalCount], REVERSE_PEN, intLen) ??
    (bytes?.id === IE.initiatorOctets ? pick(fields, [IE.responderOctets], intLen) : null);
  const revPkts =
    pickEnterprise(fields, [IE.packetDeltaCount, IE.packetTotalCount], REVERSE_PEN, intLen) ??
    (pkts?.id === IE.initiatorPackets ? pick(fields, [IE.responderPackets], intLen) : null);
  if (fwEvent)
    notes.push(
      'NSEL: create, deny and alert events without traffic are skipped (with traffic, as PAN-OS sends them, they are flows); a teardown after flow updates is skipped (the updates counted it)',
    );
  if (revBytes || revPkts) notes.push('bidirectional: the reverse counters become a record of their own (addresses and ports swapped)');
  // Packet sections (Juniper inline monitoring, IOS-XR, EoMPLS): parsed like an sFlow header unless
  // address fields give both ends (state.ts hasAddresses accepts such templates on the same rule).
  const sectionIdx =
    (src4 || src6) && (dst4 || dst6) ? -1 : fields.findIndex((f) => f.enterprise === 0 && SECTION_IDS.includes(f.id) && f.id !== IE.ipPayloadPacketSection);
  const section = sectionIdx >= 0 ? { idx: sectionIdx, id: fields[sectionIdx]!.id, len: fields[sectionIdx]!.length } : null;
  const frameSize = pick(fields, [IE.dataLinkFrameSize], smallInt);
  if (section) notes.push(`packet section ${section.id}: addresses, ports and protocol parsed from the packet bytes`);
  // ifIndex first; the physical port (252/253) when an exporter sends only that.
  const inIf = pick(fields, [IE.ingressInterface, IE.ingressPhysicalInterface], smallInt);
  const outIf = pick(fields, [IE.egressInterface, IE.egressPhysicalInterface], smallInt);
  const dir = pick(fields, [IE.flowDirection], (l) => l === 1);
  const ipv = pick(fields, [IE.ipVersion], (l) => l === 1);
  const samplingInterval = pick(fields, [IE.samplingInterval], smallInt);
  const sampler = pick(fields, [IE.selectorId, IE.samplerId], intLen);
  const pktInterval = pick(fields, [IE.samplingPacketInterval], smallInt);
  const pktSpace = pick(fields, [IE.samplingPacketSpace], smallInt);
  const sysInit = pick(fields, [IE.systemInitTimeMilliseconds], (l) => l === 8);

  // Timestamps: absolute forms first, then sysUpTime-relative, then deltas to export time.
  const tsPref = (abs: number[]) => pick(fields, abs, (l) => l === 4 || l === 8);
  const start = tsPref([
    IE.flowStartMilliseconds,
    IE.flowStartSeconds,
    IE.flowStartMicroseconds,
    IE.flowStartNanoseconds,
    IE.flowStartSysUpTime,
    IE.flowStartDeltaMicroseconds,
  ]);
  const end = tsPref([
    IE.flowEndMilliseconds,
    IE.flowEndSeconds,
    IE.flowEndMicroseconds,
    IE.flowEndNanoseconds,
    IE.flowEndSysUpTime,
    IE.flowEndDeltaMicroseconds,
  ]);

  const used = [
    src4,
    dst4,
    src6,
    dst6,
    sport,
    dport,
    proto,
    flags,
    bytes,
    pkts,
    inIf,
    outIf,
    dir,
    ipv,
    samplingInterval,
    sampler,
    pktInterval,
    pktSpace,
    sysInit,
    start,
    end,
    srcMac,
    dstMac,
    srcAs,
    dstAs,
    vlan,
    fwEvent,
    connId,
    revBytes,
    revPkts,
    section,
    frameSize,
  ]
    .filter((s): s is Src => s !== null)
    .map((s) => s.id);

  // Offsets: constants for fixed layouts; for variable layouts, computed into locals per record.
  const lines: string[] = [];
  const at: string[] = [];
  if (!varlen) {
    let off = 0;
    for (const f of fields) {
      at.push(`p+${off}`);
      off += f.length;
    }
  } else {
    lines.push('let q = p;');
    fields.forEach((f, i) => {
      at.push(`a${i}`);
      if (f.length === VARLEN) {
        lines.push(
          `if (q >= end) { bad = true; break; } let l${i} = b[q]; q += 1; if (l${i} === 255) { if (q + 2 > end) { bad = true; break; } l${i} = b[q] << 8 | b[q + 1]; q += 2; }`,
          `const a${i} = q; q += l${i}; if (q > end) { bad = true; break; }`,
        );
      } else {
        lines.push(`const a${i} = q; q += ${f.length}; if (q > end) { bad = true; break; }`);
      }
    });
  }
  const A = (s: Src) => at[s.idx]!;
  const w: string[] = [];

  const v4addr = (s: Src, base: number) => [
    `dv.setUint32(o+${base + 8}, 0xffff0000, true);`,
    `u8[o+${base + 12}]=b[${A(s)}]; u8[o+${base + 13}]=b[${A(s)}+1]; u8[o+${base + 14}]=b[${A(s)}+2]; u8[o+${base + 15}]=b[${A(s)}+3];`,
  ];
  const v6addr = (s: Src, base: number) => {
    const out: string[] = [];
    for (let i = 0; i < 16; i++) out.push(`u8[o+${base + i}]=b[${A(s)}+${i}];`);
    return [out.join(' ')];
  };
  if (src4 || dst4) {
    if ((src6 || dst6) && tunnel && src6 && src4 && src6.idx > src4.idx) {
      // A tunnel with an IPv6 inner header: the non-zero IPv6 pair wins.
      let nz = '';
      for (let i = 0; i < 16; i++) nz += `${i ? '|' : ''}b[${A(src6)}+${i}]`;
      w.push(`if ((${nz}) !== 0) {`);
      w.push(...v6addr(src6, F.src));
      if (dst6) w.push(...v6addr(dst6, F.dst));
      w.push(`u8[o+${F.ipVersion}]=6; } else {`);
      w.push(...v4addr(src4, F.src));
      if (dst4) w.push(...v4addr(dst4, F.dst));
      w.push(`u8[o+${F.ipVersion}]=4; }`);
    } else if (src6 || dst6) {
      // Both families in one template (dual-stack templates; a tunnel with an IPv4 inner
      // header): the non-zero IPv4 pair wins.
      const nz = src4 ? `(b[${A(src4)}]|b[${A(src4)}+1]|b[${A(src4)}+2]|b[${A(src4)}+3])` : '0';
      w.push(`if (${nz} !== 0 || ${src6 ? 'false' : 'true'}) {`);
      if (src4) w.push(...v4addr(src4, F.src));
      if (dst4) w.push(...v4addr(dst4, F.dst));
      w.push(`u8[o+${F.ipVersion}]=4; } else {`);
      if (src6) w.push(...v6addr(src6, F.src));
      if (dst6) w.push(...v6addr(dst6, F.dst));
      w.push(`u8[o+${F.ipVersion}]=6; }`);
    } else {
      if (src4) w.push(...v4addr(src4, F.src));
      if (dst4) w.push(...v4addr(dst4, F.dst));
      w.push(`u8[o+${F.ipVersion}]=4;`);
    }
  } else if (src6 || dst6) {
    if (src6) w.push(...v6addr(src6, F.src));
    if (dst6) w.push(...v6addr(dst6, F.dst));
    w.push(`u8[o+${F.ipVersion}]=6;`);
  } else if (ipv) {
    w.push(`u8[o+${F.ipVersion}]=b[${A(ipv)}];`);
  }
  if (sport) w.push(`dv.setUint16(o+${F.srcPort}, ${uint(2, A(sport))}, true);`);
  if (dport) w.push(`dv.setUint16(o+${F.dstPort}, ${uint(2, A(dport))}, true);`);
  if (proto) w.push(`u8[o+${F.proto}]=b[${A(proto)}];`);
  if (flags) w.push(`dv.setUint16(o+${F.tcpFlags}, ${uint(flags.len, A(flags))}, true);`);
  if (section) {
    // The packet's own bytes: the header parser writes addresses, ports, protocol, MACs, VLAN.
    const sl = fields[section.idx]!.length === VARLEN ? `l${section.idx}` : String(section.len);
    const layer = section.id === IE.dataLinkFrameSection ? LAYER_ETHERNET : LAYER_IP;
    w.push(
      `if (H.header(b, ${A(section)}, ${A(section)} + ${sl}, ${layer}, u8, dv, o) === 0) { skip = true; noAddress++; } else if (H.parsed.truncated) truncatedHeaders++;`,
    );
  } else {
    const payload = fields.findIndex((f) => f.enterprise === 0 && f.id === IE.ipPayloadPacketSection);
    if (payload >= 0 && proto && !sport && !dport) {
      const sl = fields[payload]!.length === VARLEN ? `l${payload}` : String(fields[payload]!.length);
      w.push(`H.header(b, ${at[payload]}, ${at[payload]} + ${sl}, ${LAYER_TRANSPORT}, u8, dv, o, b[${A(proto)}]);`);
      notes.push('ipPayloadPacketSection: ports parsed from the transport header');
    }
  }
  if (bytes) w.push(`dv.setFloat64(o+${F.bytes}, ${uint(bytes.len, A(bytes))}, true);`);
  else if (section) w.push(`dv.setFloat64(o+${F.bytes}, ${frameSize ? uint(frameSize.len, A(frameSize)) : 'H.parsed.ipLength'}, true);`);
  if (pkts) w.push(`dv.setFloat64(o+${F.packets}, ${uint(pkts.len, A(pkts))}, true);`);
  else if (section) w.push(`dv.setFloat64(o+${F.packets}, 1, true);`);
  if (srcMac) w.push(`for (let i = 0; i < 6; i++) u8[o+${F.srcMac}+i] = b[${A(srcMac)}+i];`);
  if (dstMac) w.push(`for (let i = 0; i < 6; i++) u8[o+${F.dstMac}+i] = b[${A(dstMac)}+i];`);
  if (srcAs) w.push(`dv.setUint32(o+${F.srcAs}, ${uint(srcAs.len, A(srcAs))}, true);`);
  if (dstAs) w.push(`dv.setUint32(o+${F.dstAs}, ${uint(dstAs.len, A(dstAs))}, true);`);
  if (vlan) w.push(`dv.setUint16(o+${F.vlan}, ${uint(2, A(vlan))} & 0xfff, true);`);
  if (fwEvent) {
    const ev = `b[${A(fwEvent)}]`;
    const conn = connId ? uint(connId.len, A(connId)) : '';
    w.push(
      `{ const ev = ${ev};`,
      // Cisco ASA's create, deny and alert events count nothing; PAN-OS marks records carrying
      // traffic "created": an event record is skipped only when it carries none.
      `if ((ev === ${FW_EVENT.created} || ev === ${FW_EVENT.denied} || ev === ${FW_EVENT.alert}) && dv.getFloat64(o+${F.bytes}, true) === 0 && dv.getFloat64(o+${F.packets}, true) === 0) { skip = true; nselSkipped++; }`,
      connId ? `else if (ev === ${FW_EVENT.update}) ctx.nselUpdate(${conn});` : '',
      connId ? `else if (ev === ${FW_EVENT.deleted} && ctx.nselTeardown(${conn})) { skip = true; nselSkipped++; }` : '',
      '}',
    );
  }
  if (inIf) w.push(`dv.setUint32(o+${F.inIf}, ${uint(inIf.len, A(inIf))}, true);`);
  if (outIf) w.push(`dv.setUint32(o+${F.outIf}, ${uint(outIf.len, A(outIf))}, true);`);
  w.push(dir ? `u8[o+${F.direction}] = b[${A(dir)}] <= 1 ? b[${A(dir)}] : ${DIRECTION_UNKNOWN};` : `u8[o+${F.direction}]=${DIRECTION_UNKNOWN};`);

  // Sampling rate: a rate in the record itself, else its sampler's announced rate, else the default.
  let rate = 'let rate = 0;';
  if (samplingInterval) rate += ` rate = ${uint(samplingInterval.len, A(samplingInterval))};`;
  if (pktInterval && pktSpace) {
    rate += ` if (rate === 0) { const pi = ${uint(pktInterval.len, A(pktInterval))}; if (pi > 0) rate = Math.round((pi + ${uint(pktSpace.len, A(pktSpace))}) / pi); }`;
  }
  if (sampler) rate += ` if (rate === 0) rate = ctx.rateFor(${uint(sampler.len, A(sampler))});`;
  rate += ' if (rate === 0) rate = defaultRate; if (overrideRate !== 0) rate = overrideRate; if (rate === 0) unknownRate++;';
  w.push(rate, `dv.setUint32(o+${F.sampling}, rate, true);`);

  // Timestamps → Unix ms.
  const needsInit = [start, end].some((s) => s && (s.id === IE.flowStartSysUpTime || s.id === IE.flowEndSysUpTime));
  if (needsInit) {
    w.push(sysInit ? `const init = ${uint(8, A(sysInit))};` : 'const init = initMs;');
  }
  const ts = (s: Src | null): string => {
    if (!s) return 'exportMs';
    const a = A(s);
    switch (s.id) {
      case IE.flowStartMilliseconds:
      case IE.flowEndMilliseconds:
        return uint(s.len, a);
      case IE.flowStartSeconds:
      case IE.flowEndSeconds:
        return `${uint(s.len, a)}*1000`;
      case IE.flowStartMicroseconds:
      case IE.flowEndMicroseconds:
      case IE.flowStartNanoseconds:
      case IE.flowEndNanoseconds:
        // NTP format: seconds since 1900, then a 2^-32 s fraction.
        return s.len === 8 ? `((${uint(4, a)} - ${NTP_UNIX_OFFSET_S})*1000 + ${uint(4, `${a}+4`)}/4294967.296)` : 'exportMs';
      case IE.flowStartDeltaMicroseconds:
      case IE.flowEndDeltaMicroseconds:
        return `(exportMs - ${uint(s.len, a)}/1000)`;
      default: {
        // sysUpTime-relative ms. v9: anchor on the header's sysUptime, tolerating 32-bit wrap.
        const rel = uint(s.len, a);
        return `(uptimeMs === uptimeMs ? exportMs - ((uptimeMs - ${rel}) | 0) : (init === init ? init + ${rel} : (unanchored = true, exportMs)))`;
      }
    }
  };
  w.push('let unanchored = false;');
  w.push(`dv.setFloat64(o+${F.start}, ${ts(start)}, true);`);
  w.push(`dv.setFloat64(o+${F.end}, ${ts(end)}, true);`);
  w.push('if (unanchored) unanchoredTimes++;');

  w.push(
    `dv.setUint32(o+${F.exporter}, exp0, true); dv.setUint32(o+${F.exporter + 4}, exp1, true); dv.setUint32(o+${F.exporter + 8}, exp2, true); dv.setUint32(o+${F.exporter + 12}, exp3, true);`,
    `dv.setUint32(o+${F.domain}, domain, true);`,
    `dv.setUint16(o+${F.templateId}, templateId, true);`,
    `u8[o+${F.version}] = version;`,
  );

  const reverse = revBytes || revPkts;
  if (reverse) {
    const rb = revBytes ? uint(revBytes.len, A(revBytes)) : '0';
    const rp = revPkts ? uint(revPkts.len, A(revPkts)) : '0';
    w.push(
      `if (!skip) { const rb = ${rb}, rp = ${rp};`,
      `if (rb > 0 || rp > 0) { H.reverse(u8, o); dv.setFloat64(o+${RECORD_SIZE + F.bytes}, rb, true); dv.setFloat64(o+${RECORD_SIZE + F.packets}, rp, true); extra = 1; } }`,
    );
  }
  const skips = section !== null || fwEvent !== null;

  const recLen = varlen ? -1 : minLength;
  const body = `
    const max = Math.floor((end - p) / ${minLength});
    if (max <= 0) return 0;
    let o = w.reserve(max * ${reverse ? 2 : 1});
    const u8 = w.buf, dv = w.dv;
    const exp0 = ctx.exp0, exp1 = ctx.exp1, exp2 = ctx.exp2, exp3 = ctx.exp3, domain = ctx.domain, version = ctx.version, templateId = ctx.templateId;
    const exportMs = ctx.exportMs, uptimeMs = ctx.uptimeMs, initMs = ctx.initMs, overrideRate = ctx.overrideRate, defaultRate = ctx.defaultRate;
    let unknownRate = 0, unanchoredTimes = 0, n = 0, bad = false, noAddress = 0, truncatedHeaders = 0, nselSkipped = 0, reverseRecords = 0, consumed = 0;
    while (end - p >= ${minLength}) {
      let skip = false, extra = 0;
      ${lines.join('\n      ')}
      ${w.join('\n      ')}
      ${varlen ? 'p = q;' : `p += ${recLen};`}
      consumed++;
      ${skips ? `if (skip) { u8.fill(0, o, o + ${RECORD_SIZE}); continue; }` : ''}
      n += 1 + extra; reverseRecords += extra; o += ${RECORD_SIZE} * (1 + extra);
    }
    if (bad) { ctx.malformedRecords++; u8.fill(0, o, o + ${RECORD_SIZE}); }
    ctx.unknownRate += unknownRate; ctx.unanchoredTimes += unanchoredTimes;
    ctx.noAddress += noAddress; ctx.truncatedHeaders += truncatedHeaders; ctx.nselSkipped += nselSkipped; ctx.reverseRecords += reverseRecords; ctx.consumed += consumed;
    w.count += n;
    return n;`;

  const generated = new Function('b', 'p', 'end', 'w', 'ctx', 'H', body) as GeneratedDecoder;
  const decode: DataDecoder = (b, p, end, w, ctx) => generated(b, p, end, w, ctx, helpers);
  return { decode, recordLength: recLen, minLength, used, notes };
}
