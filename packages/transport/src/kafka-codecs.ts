import { promisify } from 'node:util';
import { zstdCompress, zstdDecompress } from 'node:zlib';
// CommonJS: these two are not among the named exports Node detects.
import kafkajs from 'kafkajs';
import { lz4Compress, lz4Decompress } from '@platformatic/wasm-utils';

const zstdAsync = promisify(zstdCompress);
const unzstdAsync = promisify(zstdDecompress);

let registered = false;

/**
 * kafkajs ships gzip only, and its lz4/zstd codec packages are native builds that do not load on
 * Node 24. The consumer (still kafkajs) reads what the producer (@platformatic/kafka) writes with
 * the same primitives it uses: LZ4 frames from @platformatic/wasm-utils (WASM) and zstd from
 * node:zlib. Registered once, process-wide, as kafkajs expects.
 *
 * The WASM functions already return a fresh Buffer copied out of WASM memory: wrapping it in
 * Buffer.from copied every batch a second time, which cost the detector as much as the
 * decompression itself (profile of bench-e2e: 5 % of its main thread, plus the garbage).
 */
export function registerKafkajsCodecs(): void {
  if (registered) return;
  registered = true;
  const { CompressionCodecs, CompressionTypes } = kafkajs;
  CompressionCodecs[CompressionTypes.LZ4] = () => ({
    compress: async (encoder: { buffer: Buffer }) => lz4Compress(encoder.buffer),
    decompress: async (buffer: Buffer) => lz4Decompress(buffer),
  });
  CompressionCodecs[CompressionTypes.ZSTD] = () => ({
    compress: async (encoder: { buffer: Buffer }) => zstdAsync(encoder.buffer),
    decompress: async (buffer: Buffer) => unzstdAsync(buffer),
  });
}
