// Link layer → IP → UDP decoding of one captured frame. Works on offsets into the frame bytes
// and fills a caller-owned result object, so decoding a frame allocates nothing.
import { LinkType } from './linktype.js';

/** Outcome of decoding one frame. */
export const FrameKind = {
  UDP: 0,
  /** Decodable but not UDP over IP (ARP, TCP, ICMP, MPLS, ...). */
  NON_UDP: 1,
  /** Captured bytes end before the headers or the UDP payload do (snaplen cut). */
  TRUNCATED: 2,
  /** An IP fragment: a UDP datagram we cannot deliver whole without reassembly. */
  FRAGMENT: 3,
  /** Headers contradict themselves (bad IHL, UDP length < 8, ...). */
  MALFORMED: 4,
  /** Link type this decoder does not handle. */
  UNSUPPORTED_LINK: 5,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** Where the parts of a decoded UDP datagram lie inside the frame bytes. */
export interface UdpLocation {
  /** 4 or 6. */
  ipVersion: number;
  /** Offset of the source address (4 or 16 bytes; destination follows at +4 / +16). */
  addrOffset: number;
  srcPort: number;
  dstPort: number;
  payloadStart: number;
  payloadEnd: number;
}

export function newUdpLocation(): UdpLocation {
  return { ipVersion: 0, addrOffset: 0, srcPort: 0, dstPort: 0, payloadStart: 0, payloadEnd: 0 };
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
const ETH_QINQ_OLD = 0x9100;
/** Deeper tag stacks than this are treated as malformed rather than walked forever. */
const MAX_VLAN_TAGS = 8;

/**
 * Finds the UDP datagram in a frame of the given link type. `data` is the captured bytes
 * (caplen); `out` is filled only when the result is FrameKind.UDP.
 */
export function decodeFrame(linkType: number, data: Uint8Array, out: UdpLocation): FrameKind {
  const len = data.length;
  switch (linkType) {
    case LinkType.ETHERNET: {
      if (len < 14) return FrameKind.TRUNCATED;
      let off = 12;
      let type = (data[off]! << 8) | data[off + 1]!;
      let tags = 0;
      while (type === ETH_VLAN || type === ETH_QINQ || type === ETH_QINQ_OLD) {
        if (++tags > MAX_VLAN_TAGS) return FrameKind.MALFORMED;
        off += 4;
        if (off + 2 > len) return FrameKind.TRUNCATED;
        type = (data[off]! << 8) | data[off + 1]!;
      }
      off += 2;
      if (type === ETH_IPV4) return decodeIpv4(data, off, out);
      if (type === ETH_IPV6) return decodeIpv6(data, off, out);
      return FrameKind.NON_UDP;
    }
    case LinkType.RAW:
    case LinkType.DLT_RAW_12:
    case LinkType.DLT_RAW_14:
      return decodeIp(data, 0, out);
    case LinkType.IPV4:
      return decodeIpv4(data, 0, out);
    case LinkType.IPV6:
      return decodeIpv6(data, 0, out);
    case LinkType.LINUX_SLL: {
      if (len < 16) return FrameKind.TRUNCATED;
      return byEthertype((data[14]! << 8) | data[15]!, data, 16, out);
    }
    case LinkType.LINUX_SLL2: {
      if (len < 20) return FrameKind.TRUNCATED;
      return byEthertype((data[0]! << 8) | data[1]!, data, 20, out);
    }
    case LinkType.NULL:
    case LinkType.LOOP: {
      if (len < 4) return FrameKind.TRUNCATED;
      // NULL stores the family in the capturing host's byte order, which the file does not
      // record; families are small numbers, so whichever reading is small is the right one.
      let fam = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
      if (linkType === LinkType.NULL && fam > 0xffff) {
        fam = ((data[3]! << 24) | (data[2]! << 16) | (data[1]! << 8) | data[0]!) >>> 0;
      }
      if (fam === 2) return decodeIpv4(data, 4, out);
      // AF_INET6 differs by OS: 10 Linux, 24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS.
      if (fam === 10 || fam === 24 || fam === 28 || fam === 30) return decodeIpv6(data, 4, out);
      return FrameKind.NON_UDP;
    }
    default:
      return FrameKind.UNSUPPORTED_LINK;
  }
}

function byEthertype(type: number, data: Uint8Array, off: number, out: UdpLocation): FrameKind {
  if (type === ETH_IPV4) return decodeIpv4(data, off, out);
  if (type === ETH_IPV6) return decodeIpv6(data, off, out);
  return FrameKind.NON_UDP;
}

function decodeIp(data: Uint8Array, off: number, out: UdpLocation): FrameKind {
  if (off >= data.length) return FrameKind.TRUNCATED;
  const v = data[off]! >> 4;
  if (v === 4) return decodeIpv4(data, off, out);
  if (v === 6) return decodeIpv6(data, off, out);
  return FrameKind.MALFORMED;
}

function decodeIpv4(data: Uint8Array, off: number, out: UdpLocation): FrameKind {
  const cap = data.length;
  if (off + 20 > cap) return FrameKind.TRUNCATED;
  const vihl = data[off]!;
  if (vihl >> 4 !== 4) return FrameKind.MALFORMED;
  const ihl = (vihl & 0x0f) * 4;
  if (ihl < 20) return FrameKind.MALFORMED;
  let total = (data[off + 2]! << 8) | data[off + 3]!;
  // A total length of 0 appears in captures of TSO/GSO super-packets: trust the capture.
  if (total === 0) total = cap - off;
  if (total < ihl) return FrameKind.MALFORMED;
  const fragField = (data[off + 6]! << 8) | data[off + 7]!;
  const moreFragments = (fragField & 0x2000) !== 0;
  const fragOffset = fragField & 0x1fff;
  if (data[off + 9] !== 17) return fragOffset !== 0 ? FrameKind.FRAGMENT : FrameKind.NON_UDP;
  if (fragOffset !== 0 || moreFragments) return FrameKind.FRAGMENT;
  if (off + ihl > cap) return FrameKind.TRUNCATED;
  out.ipVersion = 4;
  out.addrOffset = off + 12;
  return decodeUdp(data, off + ihl, off + total, out);
}

// IPv6 extension headers we walk: hop-by-hop, routing, destination options (length in 8-octet
// units after the first 8) and AH (length in 4-octet units after the first 8).
const EXT_HOPOPTS = 0;
const EXT_ROUTING = 43;
const EXT_FRAGMENT = 44;
const EXT_AH = 51;
const EXT_DSTOPTS = 60;

function decodeIpv6(data: Uint8Array, off: number, out: UdpLocation): FrameKind {
  const cap = data.length;
  if (off + 40 > cap) return FrameKind.TRUNCATED;
  if (data[off]! >> 4 !== 6) return FrameKind.MALFORMED;
  const payloadLen = (data[off + 4]! << 8) | data[off + 5]!;
  // Payload length 0 is a jumbogram (hop-by-hop option); not worth supporting for UDP here.
  if (payloadLen === 0) return FrameKind.MALFORMED;
  const end = off + 40 + payloadLen;
  let next = data[off + 6]!;
  let p = off + 40;
  for (let hops = 0; ; hops++) {
    if (next === 17) break;
    if (hops > 16) return FrameKind.MALFORMED;
    if (next === EXT_HOPOPTS || next === EXT_ROUTING || next === EXT_DSTOPTS || next === EXT_AH || next === EXT_FRAGMENT) {
      if (p + 8 > cap) return FrameKind.TRUNCATED;
      const nh = data[p]!;
      if (next === EXT_FRAGMENT) {
        const fo = (data[p + 2]! << 8) | data[p + 3]!;
        if ((fo & 0xfff8) !== 0 || (fo & 1) !== 0) return FrameKind.FRAGMENT;
        p += 8;
      } else if (next === EXT_AH) p += (data[p + 1]! + 2) * 4;
      else p += (data[p + 1]! + 1) * 8;
      if (p > end) return FrameKind.MALFORMED;
      next = nh;
      continue;
    }
    return FrameKind.NON_UDP;
  }
  out.ipVersion = 6;
  out.addrOffset = off + 8;
  return decodeUdp(data, p, end, out);
}

function decodeUdp(data: Uint8Array, off: number, ipEnd: number, out: UdpLocation): FrameKind {
  if (off + 8 > data.length) return FrameKind.TRUNCATED;
  const udpLen = (data[off + 4]! << 8) | data[off + 5]!;
  // UDP length must fit in what the IP header says it carries (Ethernet padding may follow).
  if (udpLen < 8 || off + udpLen > ipEnd) return FrameKind.MALFORMED;
  if (off + udpLen > data.length) return FrameKind.TRUNCATED;
  out.srcPort = (data[off]! << 8) | data[off + 1]!;
  out.dstPort = (data[off + 2]! << 8) | data[off + 3]!;
  out.payloadStart = off + 8;
  out.payloadEnd = off + udpLen;
  return FrameKind.UDP;
}
