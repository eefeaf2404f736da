import { crc32 } from 'node:zlib';

/**
 * The flow batch: Haystack's one normalised flow format, the same bytes in memory,
 * on Kafka and in replay. Decoders write records straight into it (no object per
 * record); the detector reads fields at fixed offsets.
 *
 * Layout (all integers little-endian):
 *
 *   header, HEADER_SIZE = 32 bytes
 *     0  4  magic "HSFB"
 *     4  u8 format version (2; version 1 batches, 112-byte records without the
 *        link-layer and AS fields, are still read: openBatch upgrades them)
 *     5  u8 flags: bit 0 BATCH_CONTINUES (the producer flushed a full batch: more of this
 *        partition's flows follow at once); other bits reserved, 0
 *     6  u16 record size (RECORD_SIZE)
 *     8  u32 record count
 *    12  u32 CRC-32 of the record area (zlib polynomial)
 *    16  f64 batch creation time, Unix ms
 *    24  u32 producer-defined (ingest: partition), 28 u32 reserved
 *
 *   records, RECORD_SIZE = 136 bytes each
 *     0  f64 flow start, Unix ms UTC        8  f64 flow end, Unix ms UTC
 *    16  f64 bytes (as exported: not multiplied by the sampling rate)
 *    24  f64 packets (likewise)
 *    32  16  source address (IPv6, or IPv4-mapped ::ffff:a.b.c.d)
 *    48  16  destination address
 *    64  16  exporter address
 *    80  u32 observation domain id / source id
 *    84  u32 sampling rate N of 1:N (0 = unknown)
 *    88  u32 input interface   92 u32 output interface
 *    96  u16 source port       98 u16 destination port
 *   100  u16 TCP flags        102 u8 IP protocol
 *   103  u8 IP version (4, 6)
 *   104  u8 direction (0 ingress, 1 egress, 255 unknown)
 *   105  u8 subscriber side (bit 0: source is a subscriber, bit 1: destination is)
 *   106  u16 template id (0 for NetFlow v5)
 *   108  u8 export protocol (5, 9, 10 = NetFlow v5/v9/IPFIX; 133 = sFlow v5, see PROTOCOL)
 *   109  u8 reserved, 0     110 u16 VLAN id (0 = none seen)
 *   112  6   source MAC address (all zero = not exported)
 *   118  6   destination MAC address
 *   124  u32 source AS        128 u32 destination AS (0 = not exported)
 *   132..135 reserved, 0
 *
 * Doubles carry 64-bit counters exactly up to 2^53, beyond any real flow.
 */
export const MAGIC = 0x42465348; // "HSFB" read as u32 LE
export const FORMAT_VERSION = 2;
export const HEADER_SIZE = 32;
export const RECORD_SIZE = 136;
/** Record size of format version 1 (before the link-layer and AS fields). */
export const RECORD_SIZE_V1 = 112;
/**
 * Header flag: this batch was flushed because it was full, so more of the partition's flows
 * follow at once. The detector keeps such a batch's evidence open to merge with the next ones
 * (up to an offset-aligned limit); a batch without it (flushed by time, at stop, or from an
 * older producer) ends the group. Readers that do not know the flag ignore it.
 */
export const BATCH_CONTINUES = 1;

export const F = {
  start: 0,
  end: 8,
  bytes: 16,
  packets: 24,
  src: 32,
  dst: 48,
  exporter: 64,
  domain: 80,
  sampling: 84,
  inIf: 88,
  outIf: 92,
  srcPort: 96,
  dstPort: 98,
  tcpFlags: 100,
  proto: 102,
  ipVersion: 103,
  direction: 104,
  side: 105,
  templateId: 106,
  version: 108,
  vlan: 110,
  srcMac: 112,
  dstMac: 118,
  srcAs: 124,
  dstAs: 128,
} as const;

/** Values of the export-protocol byte (F.version). sFlow's own version is 5 too, hence its own code. */
export const PROTOCOL = {
  netflow5: 5,
  netflow9: 9,
  ipfix: 10,
  sflow5: 133,
} as const;

export const DIRECTION_INGRESS = 0;
export const DIRECTION_EGRESS = 1;
export const DIRECTION_UNKNOWN = 255;
export const SIDE_SRC = 1;
export const SIDE_DST = 2;

export class BatchFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchFormatError';
  }
}

/**
 * A growable batch being written. `buf`/`dv` may be replaced when it grows, so
 * writers take them after `reserve()`.
 */
export class BatchWriter {
  buf: Buffer;
  dv: DataView;
  count = 0;
  /**
   * End of the area handed out by reserve(): decoders may have written records there that were
   * never counted (a fault half-way, a skipped record); zeroing goes this far, not just to count.
   */
  private high = HEADER_SIZE;

  constructor(initialRecords = 1024) {
    this.buf = Buffer.alloc(HEADER_SIZE + initialRecords * RECORD_SIZE);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Make room for `n` more records; returns the byte offset of the next record. */
  reserve(n: number): number {
    const need = HEADER_SIZE + (this.count + n) * RECORD_SIZE;
    if (need > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < need) size *= 2;
      const next = Buffer.alloc(size);
      this.buf.copy(next, 0, 0, HEADER_SIZE + this.count * RECORD_SIZE);
      this.buf = next;
      this.dv = new DataView(next.buffer, next.byteOffset, next.byteLength);
    }
    if (need > this.high) this.high = need;
    return HEADER_SIZE + this.count * RECORD_SIZE;
  }

  /** Offset of record i. */
  offset(i: number): number {
    return HEADER_SIZE + i * RECORD_SIZE;
  }

  /** Drop records from index `n` on (e.g. a record found malformed half-way). */
  truncate(n: number): void {
    if (n <= this.count) {
      const from = HEADER_SIZE + n * RECORD_SIZE;
      this.buf.fill(0, from, Math.max(this.high, HEADER_SIZE + this.count * RECORD_SIZE));
      this.high = from;
      this.count = n;
    }
  }

  get size(): number {
    return this.count;
  }

  /** Forget all records (zeroing them: decoders rely on a zeroed record area). */
  reset(): void {
    this.buf.fill(0, HEADER_SIZE, Math.max(this.high, HEADER_SIZE + this.count * RECORD_SIZE));
    this.high = HEADER_SIZE;
    this.count = 0;
  }

  /**
   * Seal the records written so far into a standalone batch (a copy) and reset
   * the writer for reuse.
   */
  finish(createdMs = Date.now(), producerField = 0): Buffer {
    const len = HEADER_SIZE + this.count * RECORD_SIZE;
    const out = Buffer.allocUnsafe(len);
    this.buf.copy(out, HEADER_SIZE, HEADER_SIZE, len);
    writeHeader(out, this.count, createdMs, producerField);
    this.buf.fill(0, HEADER_SIZE, Math.max(this.high, len));
    this.high = HEADER_SIZE;
    this.count = 0;
    return out;
  }
}

function writeHeader(out: Buffer, count: number, createdMs: number, producerField: number, flags = 0): void {
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt8(FORMAT_VERSION, 4);
  out.writeUInt8(flags & 0xff, 5);
  out.writeUInt16LE(RECORD_SIZE, 6);
  out.writeUInt32LE(count, 8);
  out.writeUInt32LE(crc32(out.subarray(HEADER_SIZE, HEADER_SIZE + count * RECORD_SIZE)), 12);
  out.writeDoubleLE(createdMs, 16);
  out.writeUInt32LE(producerField >>> 0, 24);
  out.writeUInt32LE(0, 28);
}

/**
 * A batch in place: `buf` holds `count` records from HEADER_SIZE on; the header is written
 * before them and the batch is the view of its first HEADER_SIZE + count × RECORD_SIZE bytes
 * (no copy: the publisher stages each partition's records this way).
 */
export function sealBatch(buf: Buffer, count: number, createdMs = Date.now(), producerField = 0, flags = 0): Buffer {
  const size = HEADER_SIZE + count * RECORD_SIZE;
  if (buf.length < size) throw new RangeError(`sealBatch: ${count} records need ${size} bytes, the buffer has ${buf.length}`);
  writeHeader(buf, count, createdMs, producerField, flags);
  return buf.subarray(0, size);
}

/** Build a batch from selected records of other batches (e.g. one per partition). */
export function assembleBatch(records: Buffer, count: number, createdMs = Date.now(), producerField = 0): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + count * RECORD_SIZE);
  records.copy(out, HEADER_SIZE, 0, count * RECORD_SIZE);
  writeHeader(out, count, createdMs, producerField);
  return out;
}

export interface BatchView {
  readonly buf: Buffer;
  readonly dv: DataView;
  readonly count: number;
  readonly createdMs: number;
  readonly producerField: number;
  /** Header flags (BATCH_CONTINUES). */
  readonly flags: number;
}

/** Validate a received batch (magic, version, sizes, CRC) and give a view over it. Throws BatchFormatError. */
function upgradeV1(old: Buffer, count: number): Buffer {
  const out = Buffer.alloc(HEADER_SIZE + count * RECORD_SIZE);
  for (let i = 0; i < count; i++) old.copy(out, HEADER_SIZE + i * RECORD_SIZE, HEADER_SIZE + i * RECORD_SIZE_V1, HEADER_SIZE + (i + 1) * RECORD_SIZE_V1);
  writeHeader(out, count, old.readDoubleLE(16), old.readUInt32LE(24), old.readUInt8(5));
  return out;
}

export function openBatch(buf: Buffer, verifyCrc = true): BatchView {
  if (buf.length < HEADER_SIZE) throw new BatchFormatError(`batch too short: ${buf.length} bytes`);
  if (buf.readUInt32LE(0) !== MAGIC) throw new BatchFormatError('not a Haystack flow batch (bad magic)');
  const version = buf.readUInt8(4);
  if (version !== FORMAT_VERSION && version !== 1) throw new BatchFormatError(`unsupported batch format version ${version}`);
  const size = version === 1 ? RECORD_SIZE_V1 : RECORD_SIZE;
  const rs = buf.readUInt16LE(6);
  if (rs !== size) throw new BatchFormatError(`unexpected record size ${rs} for format version ${version}`);
  const count = buf.readUInt32LE(8);
  if (buf.length !== HEADER_SIZE + count * size) throw new BatchFormatError(`batch length ${buf.length} does not match ${count} records`);
  if (verifyCrc) {
    const want = buf.readUInt32LE(12);
    const got = crc32(buf.subarray(HEADER_SIZE));
    if (want !== got) throw new BatchFormatError('batch CRC mismatch (corrupt)');
  }
  // A batch of the previous format (still on a topic during an upgrade): widened once, here.
  if (version === 1) buf = upgradeV1(buf, count);
  return {
    buf,
    dv: new DataView(buf.buffer, buf.byteOffset, buf.byteLength),
    count,
    createdMs: buf.readDoubleLE(16),
    producerField: buf.readUInt32LE(24),
    flags: buf.readUInt8(5),
  };
}
