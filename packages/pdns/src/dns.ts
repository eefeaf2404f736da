import { formatAddress } from '@haystack/common';
/**
 * DNS wire format (RFC 1035 §4), the part passive DNS needs: the answer section's A, AAAA and
 * CNAME records with their owner names, following name compression (bounded: a pointer loop or
 * a name past 255 bytes is malformed). Never throws on input. A malformed message delivers
 * nothing: its answers are passed on only once the whole answer section parsed.
 */
export const TYPE_A = 1;
export const TYPE_CNAME = 5;
export const TYPE_AAAA = 28;
const CLASS_IN = 1;

/** Receives one answer: owner name (lower case, no trailing dot), type, data (address text or target name). */
export type OnAnswer = (name: string, type: number, data: string, ttl: number) => void;

/** Scratch for name decoding: no allocation per label. */
const labelBuf = new Uint8Array(256);
const decoder = new TextDecoder('latin1');

/**
 * Read a (possibly compressed) name at `p`. Returns the name and the offset after it in the
 * record (not after the pointer target), or null when malformed.
 */
function readName(b: Uint8Array, p: number, end: number): { name: string; next: number } | null {
  let len = 0;
  let next = -1;
  let jumps = 0;
  for (;;) {
    if (p >= end) return null;
    const l = b[p]!;
    if (l === 0) {
      if (next < 0) next = p + 1;
      break;
    }
    if ((l & 0xc0) === 0xc0) {
      if (p + 1 >= end) return null;
      if (next < 0) next = p + 2;
      const target = ((l & 0x3f) << 8) | b[p + 1]!;
      // Pointers must go backwards in practice; a bound on jumps stops loops either way.
      if (++jumps > 64 || target >= end) return null;
      p = target;
      continue;
    }
    if ((l & 0xc0) !== 0) return null; // extended label types: not in use
    if (p + 1 + l > end || len + l + 1 > 255) return null;
    if (len > 0) labelBuf[len++] = 0x2e;
    for (let i = 0; i < l; i++) {
      let c = b[p + 1 + i]!;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20; // ASCII lower case
      labelBuf[len++] = c;
    }
    p += 1 + l;
  }
  return { name: len === 0 ? '.' : decoder.decode(labelBuf.subarray(0, len)), next };
}

function ipv4(b: Uint8Array, p: number): string {
  return `${b[p]}.${b[p + 1]}.${b[p + 2]}.${b[p + 3]}`;
}

export interface ParseResult {
  ok: boolean;
  /** QR bit and RCODE: only NOERROR responses carry usable answers. */
  response: boolean;
  rcode: number;
  answers: number;
}

const result: ParseResult = { ok: false, response: false, rcode: 0, answers: 0 };
// Answers of the message being parsed (reused: no allocation per message beyond the strings).
const pendName: string[] = [];
const pendType: number[] = [];
const pendData: string[] = [];
const pendTtl: number[] = [];

/** Parse one DNS message; A/AAAA/CNAME answers of class IN go to `onAnswer`. The result object is reused. */
export function parseDnsMessage(b: Uint8Array, onAnswer: OnAnswer): ParseResult {
  result.ok = false;
  result.response = false;
  result.rcode = 0;
  result.answers = 0;
  const end = b.length;
  if (end < 12) return result;
  const flags = (b[2]! << 8) | b[3]!;
  result.response = (flags & 0x8000) !== 0;
  result.rcode = flags & 0x0f;
  const qd = (b[4]! << 8) | b[5]!;
  const an = (b[6]! << 8) | b[7]!;
  let p = 12;
  let k = 0;
  for (let i = 0; i < qd; i++) {
    const n = readName(b, p, end);
    if (!n || n.next + 4 > end) return result;
    p = n.next + 4;
  }
  for (let i = 0; i < an; i++) {
    const n = readName(b, p, end);
    if (!n || n.next + 10 > end) return result;
    const q = n.next;
    const type = (b[q]! << 8) | b[q + 1]!;
    const cls = (b[q + 2]! << 8) | b[q + 3]!;
    const ttl = ((b[q + 4]! << 24) | (b[q + 5]! << 16) | (b[q + 6]! << 8) | b[q + 7]!) >>> 0;
    const rdlen = (b[q + 8]! << 8) | b[q + 9]!;
    const rd = q + 10;
    if (rd + rdlen > end) return result;
    if (cls === CLASS_IN) {
      if (type === TYPE_A) {
        if (rdlen !== 4) return result;
        pendName[k] = n.name;
        pendType[k] = TYPE_A;
        pendData[k] = ipv4(b, rd);
        pendTtl[k++] = ttl;
      } else if (type === TYPE_AAAA) {
        if (rdlen !== 16) return result;
        pendName[k] = n.name;
        pendType[k] = TYPE_AAAA;
        pendData[k] = formatAddress(b, rd);
        pendTtl[k++] = ttl;
      } else if (type === TYPE_CNAME) {
        const t = readName(b, rd, end);
        if (!t || t.next > rd + rdlen) return result;
        pendName[k] = n.name;
        pendType[k] = TYPE_CNAME;
        pendData[k] = t.name;
        pendTtl[k++] = ttl;
      }
    }
    p = rd + rdlen;
  }
  result.ok = true;
  // Only a NOERROR response states facts: a query (QR 0) or an error response (NXDOMAIN's CNAME,
  // SERVFAIL) delivers nothing.
  if (!result.response || result.rcode !== 0) return result;
  result.answers = k;
  for (let i = 0; i < k; i++) onAnswer(pendName[i]!, pendType[i]!, pendData[i]!, pendTtl[i]!);
  return result;
}
