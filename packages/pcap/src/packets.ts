// Builders of IPv4/IPv6 packets carrying UDP, TCP or ICMP, used by the writer and by tests
// that synthesise traffic. They write into a caller's buffer (`*Into`) so the writer can
// encode straight into its output block without an intermediate packet allocation.
import { parseIp } from './addr.js';
import { finishChecksum, onesSum } from './checksum.js';

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

/** TCP flag bits as they appear in the header's flags byte (and in NetFlow's tcpFlags). */
export const TcpFlags = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

/** Addresses may be given as text or as 4/16 raw bytes. */
export type IpAddressInput = string | Uint8Array;

export interface IpHeaderOptions {
  src: IpAddressInput;
  dst: IpAddressInput;
  /** Default 64. */
  ttl?: number;
  /** IPv4 TOS / IPv6 traffic class. Default 0. */
  tos?: number;
  /** IPv4 identification. Default 0. */
  id?: number;
  /** IPv6 flow label. Default 0. */
  flowLabel?: number;
  /** IPv4 don't-fragment bit. Default false. */
  dontFragment?: boolean;
}

function addrBytes(a: IpAddressInput): Uint8Array {
  if (typeof a === 'string') return parseIp(a);
  if (a.length !== 4 && a.length !== 16) throw new RangeError(`address must be 4 or 16 bytes, got ${a.length}`);
  return a;
}

/** Resolved addresses of one packet: both of the same family. */
interface Endpoints {
  src: Uint8Array;
  dst: Uint8Array;
  v6: boolean;
}

function endpoints(o: IpHeaderOptions): Endpoints {
  const src = addrBytes(o.src);
  const dst = addrBytes(o.dst);
  if (src.length !== dst.length) throw new TypeError('source and destination addresses must be of the same IP version');
  return { src, dst, v6: src.length === 16 };
}

/** Length of the IP header this package writes (no options / extension headers). */
export function ipHeaderLength(v6: boolean): number {
  return v6 ? 40 : 20;
}

/**
 * Writes an IP header for a transport segment of `l4Len` bytes at `off`. The IPv4 header
 * checksum is always correct (tshark and exporters may drop or flag packets without one).
 */
function writeIpHeader(buf: Buffer, off: number, ep: Endpoints, o: IpHeaderOptions, proto: number, l4Len: number): number {
  const ttl = o.ttl ?? 64;
  if (ep.v6) {
    if (l4Len > 0xffff) throw new RangeError(`IPv6 payload of ${l4Len} bytes needs a jumbogram; not supported`);
    buf.writeUInt32BE((0x60000000 | ((o.tos ?? 0) << 20) | ((o.flowLabel ?? 0) & 0xfffff)) >>> 0, off);
    buf.writeUInt16BE(l4Len, off + 4);
    buf[off + 6] = proto;
    buf[off + 7] = ttl;
    buf.set(ep.src, off + 8);
    buf.set(ep.dst, off + 24);
    return 40;
  }
  const total = 20 + l4Len;
  if (total > 0xffff) throw new RangeError(`IPv4 packet of ${total} bytes exceeds 65535`);
  buf[off] = 0x45;
  buf[off + 1] = o.tos ?? 0;
  buf.writeUInt16BE(total, off + 2);
  buf.writeUInt16BE((o.id ?? 0) & 0xffff, off + 4);
  buf.writeUInt16BE(o.dontFragment ? 0x4000 : 0, off + 6);
  buf[off + 8] = ttl;
  buf[off + 9] = proto;
  buf.writeUInt16BE(0, off + 10);
  buf.set(ep.src, off + 12);
  buf.set(ep.dst, off + 16);
  buf.writeUInt16BE(finishChecksum(onesSum(buf, off, off + 20)), off + 10);
  return 20;
}

/** Sum of the pseudo-header used by UDP, TCP and ICMPv6 checksums. */
function pseudoSum(ep: Endpoints, proto: number, l4Len: number): number {
  let s = onesSum(ep.src, 0, ep.src.length);
  s = onesSum(ep.dst, 0, ep.dst.length, s);
  return s + proto + (l4Len & 0xffff) + Math.floor(l4Len / 0x10000);
}

export interface UdpPacketOptions extends IpHeaderOptions {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
  /** Compute the UDP checksum (default true; IPv6 requires one, so it is always computed there). */
  udpChecksum?: boolean;
}

/** Size of the IP packet `encodeUdpPacketInto` would write. */
export function udpPacketLength(v6: boolean, payloadLen: number): number {
  return ipHeaderLength(v6) + 8 + payloadLen;
}

/** Writes IP + UDP headers + payload at `off`; returns the number of bytes written. */
export function encodeUdpPacketInto(buf: Buffer, off: number, o: UdpPacketOptions): number {
  const ep = endpoints(o);
  return encodeUdp(buf, off, ep, o);
}

function encodeUdp(buf: Buffer, off: number, ep: Endpoints, o: UdpPacketOptions): number {
  const udpLen = 8 + o.payload.length;
  if (udpLen > 0xffff) throw new RangeError(`UDP payload of ${o.payload.length} bytes exceeds 65527`);
  checkPort(o.srcPort);
  checkPort(o.dstPort);
  const h = writeIpHeader(buf, off, ep, o, IPPROTO_UDP, udpLen);
  const u = off + h;
  buf.writeUInt16BE(o.srcPort, u);
  buf.writeUInt16BE(o.dstPort, u + 2);
  buf.writeUInt16BE(udpLen, u + 4);
  buf.writeUInt16BE(0, u + 6);
  buf.set(o.payload, u + 8);
  if (ep.v6 || o.udpChecksum !== false) {
    let c = finishChecksum(onesSum(buf, u, u + udpLen, pseudoSum(ep, IPPROTO_UDP, udpLen)));
    // 0 means "no checksum" in UDP, so a computed 0 is sent as all ones (RFC 768).
    if (c === 0) c = 0xffff;
    buf.writeUInt16BE(c, u + 6);
  }
  return h + udpLen;
}

/** A complete IP packet carrying a UDP datagram. */
export function buildUdpPacket(o: UdpPacketOptions): Buffer {
  const ep = endpoints(o);
  const buf = Buffer.allocUnsafe(udpPacketLength(ep.v6, o.payload.length));
  encodeUdp(buf, 0, ep, o);
  return buf;
}

export interface TcpPacketOptions extends IpHeaderOptions {
  srcPort: number;
  dstPort: number;
  seq?: number;
  ack?: number;
  /** Bit set of TcpFlags. */
  flags: number;
  window?: number;
  payload?: Uint8Array;
}

/** A complete IP packet carrying a TCP segment (20-byte header, no options) with a correct checksum. */
export function buildTcpPacket(o: TcpPacketOptions): Buffer {
  const ep = endpoints(o);
  const payload = o.payload ?? EMPTY;
  checkPort(o.srcPort);
  checkPort(o.dstPort);
  const l4Len = 20 + payload.length;
  const buf = Buffer.allocUnsafe(ipHeaderLength(ep.v6) + l4Len);
  const t = writeIpHeader(buf, 0, ep, o, IPPROTO_TCP, l4Len);
  buf.writeUInt16BE(o.srcPort, t);
  buf.writeUInt16BE(o.dstPort, t + 2);
  buf.writeUInt32BE((o.seq ?? 0) >>> 0, t + 4);
  buf.writeUInt32BE((o.ack ?? 0) >>> 0, t + 8);
  buf[t + 12] = 5 << 4;
  buf[t + 13] = o.flags & 0xff;
  buf.writeUInt16BE(o.window ?? 65535, t + 14);
  buf.writeUInt16BE(0, t + 16);
  buf.writeUInt16BE(0, t + 18);
  buf.set(payload, t + 20);
  buf.writeUInt16BE(finishChecksum(onesSum(buf, t, t + l4Len, pseudoSum(ep, IPPROTO_TCP, l4Len))), t + 16);
  return buf;
}

export interface IcmpPacketOptions extends IpHeaderOptions {
  /** ICMP type; e.g. 8 echo request (IPv4) or 128 (ICMPv6). */
  type: number;
  code?: number;
  /** The 4 "rest of header" bytes: identifier << 16 | sequence for echo. */
  rest?: number;
  payload?: Uint8Array;
}

/** A complete IP packet carrying ICMP (IPv4) or ICMPv6 (IPv6, pseudo-header checksum). */
export function buildIcmpPacket(o: IcmpPacketOptions): Buffer {
  const ep = endpoints(o);
  const payload = o.payload ?? EMPTY;
  const proto = ep.v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
  const l4Len = 8 + payload.length;
  const buf = Buffer.allocUnsafe(ipHeaderLength(ep.v6) + l4Len);
  const t = writeIpHeader(buf, 0, ep, o, proto, l4Len);
  buf[t] = o.type;
  buf[t + 1] = o.code ?? 0;
  buf.writeUInt16BE(0, t + 2);
  buf.writeUInt32BE((o.rest ?? 0) >>> 0, t + 4);
  buf.set(payload, t + 8);
  const init = ep.v6 ? pseudoSum(ep, proto, l4Len) : 0;
  buf.writeUInt16BE(finishChecksum(onesSum(buf, t, t + l4Len, init)), t + 2);
  return buf;
}

const EMPTY = new Uint8Array(0);

function checkPort(p: number): void {
  if (!Number.isInteger(p) || p < 0 || p > 0xffff) throw new RangeError(`port out of range: ${p}`);
}
