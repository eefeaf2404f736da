// Big-endian readers and a small integer hash, shared by the decoders, the hitlist format and
// the detector's line tables (hot paths: tiny functions V8 inlines).

/** Unsigned 16-bit big-endian at `p`. */
export const u16 = (b: Uint8Array, p: number): number => (b[p]! << 8) | b[p + 1]!;

/** Unsigned 32-bit big-endian at `p` (as a non-negative number). */
export const u32 = (b: Uint8Array, p: number): number => b[p]! * 16777216 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);

/**
 * Unsigned 32-bit big-endian at `o`, from integer operations only: the form for hash inputs
 * (V8 keeps it an integer; `u32`'s multiply makes a double, which costs Math.imul a conversion).
 */
export function word(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/**
 * FNV-1a over 32-bit words with a final avalanche (so the low bits used as a table index depend
 * on every input bit): keys of the detector's line tables (4 words) and of the hitlist's address
 * table (5 words). Written out, not composed of helpers: these run once per flow.
 */
export function hash4(a: number, b: number, c: number, d: number): number {
  let h = 0x811c9dc5;
  h = Math.imul(h ^ a, 0x01000193);
  h = Math.imul(h ^ b, 0x01000193);
  h = Math.imul(h ^ c, 0x01000193);
  h = Math.imul(h ^ d, 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** `hash4` with a fifth word (e.g. port and protocol). */
export function hash5(a: number, b: number, c: number, d: number, e: number): number {
  let h = 0x811c9dc5;
  h = Math.imul(h ^ a, 0x01000193);
  h = Math.imul(h ^ b, 0x01000193);
  h = Math.imul(h ^ c, 0x01000193);
  h = Math.imul(h ^ d, 0x01000193);
  h = Math.imul(h ^ e, 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/**
 * Text safe to print on a terminal: printable ASCII as is, everything else escaped (\n, \xNN,
 * \u{N}), cut to `max` characters with "…". For samples of input that may be binary.
 */
export function printable(text: string, max = 80): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    let piece: string;
    if (c >= 0x20 && c < 0x7f && ch !== '\\') piece = ch;
    else if (ch === '\\') piece = '\\\\';
    else if (c === 0x0a) piece = '\\n';
    else if (c === 0x0d) piece = '\\r';
    else if (c === 0x09) piece = '\\t';
    else if (c <= 0xff) piece = `\\x${c.toString(16).padStart(2, '0')}`;
    else piece = `\\u{${c.toString(16)}}`;
    if (out.length + piece.length > max) return `${out}…`;
    out += piece;
  }
  return out;
}
