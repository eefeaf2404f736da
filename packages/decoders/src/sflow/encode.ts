import { parseAddress } from '@haystack/common';

/**
 * Agent-side encoding of sFlow v5 datagrams and of the sampled frames they carry: for
 * hand-built test datagrams and the simulator's exchange fabric. Clarity over speed.
 */

/** XDR words: everything in sFlow is a big-endian u32 or padded to 4 bytes. */
function words(...vs: number[]): Buffer {
  const b = Buffer.alloc(vs.length * 4);
  vs.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

function pad4(b: Buffer): Buffer {
  const r = b.length % 4;
  return r ? Buffer.concat([b, Buffer.alloc(4 - r)]) : b;
}

function macBytes(mac: string): Buffer {
  const b = Buffer.from(mac.split(/[:-]/).map((h) => parseInt(h, 16)));
  if (b.length !== 6) throw new Error(`not a MAC address: ${mac}`);
  return b;
}

function addr(text: string): { v6: boolean; bytes: Buffer } {
  const a = parseAddress(text);
  const v4 = a.subarray(0, 10).every((x) => x === 0) && a[10] === 0xff && a[11] === 0xff;
  return v4 ? { v6: false, bytes: Buffer.from(a.subarray(12)) } : { v6: true, bytes: Buffer.from(a) };
}

function addressXdr(text: string): Buffer {
  const a = addr(text);
  return Buffer.concat([words(a.v6 ? 2 : 1), a.bytes]);
}

export interface FrameSpec {
  srcMac?: string;
  dstMac?: string;
  /** 802.1Q tags, outermost first (two for QinQ). */
  vlans?: number[];
  /** MPLS labels, outermost first. */
  mpls?: number[];
  src: string;
  dst: string;
  proto: number;
  srcPort?: number;
  dstPort?: number;
  tcpFlags?: number;
  /** IPv6 extension headers to chain before the transport header (hop-by-hop 0, routing 43, dest-opts 60). */
  ipv6Ext?: number[];
  /** IPv4 fragment offset in 8-byte units (non-zero: no transport header). */
  fragmentOffset?: number;
  /** Payload bytes after the transport header (only its length matters). */
  payload?: number;
}

/** An Ethernet frame (or, with `ipOnly`, just the IP packet) as a sampling agent would copy it. */
export function buildFrame(f: FrameSpec, ipOnly = false): Buffer {
  const s = addr(f.src);
  const d = addr(f.dst);
  const payload = Buffer.alloc(f.payload ?? 0);
  let l4: Buffer;
  if (f.fragmentOffset) l4 = Buffer.alloc(8);
  else if (f.proto === 6) {
    l4 = Buffer.alloc(20);
    l4.writeUInt16BE(f.srcPort ?? 0, 0);
    l4.writeUInt16BE(f.dstPort ?? 0, 2);
    l4[12] = 0x50 | (((f.tcpFlags ?? 0) >> 8) & 1);
    l4[13] = (f.tcpFlags ?? 0) & 0xff;
  } else if (f.proto === 17) {
    l4 = Buffer.alloc(8);
    l4.writeUInt16BE(f.srcPort ?? 0, 0);
    l4.writeUInt16BE(f.dstPort ?? 0, 2);
    l4.writeUInt16BE(8 + payload.length, 4);
  } else if (f.proto === 1 || f.proto === 58) {
    l4 = Buffer.alloc(8);
    l4.writeUInt16BE(f.dstPort ?? 0, 0);
  } else l4 = Buffer.alloc(0);
  const body = Buffer.concat([l4, payload]);
  let ip: Buffer;
  if (!s.v6) {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + body.length, 2);
    ip.writeUInt16BE((f.fragmentOffset ?? 0) & 0x1fff, 6);
    ip[8] = 64;
    ip[9] = f.proto;
    s.bytes.copy(ip, 12);
    d.bytes.copy(ip, 16);
  } else {
    const ext = f.ipv6Ext ?? [];
    const chain: Buffer[] = [];
    ext.forEach((_, i) => {
      const h = Buffer.alloc(8);
      h[0] = i + 1 < ext.length ? ext[i + 1]! : f.proto;
      chain.push(h);
    });
    const exts = Buffer.concat(chain);
    ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(exts.length + body.length, 4);
    ip[6] = ext.length ? ext[0]! : f.proto;
    ip[7] = 64;
    s.bytes.copy(ip, 8);
    d.bytes.copy(ip, 24);
    ip = Buffer.concat([ip, exts]);
  }
  const packet = Buffer.concat([ip, body]);
  if (ipOnly) return packet;
  const parts: Buffer[] = [macBytes(f.dstMac ?? '02:00:00:00:00:02'), macBytes(f.srcMac ?? '02:00:00:00:00:01')];
  // Each tag: TPID then TCI; the EtherType after the last tag is the payload's.
  const vlans = f.vlans ?? [];
  vlans.forEach((v, i) => {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(vlans.length > 1 && i === 0 ? 0x88a8 : 0x8100, 0);
    t.writeUInt16BE(v & 0xfff, 2);
    parts.push(t);
  });
  const labels = f.mpls ?? [];
  const type = Buffer.alloc(2);
  type.writeUInt16BE(labels.length ? 0x8847 : s.v6 ? 0x86dd : 0x0800, 0);
  parts.push(type);
  labels.forEach((l, i) => parts.push(words(((l & 0xfffff) << 12) | (i === labels.length - 1 ? 0x100 : 0) | 64)));
  parts.push(packet);
  return Buffer.concat(parts);
}

export type FlowRecordSpec =
  | { kind: 'header'; protocol?: number; frameLength: number; stripped?: number; header: Buffer }
  | { kind: 'ethernet'; length: number; srcMac: string; dstMac: string; type: number }
  | { kind: 'ipv4' | 'ipv6'; length: number; proto: number; src: string; dst: string; srcPort: number; dstPort: number; tcpFlags?: number; tos?: number }
  | { kind: 'switch'; srcVlan: number; srcPriority?: number; dstVlan: number; dstPriority?: number }
  | { kind: 'router'; nextHop: string; srcMask: number; dstMask: number }
  | { kind: 'gateway'; nextHop: string; as: number; srcAs: number; srcPeerAs: number; asPath: number[][] }
  | { kind: 'raw'; format: number; body: Buffer };

function flowRecord(r: FlowRecordSpec): Buffer {
  let format: number;
  let body: Buffer;
  switch (r.kind) {
    case 'header':
      format = 1;
      body = Buffer.concat([words(r.protocol ?? 1, r.frameLength, r.stripped ?? 4, r.header.length), pad4(r.header)]);
      break;
    case 'ethernet':
      format = 2;
      body = Buffer.concat([words(r.length), macBytes(r.srcMac), Buffer.alloc(2), macBytes(r.dstMac), Buffer.alloc(2), words(r.type)]);
      break;
    case 'ipv4':
    case 'ipv6': {
      format = r.kind === 'ipv4' ? 3 : 4;
      const s = addr(r.src).bytes;
      const d = addr(r.dst).bytes;
      body = Buffer.concat([words(r.length, r.proto), s, d, words(r.srcPort, r.dstPort, r.tcpFlags ?? 0, r.tos ?? 0)]);
      break;
    }
    case 'switch':
      format = 1001;
      body = words(r.srcVlan, r.srcPriority ?? 0, r.dstVlan, r.dstPriority ?? 0);
      break;
    case 'router':
      format = 1002;
      body = Buffer.concat([addressXdr(r.nextHop), words(r.srcMask, r.dstMask)]);
      break;
    case 'gateway': {
      format = 1003;
      const segs = r.asPath.map((seg) => Buffer.concat([words(2, seg.length), words(...seg)]));
      body = Buffer.concat([addressXdr(r.nextHop), words(r.as, r.srcAs, r.srcPeerAs, r.asPath.length), ...segs, words(0, 100)]);
      break;
    }
    case 'raw':
      format = r.format;
      body = r.body;
      break;
  }
  return Buffer.concat([words(format, body.length), body]);
}

export interface FlowSampleSpec {
  kind: 'flow';
  expanded?: boolean;
  sequence: number;
  /** Data source: type (0 ifIndex, 1 VLAN) and index. */
  sourceType?: number;
  sourceIndex: number;
  rate: number;
  pool?: number;
  drops?: number;
  input?: number;
  output?: number;
  records: FlowRecordSpec[];
}

export interface CounterSampleSpec {
  kind: 'counters';
  expanded?: boolean;
  sequence: number;
  sourceIndex: number;
  ifIndex: number;
  ifSpeed?: number;
  inOctets?: number;
  outOctets?: number;
  inDiscards?: number;
  outDiscards?: number;
  inErrors?: number;
  outErrors?: number;
}

export type SampleSpec = FlowSampleSpec | CounterSampleSpec | { kind: 'raw'; format: number; body: Buffer };

function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(Math.floor(v)));
  return b;
}

function sample(s: SampleSpec): Buffer {
  let format: number;
  let body: Buffer;
  if (s.kind === 'flow') {
    const recs = s.records.map(flowRecord);
    const src = (((s.sourceType ?? 0) & 0xff) << 24) | (s.sourceIndex & 0xffffff);
    const pool = s.pool ?? s.sequence * s.rate;
    if (s.expanded) {
      format = 3;
      body = Buffer.concat([
        words(s.sequence, s.sourceType ?? 0, s.sourceIndex, s.rate, pool, s.drops ?? 0, 0, s.input ?? 0, 0, s.output ?? 0, recs.length),
        ...recs,
      ]);
    } else {
      format = 1;
      body = Buffer.concat([words(s.sequence, src, s.rate, pool, s.drops ?? 0, s.input ?? 0, s.output ?? 0, recs.length), ...recs]);
    }
  } else if (s.kind === 'counters') {
    const generic = Buffer.concat([
      words(s.ifIndex, 6),
      u64(s.ifSpeed ?? 10e9),
      words(3, 3),
      u64(s.inOctets ?? 0),
      words(0, 0, 0, s.inDiscards ?? 0, s.inErrors ?? 0, 0),
      u64(s.outOctets ?? 0),
      words(0, 0, 0, s.outDiscards ?? 0, s.outErrors ?? 0, 0),
    ]);
    const rec = Buffer.concat([words(1, generic.length), generic]);
    if (s.expanded) {
      format = 4;
      body = Buffer.concat([words(s.sequence, 0, s.sourceIndex, 1), rec]);
    } else {
      format = 2;
      body = Buffer.concat([words(s.sequence, s.sourceIndex, 1), rec]);
    }
  } else {
    format = s.format;
    body = s.body;
  }
  return Buffer.concat([words(format, body.length), body]);
}

export interface DatagramSpec {
  agent: string;
  subAgent?: number;
  sequence: number;
  uptimeMs?: number;
  samples: SampleSpec[];
}

/** One sFlow v5 datagram. */
export function buildSflowDatagram(d: DatagramSpec): Buffer {
  const samples = d.samples.map(sample);
  return Buffer.concat([words(5), addressXdr(d.agent), words(d.subAgent ?? 0, d.sequence, d.uptimeMs ?? 1000, samples.length), ...samples]);
}
