/**
 * One's-complement sum (RFC 1071) of b[start, end) added to `initial`, not yet folded or
 * inverted, so callers can chain a pseudo-header and a payload without concatenating them.
 */
export function onesSum(b: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < end) sum += b[i]! << 8;
  // Fold periodically is unnecessary: 2^53 / 0xffff covers any packet size.
  return sum;
}

/** Folds a running sum to 16 bits and inverts it: the value to store in a checksum field. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** Internet checksum of b[start, end). */
export function internetChecksum(b: Uint8Array, start = 0, end = b.length): number {
  return finishChecksum(onesSum(b, start, end));
}
