import { F, RECORD_SIZE, DIRECTION_UNKNOWN, type BatchWriter } from '@haystack/flow-core';
import type { TemplateRegistry } from '../template/state.js';

export const V5_HEADER = 24;
export const V5_RECORD = 48;

/**
 * NetFlow v5: fixed 48-byte records, IPv4 only. The observation domain is
 * engine type << 8 | engine id; the header's sampling interval (low 14 bits) is the rate.
 * Returns records decoded, or -1 for a packet too short or inconsistent to trust.
 */
export function decodeV5(b: Uint8Array, exporter: Uint8Array, exporterText: string, receivedMs: number, reg: TemplateRegistry, w: BatchWriter): number {
  if (b.length < V5_HEADER) return -1;
  const count = (b[2]! << 8) | b[3]!;
  const uptime = b[4]! * 16777216 + ((b[5]! << 16) | (b[6]! << 8) | b[7]!);
  const secs = b[8]! * 16777216 + ((b[9]! << 16) | (b[10]! << 8) | b[11]!);
  const nsecs = b[12]! * 16777216 + ((b[13]! << 16) | (b[14]! << 8) | b[15]!);
  const seq = b[16]! * 16777216 + ((b[17]! << 16) | (b[18]! << 8) | b[19]!);
  const domain = (b[20]! << 8) | b[21]!;
  const interval = ((b[22]! << 8) | b[23]!) & 0x3fff;
  const d = reg.get(exporter, exporterText, 5, domain);
  if (!d) return -1;
  const exportMs = secs * 1000 + Math.floor(nsecs / 1e6);
  d.beginPacket(exportMs, uptime, receivedMs);
  const avail = Math.floor((b.length - V5_HEADER) / V5_RECORD);
  if (count > avail || count > 30) {
    // The header promises more than the datagram holds (or more than v5 allows): keep what is whole.
    d.counters.malformedPackets++;
  }
  const n = Math.min(count, avail);
  d.sequence(seq, count);
  const rate = d.overrideRate || interval || d.defaultRate;
  if (rate === 0) d.counters.unknownRateRecords += n;
  let o = w.reserve(n);
  const u8 = w.buf;
  const dv = w.dv;
  for (let i = 0, p = V5_HEADER; i < n; i++, p += V5_RECORD, o += RECORD_SIZE) {
    dv.setUint32(o + F.src + 8, 0xffff0000, true);
    u8[o + F.src + 12] = b[p]!;
    u8[o + F.src + 13] = b[p + 1]!;
    u8[o + F.src + 14] = b[p + 2]!;
    u8[o + F.src + 15] = b[p + 3]!;
    dv.setUint32(o + F.dst + 8, 0xffff0000, true);
    u8[o + F.dst + 12] = b[p + 4]!;
    u8[o + F.dst + 13] = b[p + 5]!;
    u8[o + F.dst + 14] = b[p + 6]!;
    u8[o + F.dst + 15] = b[p + 7]!;
    dv.setUint32(o + F.inIf, (b[p + 12]! << 8) | b[p + 13]!, true);
    dv.setUint32(o + F.outIf, (b[p + 14]! << 8) | b[p + 15]!, true);
    dv.setFloat64(o + F.packets, b[p + 16]! * 16777216 + ((b[p + 17]! << 16) | (b[p + 18]! << 8) | b[p + 19]!), true);
    dv.setFloat64(o + F.bytes, b[p + 20]! * 16777216 + ((b[p + 21]! << 16) | (b[p + 22]! << 8) | b[p + 23]!), true);
    const first = b[p + 24]! * 16777216 + ((b[p + 25]! << 16) | (b[p + 26]! << 8) | b[p + 27]!);
    const last = b[p + 28]! * 16777216 + ((b[p + 29]! << 16) | (b[p + 30]! << 8) | b[p + 31]!);
    dv.setFloat64(o + F.start, exportMs - ((uptime - first) | 0), true);
    dv.setFloat64(o + F.end, exportMs - ((uptime - last) | 0), true);
    dv.setUint16(o + F.srcPort, (b[p + 32]! << 8) | b[p + 33]!, true);
    dv.setUint16(o + F.dstPort, (b[p + 34]! << 8) | b[p + 35]!, true);
    dv.setUint16(o + F.tcpFlags, b[p + 37]!, true);
    u8[o + F.proto] = b[p + 38]!;
    // src_as, dst_as (16-bit origin or peer AS, as the router is configured).
    dv.setUint32(o + F.srcAs, (b[p + 40]! << 8) | b[p + 41]!, true);
    dv.setUint32(o + F.dstAs, (b[p + 42]! << 8) | b[p + 43]!, true);
    u8[o + F.ipVersion] = 4;
    u8[o + F.direction] = DIRECTION_UNKNOWN;
    dv.setUint32(o + F.sampling, rate, true);
    dv.setUint32(o + F.exporter, d.exp0, true);
    dv.setUint32(o + F.exporter + 4, d.exp1, true);
    dv.setUint32(o + F.exporter + 8, d.exp2, true);
    dv.setUint32(o + F.exporter + 12, d.exp3, true);
    dv.setUint32(o + F.domain, domain, true);
    u8[o + F.version] = 5;
  }
  w.count += n;
  d.counters.records += n;
  return n;
}
