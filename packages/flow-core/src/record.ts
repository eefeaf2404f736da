import { formatAddress } from '@haystack/common';
import { F, HEADER_SIZE, RECORD_SIZE, DIRECTION_UNKNOWN, type BatchView } from './batch.js';

/** One flow record as a plain object: for `haystack decode`, tests and debugging, never the hot path. */
export interface FlowRecord {
  start: number;
  end: number;
  exporter: string;
  observationDomain: number;
  flowVersion: number;
  templateId: number;
  ipVersion: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  proto: number;
  tcpFlags: number;
  packets: number;
  bytes: number;
  samplingRate: number;
  inIf: number;
  outIf: number;
  direction: 'ingress' | 'egress' | null;
  subscriberSide: 'src' | 'dst' | 'both' | null;
  /** Link layer and routing, where the export carries them (null / 0 otherwise). */
  srcMac: string | null;
  dstMac: string | null;
  vlan: number;
  srcAs: number;
  dstAs: number;
}

function mac(buf: Uint8Array, at: number): string | null {
  let any = 0;
  for (let i = 0; i < 6; i++) any |= buf[at + i]!;
  if (any === 0) return null;
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + buf[at + i]!.toString(16).padStart(2, '0');
  return s;
}

export function readRecord(buf: Uint8Array, dv: DataView, i: number): FlowRecord {
  const o = HEADER_SIZE + i * RECORD_SIZE;
  const dir = dv.getUint8(o + F.direction);
  const side = dv.getUint8(o + F.side);
  return {
    start: dv.getFloat64(o + F.start, true),
    end: dv.getFloat64(o + F.end, true),
    exporter: formatAddress(buf, o + F.exporter),
    observationDomain: dv.getUint32(o + F.domain, true),
    flowVersion: dv.getUint8(o + F.version),
    templateId: dv.getUint16(o + F.templateId, true),
    ipVersion: dv.getUint8(o + F.ipVersion),
    src: formatAddress(buf, o + F.src),
    dst: formatAddress(buf, o + F.dst),
    srcPort: dv.getUint16(o + F.srcPort, true),
    dstPort: dv.getUint16(o + F.dstPort, true),
    proto: dv.getUint8(o + F.proto),
    tcpFlags: dv.getUint16(o + F.tcpFlags, true),
    packets: dv.getFloat64(o + F.packets, true),
    bytes: dv.getFloat64(o + F.bytes, true),
    samplingRate: dv.getUint32(o + F.sampling, true),
    inIf: dv.getUint32(o + F.inIf, true),
    outIf: dv.getUint32(o + F.outIf, true),
    direction: dir === DIRECTION_UNKNOWN ? null : dir === 0 ? 'ingress' : 'egress',
    subscriberSide: side === 0 ? null : side === 1 ? 'src' : side === 2 ? 'dst' : 'both',
    srcMac: mac(buf, o + F.srcMac),
    dstMac: mac(buf, o + F.dstMac),
    vlan: dv.getUint16(o + F.vlan, true),
    srcAs: dv.getUint32(o + F.srcAs, true),
    dstAs: dv.getUint32(o + F.dstAs, true),
  };
}

export function* records(view: BatchView): Generator<FlowRecord> {
  for (let i = 0; i < view.count; i++) yield readRecord(view.buf, view.dv, i);
}
