import { isIPv4, isIPv6 } from 'node:net';

/** Parses a textual IPv4 or IPv6 address into 4 or 16 network-order bytes; throws on anything else. */
export function parseIp(text: string): Buffer {
  if (isIPv4(text)) {
    const out = Buffer.allocUnsafe(4);
    const parts = text.split('.');
    for (let i = 0; i < 4; i++) out[i] = Number(parts[i]);
    return out;
  }
  if (isIPv6(text)) return parseIpv6(text);
  throw new TypeError(`not an IP address: ${JSON.stringify(text)}`);
}

function parseIpv6(text: string): Buffer {
  const out = Buffer.alloc(16);
  // An embedded dotted quad ("::ffff:1.2.3.4") fills the last 4 bytes.
  let tail = text;
  let tailV4: Buffer | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    tailV4 = parseIp(text.slice(lastColon + 1));
    tail = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = tail.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups: string[] =
    rest === undefined ? headGroups : [...headGroups, ...new Array<string>(8 - headGroups.length - restGroups.length).fill('0'), ...restGroups];
  for (let i = 0; i < 8; i++) out.writeUInt16BE(parseInt(groups[i] ?? '0', 16), i * 2);
  if (tailV4) tailV4.copy(out, 12);
  return out;
}

/** Dotted quad of the 4 bytes at `off`. */
export function formatIpv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/**
 * RFC 5952 text of the 16 bytes at `off`, exactly as glibc's inet_ntop (and so tshark) prints
 * it: lower-case hex, longest run (first on ties) of two or more zero groups as "::", and
 * IPv4-mapped (::ffff:a.b.c.d) or IPv4-compatible (::a.b.c.d) addresses with a dotted tail —
 * so strings from this reader compare equal to tshark's.
 */
export function formatIpv6(b: Uint8Array, off: number): string {
  const w = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 8; i++) w[i] = (b[off + i * 2]! << 8) | b[off + i * 2 + 1]!;
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (w[i] === 0) {
      if (curBase === -1) {
        curBase = i;
        curLen = 1;
      } else curLen++;
      if (curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
    } else curBase = -1;
  }
  if (bestLen < 2) bestBase = -1;
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) s += ':';
      continue;
    }
    if (i !== 0) s += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      s += formatIpv4(b, off + 12);
      break;
    }
    s += w[i]!.toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) s += ':';
  return s;
}

/** Text of a 4- or 16-byte address. */
export function formatIp(b: Uint8Array, off = 0, len = b.length - off): string {
  if (len === 4) return formatIpv4(b, off);
  if (len === 16) return formatIpv6(b, off);
  throw new RangeError(`address must be 4 or 16 bytes, got ${len}`);
}
