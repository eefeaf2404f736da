// Just enough of a packet to learn from a device's traffic: Ethernet (802.1Q/QinQ) addresses,
// IPv4/IPv6, TCP/UDP ports and the transport payload. Anything else is skipped.
import { formatAddress } from '@haystack/common';

export interface Packet {
  srcMac: string;
  dstMac: string;
  src: string;
  dst: string;
  proto: 6 | 17;
  srcPort: number;
  dstPort: number;
  /** Transport payload (a view into the frame). */
  payload: Uint8Array;
  /** Bytes of the IP packet (what a flow exporter counts). */
  ipBytes: number;
}

const mac = (b: Uint8Array, o: number) => Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');

export function parseEthernet(b: Uint8Array): Packet | null {
  if (b.length < 14) return null;
  let o = 12;
  let type = (b[o]! << 8) | b[o + 1]!;
  while ((type === 0x8100 || type === 0x88a8) && b.length >= o + 6) {
    o += 4;
    type = (b[o]! << 8) | b[o + 1]!;
  }
  o += 2;
  let proto: number;
  let src: string;
  let dst: string;
  let ipBytes: number;
  if (type === 0x0800) {
    if (b.length < o + 20) return null;
    const ihl = (b[o]! & 0x0f) * 4;
    const frag = ((b[o + 6]! & 0x1f) << 8) | b[o + 7]!;
    if (frag !== 0) return null; // later fragments carry no ports
    proto = b[o + 9]!;
    ipBytes = (b[o + 2]! << 8) | b[o + 3]!;
    const v4 = (p: number) => formatAddress(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!));
    src = v4(o + 12);
    dst = v4(o + 16);
    o += ihl;
  } else if (type === 0x86dd) {
    if (b.length < o + 40) return null;
    proto = b[o + 6]!;
    ipBytes = 40 + ((b[o + 4]! << 8) | b[o + 5]!);
    src = formatAddress(b.subarray(o + 8, o + 24));
    dst = formatAddress(b.subarray(o + 24, o + 40));
    o += 40;
  } else return null;
  if (proto === 17) {
    if (b.length < o + 8) return null;
    return { srcMac: mac(b, 6), dstMac: mac(b, 0), src, dst, proto: 17, srcPort: (b[o]! << 8) | b[o + 1]!, dstPort: (b[o + 2]! << 8) | b[o + 3]!, payload: b.subarray(o + 8), ipBytes };
  }
  if (proto === 6) {
    if (b.length < o + 20) return null;
    const off = (b[o + 12]! >> 4) * 4;
    return { srcMac: mac(b, 6), dstMac: mac(b, 0), src, dst, proto: 6, srcPort: (b[o]! << 8) | b[o + 1]!, dstPort: (b[o + 2]! << 8) | b[o + 3]!, payload: b.subarray(Math.min(b.length, o + off)), ipBytes };
  }
  return null;
}

/** Not an Internet endpoint: private, loopback, link-local, multicast, CGN, unspecified. */
export function isLocal(addr: string): boolean {
  if (addr.includes(':')) return /^(fe8|fe9|fea|feb|fc|fd|ff|::1$|::$)/i.test(addr);
  const [a, b] = addr.split('.').map(Number) as [number, number];
  return a === 10 || a === 127 || a === 0 || a >= 224 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b < 128);
}
