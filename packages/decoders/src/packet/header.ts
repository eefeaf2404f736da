import { F } from '@haystack/flow-core';

/**
 * Parse a sampled packet's leading bytes (an sFlow raw header, an IPFIX packet section) into
 * the 5-tuple, MAC addresses and VLAN of the flow record at `o`. Written straight into the
 * batch: no object per packet.
 *
 * Handled: Ethernet II, 802.1Q / 802.1ad / QinQ tags, MPLS label stacks (with IPv4, IPv6 or a
 * pseudowire control word and Ethernet inside), IPv4 (options, fragments), IPv6 with extension
 * headers, IP-in-IP and IPv6-in-IP (the inner header gives the 5-tuple, as for tunnel templates),
 * TCP, UDP, SCTP, ICMP and ICMPv6 (type·256+code as the destination port, the NetFlow custom).
 * The outermost Ethernet header gives the MACs and VLAN: on an exchange fabric those are the
 * member routers.
 */
export const LAYER_ETHERNET = 1;
export const LAYER_IPV4 = 11;
export const LAYER_IPV6 = 12;
/** An IP header of either version (the version nibble decides). */
export const LAYER_IP = 0;
/** Starts at the transport header (IPFIX ipPayloadPacketSection): ports only, for `proto`. */
export const LAYER_TRANSPORT = 255;

/** Result of the last parse beyond what went into the record (module state: no allocation per packet). */
export const parsed = {
  /** IP total length (IPv4) or payload length + 40 (IPv6) from the header; 0 if no IP header. */
  ipLength: 0,
  /** The header was cut before the transport ports (sFlow header length limit, fragments). */
  truncated: false,
};

const MAX_DEPTH = 8;

/** Returns the IP version found (4 or 6), or 0 when the bytes hold no IP packet (ARP, LLDP, cut short). */
export function parseHeader(b: Uint8Array, p: number, end: number, layer: number, u8: Uint8Array, dv: DataView, o: number, proto = 0): number {
  parsed.ipLength = 0;
  parsed.truncated = false;
  if (layer === LAYER_TRANSPORT) {
    transport(b, p, end, proto, u8, dv, o);
    return 0;
  }
  if (layer === LAYER_ETHERNET) return ethernet(b, p, end, u8, dv, o, true, 0);
  if (layer === LAYER_IPV4) return ipv4(b, p, end, u8, dv, o, 0);
  if (layer === LAYER_IPV6) return ipv6(b, p, end, u8, dv, o, 0);
  return ip(b, p, end, u8, dv, o, 0);
}

function ethernet(b: Uint8Array, p: number, end: number, u8: Uint8Array, dv: DataView, o: number, outer: boolean, depth: number): number {
  if (p + 14 > end) return 0;
  if (outer) {
    for (let i = 0; i < 6; i++) {
      u8[o + F.dstMac + i] = b[p + i]!;
      u8[o + F.srcMac + i] = b[p + 6 + i]!;
    }
  }
  let type = (b[p + 12]! << 8) | b[p + 13]!;
  p += 14;
  let tagged = false;
  while (type === 0x8100 || type === 0x88a8 || type === 0x9100) {
    if (p + 4 > end) return 0;
    // The outermost tag is the fabric's VLAN (QinQ: the service tag).
    if (outer && !tagged) dv.setUint16(o + F.vlan, ((b[p]! << 8) | b[p + 1]!) & 0x0fff, true);
    tagged = true;
    type = (b[p + 2]! << 8) | b[p + 3]!;
    p += 4;
  }
  if (type === 0x0800) return ipv4(b, p, end, u8, dv, o, depth);
  if (type === 0x86dd) return ipv6(b, p, end, u8, dv, o, depth);
  if (type === 0x8847 || type === 0x8848) return mpls(b, p, end, u8, dv, o, depth);
  return 0;
}

function mpls(b: Uint8Array, p: number, end: number, u8: Uint8Array, dv: DataView, o: number, depth: number): number {
  for (let i = 0; i < 16; i++) {
    if (p + 4 > end) return 0;
    const bottom = b[p + 2]! & 1;
    p += 4;
    if (bottom) break;
  }
  if (p >= end) return 0;
  const nibble = b[p]! >> 4;
  if (nibble === 4 || nibble === 6) return ip(b, p, end, u8, dv, o, depth);
  // A pseudowire control word (first nibble 0) and an Ethernet frame: Ethernet over MPLS.
  if (nibble === 0 && depth < MAX_DEPTH) return ethernet(b, p + 4, end, u8, dv, o, false, depth + 1);
  return 0;
}

function ip(b: Uint8Array, p: number, end: number, u8: Uint8Array, dv: DataView, o: number, depth: number): number {
  if (p >= end) return 0;
  const v = b[p]! >> 4;
  if (v === 4) return ipv4(b, p, end, u8, dv, o, depth);
  if (v === 6) return ipv6(b, p, end, u8, dv, o, depth);
  return 0;
}

function ipv4(b: Uint8Array, p: number, end: number, u8: Uint8Array, dv: DataView, o: number, depth: number): number {
  if (p + 20 > end || b[p]! >> 4 !== 4) return 0;
  const ihl = (b[p]! & 15) * 4;
  const proto = b[p + 9]!;
  dv.setUint32(o + F.src, 0, true);
  dv.setUint32(o + F.src + 4, 0, true);
  dv.setUint32(o + F.src + 8, 0xffff0000, true);
  dv.setUint32(o + F.dst, 0, true);
  dv.setUint32(o + F.dst + 4, 0, true);
  dv.setUint32(o + F.dst + 8, 0xffff0000, true);
  for (let i = 0; i < 4; i++) {
    u8[o + F.src + 12 + i] = b[p + 12 + i]!;
    u8[o + F.dst + 12 + i] = b[p + 16 + i]!;
  }
  u8[o + F.proto] = proto;
  u8[o + F.ipVersion] = 4;
  parsed.ipLength = (b[p + 2]! << 8) | b[p + 3]!;
  const fragOffset = ((b[p + 6]! & 0x1f) << 8) | b[p + 7]!;
  if (ihl < 20) return 4;
  if (fragOffset !== 0) return 4; // not the first fragment: no transport header
  const t = p + ihl;
  if ((proto === 4 || proto === 41) && depth < MAX_DEPTH) {
    const outerLength = parsed.ipLength;
    const inner = proto === 4 ? ipv4(b, t, end, u8, dv, o, depth + 1) : ipv6(b, t, end, u8, dv, o, depth + 1);
    parsed.ipLength = outerLength;
    if (inner) return inner;
    return 4;
  }
  transport(b, t, end, proto, u8, dv, o);
  return 4;
}

function ipv6(b: Uint8Array, p: number, end: number, u8: Uint8Array, dv: DataView, o: number, depth: number): number {
  if (p + 40 > end || b[p]! >> 4 !== 6) return 0;
  for (let i = 0; i < 16; i++) {
    u8[o + F.src + i] = b[p + 8 + i]!;
    u8[o + F.dst + i] = b[p + 24 + i]!;
  }
  u8[o + F.ipVersion] = 6;
  parsed.ipLength = ((b[p + 4]! << 8) | b[p + 5]!) + 40;
  let next = b[p + 6]!;
  let q = p + 40;
  // Extension headers, in any number (bounded): the last next-header is the transport protocol.
  for (let i = 0; i < 16; i++) {
    if (next === 0 || next === 43 || next === 60) {
      if (q + 2 > end) return trunc(u8, o, next, 6);
      next = b[q]!;
      q += (b[q + 1]! + 1) * 8;
    } else if (next === 44) {
      if (q + 8 > end) return trunc(u8, o, next, 6);
      const offset = ((b[q + 2]! << 8) | b[q + 3]!) >> 3;
      next = b[q]!;
      q += 8;
      if (offset !== 0) {
        u8[o + F.proto] = next;
        return 6;
      }
    } else if (next === 51) {
      if (q + 2 > end) return trunc(u8, o, next, 6);
      next = b[q]!;
      q += (b[q + 1]! + 2) * 4;
    } else break;
  }
  u8[o + F.proto] = next;
  if ((next === 4 || next === 41) && depth < MAX_DEPTH) {
    const outerLength = parsed.ipLength;
    const inner = next === 4 ? ipv4(b, q, end, u8, dv, o, depth + 1) : ipv6(b, q, end, u8, dv, o, depth + 1);
    parsed.ipLength = outerLength;
    if (inner) return inner;
    return 6;
  }
  transport(b, q, end, next, u8, dv, o);
  return 6;
}

function trunc(u8: Uint8Array, o: number, proto: number, v: number): number {
  u8[o + F.proto] = proto;
  parsed.truncated = true;
  return v;
}

function transport(b: Uint8Array, t: number, end: number, proto: number, u8: Uint8Array, dv: DataView, o: number): void {
  if (proto === 6 || proto === 17 || proto === 132 || proto === 136) {
    if (t + 4 > end) {
      parsed.truncated = true;
      return;
    }
    dv.setUint16(o + F.srcPort, (b[t]! << 8) | b[t + 1]!, true);
    dv.setUint16(o + F.dstPort, (b[t + 2]! << 8) | b[t + 3]!, true);
    if (proto === 6 && t + 14 <= end) dv.setUint16(o + F.tcpFlags, ((b[t + 12]! & 1) << 8) | b[t + 13]!, true);
  } else if (proto === 1 || proto === 58) {
    if (t + 2 > end) {
      parsed.truncated = true;
      return;
    }
    dv.setUint16(o + F.srcPort, 0, true);
    dv.setUint16(o + F.dstPort, (b[t]! << 8) | b[t + 1]!, true);
  }
}
