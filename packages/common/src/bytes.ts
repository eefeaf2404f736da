// Big-endian readers and a small integer hash, shared by the decoders, the hitlist format and
// the detector's line tables (hot paths: tiny functions V8 inlines).

/** Unsigned 16-bit big-endian at `p`. */
export const u16 = (b: Uint8Array, p: number): number => (b[p]! << 8) | b[p + 1]!;

/** Unsigned 32-bit big-endian at `p` (as a non-negative number). */
export const u32 = (b: Uint8Array, p: number): number => b[p]! * 16777216 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);

/** FNV-1a offset basis: the start value of `mix`. */
export const HASH_SEED = 0x811c9dc5;

/** One FNV-1a step over a 32-bit word. */
export const mix = (h: number, x: number): number => Math.imul(h ^ x, 0x01000193);

/** Final avalanche (so the low bits used as a table index depend on every input bit). */
export function finish(h: number): number {
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}
