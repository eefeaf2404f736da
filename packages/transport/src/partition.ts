/**
 * Kafka's default partitioner for keyed messages, so a partition chosen here is the one
 * the Java client, librdkafka's murmur2 partitioner and kafkajs's DefaultPartitioner pick
 * for the same key: toPositive(murmur2(key)) % numPartitions. Ingest calls it once per
 * flow record, so it works on a byte range in place and allocates nothing.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * Kafka's murmur2 (Utils.murmur2) over buf[offset, offset + length), as a signed 32-bit int.
 * Java computes in wrapping 32-bit ints; Math.imul and `| 0` do the same here.
 */
export function murmur2(buf: Uint8Array, offset = 0, length = buf.length - offset): number {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > buf.length)
    throw new RangeError(`murmur2: range [${offset}, ${offset}+${length}) outside a ${buf.length}-byte buffer`);
  let h = (SEED ^ length) | 0;
  const end4 = offset + (length & ~3);
  let i = offset;
  for (; i < end4; i += 4) {
    let k = buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The tail, as Java's fall-through switch over length % 4.
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= buf[i + 2]! << 16;
    if (rest >= 2) h ^= buf[i + 1]! << 8;
    h ^= buf[i]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

function checkPartitions(numPartitions: number): void {
  if (!Number.isInteger(numPartitions) || numPartitions < 1) throw new RangeError(`numPartitions must be a positive integer, got ${numPartitions}`);
}

/** Partition of a message with this key under Kafka's default partitioner. */
export function partitionFor(key: Uint8Array, numPartitions: number): number {
  checkPartitions(numPartitions);
  // toPositive is `& 0x7fffffff` (not Math.abs), as in the Java client.
  return (murmur2(key, 0, key.length) & 0x7fffffff) % numPartitions;
}

/** partitionFor over buf[offset, offset + length) without copying (e.g. an address inside a batch record). */
export function partitionForBytes(buf: Uint8Array, offset: number, length: number, numPartitions: number): number {
  checkPartitions(numPartitions);
  return (murmur2(buf, offset, length) & 0x7fffffff) % numPartitions;
}
