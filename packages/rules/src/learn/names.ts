import { formatAddress } from '@haystack/common';

// Names in a device's traffic: DNS answers (A, AAAA, CNAME, with compression), the TLS
// ClientHello's server name, the HTTP Host header. Malformed input yields nothing, never throws.

export interface DnsAnswer {
  name: string;
  type: 'A' | 'AAAA' | 'CNAME';
  data: string;
}

function readName(b: Uint8Array, start: number): { name: string; next: number } | null {
  const labels: string[] = [];
  let o = start;
  let next = -1;
  for (let hops = 0; hops < 64; hops++) {
    if (o >= b.length) return null;
    const len = b[o]!;
    if (len === 0) {
      if (next < 0) next = o + 1;
      return { name: labels.join('.').toLowerCase(), next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (o + 1 >= b.length) return null;
      if (next < 0) next = o + 2;
      o = ((len & 0x3f) << 8) | b[o + 1]!;
      continue;
    }
    if (len > 63 || o + 1 + len > b.length) return null;
    labels.push(String.fromCharCode(...b.subarray(o + 1, o + 1 + len)));
    o += 1 + len;
  }
  return null;
}

export function dnsAnswers(b: Uint8Array): DnsAnswer[] {
  if (b.length < 12 || (b[2]! & 0x80) === 0) return []; // responses only
  const qd = (b[4]! << 8) | b[5]!;
  const an = (b[6]! << 8) | b[7]!;
  let o = 12;
  for (let i = 0; i < qd; i++) {
    const n = readName(b, o);
    if (!n) return [];
    o = n.next + 4;
  }
  const out: DnsAnswer[] = [];
  for (let i = 0; i < an && o < b.length; i++) {
    const n = readName(b, o);
    if (!n || n.next + 10 > b.length) break;
    o = n.next;
    const type = (b[o]! << 8) | b[o + 1]!;
    const rdlen = (b[o + 8]! << 8) | b[o + 9]!;
    const rd = o + 10;
    if (rd + rdlen > b.length) break;
    if (type === 1 && rdlen === 4) out.push({ name: n.name, type: 'A', data: Array.from(b.subarray(rd, rd + 4)).join('.') });
    else if (type === 28 && rdlen === 16) out.push({ name: n.name, type: 'AAAA', data: formatAddress(b.subarray(rd, rd + 16)) });
    else if (type === 5) {
      const t = readName(b, rd);
      if (t) out.push({ name: n.name, type: 'CNAME', data: t.name });
    }
    o = rd + rdlen;
  }
  return out;
}

/** The server name of a TLS ClientHello at the start of a TCP payload, or null. */
export function tlsServerName(b: Uint8Array): string | null {
  if (b.length < 43 || b[0] !== 0x16 || b[1] !== 0x03 || b[5] !== 0x01) return null;
  let o = 9 + 2 + 32; // record + handshake headers, version, random
  if (o >= b.length) return null;
  o += 1 + b[o]!; // session id
  if (o + 2 > b.length) return null;
  o += 2 + ((b[o]! << 8) | b[o + 1]!); // cipher suites
  if (o >= b.length) return null;
  o += 1 + b[o]!; // compression methods
  if (o + 2 > b.length) return null;
  const end = Math.min(b.length, o + 2 + ((b[o]! << 8) | b[o + 1]!));
  o += 2;
  while (o + 4 <= end) {
    const type = (b[o]! << 8) | b[o + 1]!;
    const len = (b[o + 2]! << 8) | b[o + 3]!;
    if (type === 0 && o + 9 <= end) {
      const nameLen = (b[o + 7]! << 8) | b[o + 8]!;
      if (o + 9 + nameLen <= end) return String.fromCharCode(...b.subarray(o + 9, o + 9 + nameLen)).toLowerCase();
      return null;
    }
    o += 4 + len;
  }
  return null;
}

/** The Host header of an HTTP request at the start of a TCP payload, or null. */
export function httpHost(b: Uint8Array): string | null {
  if (b.length < 16) return null;
  const head = String.fromCharCode(...b.subarray(0, Math.min(b.length, 2048)));
  if (!/^(GET|POST|PUT|HEAD|DELETE|OPTIONS|PATCH|CONNECT) /.test(head)) return null;
  const m = /\r\nhost:[ \t]*([^\r\n:]+)/i.exec(head);
  return m ? m[1]!.trim().toLowerCase() : null;
}
