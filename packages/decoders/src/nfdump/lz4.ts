/**
 * LZ4 block decompression (the raw block format of LZ4_compress_default, no frame): what
 * nfcapd -y writes per data block. Written here because no maintained pure-JS library decodes
 * raw blocks; the format is a few lines (lz4.github.io/lz4/lz4_Block_format). Every read and
 * write is bounds-checked: a corrupt block throws, it never reads or writes out of range.
 */
export function lz4DecompressBlock(src: Uint8Array, maxOutput: number): Buffer {
  const out = Buffer.allocUnsafe(maxOutput);
  let s = 0;
  let d = 0;
  const n = src.length;
  for (;;) {
    if (s >= n) throw new Error('LZ4 block ends inside a sequence');
    const token = src[s++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (s >= n) throw new Error('LZ4 literal length runs past the block');
        b = src[s++]!;
        lit += b;
      } while (b === 255);
    }
    if (s + lit > n || d + lit > maxOutput) throw new Error('LZ4 literals run past the block or the output limit');
    out.set(src.subarray(s, s + lit), d);
    s += lit;
    d += lit;
    if (s === n) break; // the last sequence has literals only
    if (s + 2 > n) throw new Error('LZ4 match offset cut short');
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (offset === 0 || offset > d) throw new Error('LZ4 match offset points before the output');
    let len = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b: number;
      do {
        if (s >= n) throw new Error('LZ4 match length runs past the block');
        b = src[s++]!;
        len += b;
      } while (b === 255);
    }
    if (d + len > maxOutput) throw new Error('LZ4 match runs past the output limit');
    // Byte by byte: a match may overlap what it writes (offset < length repeats a pattern).
    let m = d - offset;
    for (let i = 0; i < len; i++) out[d++] = out[m++]!;
  }
  return out.subarray(0, d);
}
