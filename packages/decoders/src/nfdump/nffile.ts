import * as zlib from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import Bunzip from 'seek-bzip';
import { F, DIRECTION_UNKNOWN, type BatchWriter } from '@haystack/flow-core';
import { formatAddress } from '@haystack/common';
import type { TemplateRegistry, DomainState } from '../template/state.js';
import { lz4DecompressBlock } from './lz4.js';

/**
 * nfdump 1.7 archives (what nfcapd and sfcapd write, "LAYOUT_VERSION_2"): a 40-byte file
 * header, data blocks (each a 12-byte header and a payload compressed on its own), an appendix.
 * Records are little-endian C structs; flows are V3 records, a header and typed elements.
 *
 * Records become batch records as if decoded from the export: nfcapd stores counters already
 * multiplied by the sampling rate (flag 0x02); they are divided back and the rate travels with
 * the record, as for every other input. Per exporter, counts go to the registry's counters
 * (version = the record's export protocol, domain = the exporter's source id), beside live ones.
 */
export const NFDUMP_MAGIC = 0xa50c;
export const FILE_HEADER_SIZE = 40;
export const BLOCK_HEADER_SIZE = 12;
/** nfdump's own limit on a block (decompressed): a larger size is corruption. */
export const MAX_BLOCK = 5 * 1048576;

export const COMPRESSION = ['none', 'LZO', 'bzip2', 'LZ4', 'zstd'] as const;
export type CompressionName = (typeof COMPRESSION)[number];

export class NfdumpFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NfdumpFormatError';
  }
}

/** The archive's compression cannot be read natively (LZO): the caller may convert it with nfdump. */
export class NfdumpCompressionError extends Error {
  constructor(readonly compression: CompressionName) {
    super(`nfdump archive is ${compression}-compressed, which Haystack does not decompress itself`);
    this.name = 'NfdumpCompressionError';
  }
}

export interface NfdumpFileHeader {
  version: number;
  compression: CompressionName;
  encryption: number;
  numBlocks: number;
  offAppendix: number;
  created: number;
  /** NumBlocks 0 and no appendix: a file nfcapd is still writing (nfcapd.current.*). */
  open: boolean;
}

/** Is this the start of an nfdump archive? (Magic 0xA50C, little-endian.) */
export function isNfdumpFile(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x0c && head[1] === 0xa5;
}

export function parseFileHeader(b: Buffer): NfdumpFileHeader {
  if (b.length < FILE_HEADER_SIZE || b.readUInt16LE(0) !== NFDUMP_MAGIC) throw new NfdumpFormatError('not an nfdump archive (bad magic)');
  const version = b.readUInt16LE(2);
  if (version === 1) throw new NfdumpFormatError('nfdump 1.6 archive layout (version 1): convert it with nfdump 1.7 (`nfdump -r OLD -w NEW`)');
  if (version !== 2) throw new NfdumpFormatError(`unsupported nfdump archive layout version ${version}`);
  const c = b[16]!;
  const compression = COMPRESSION[c];
  if (!compression) throw new NfdumpFormatError(`unknown nfdump compression id ${c}`);
  const encryption = b[17]!;
  if (encryption !== 0) throw new NfdumpFormatError('encrypted nfdump archive: not supported');
  const offAppendix = Number(b.readBigInt64LE(24));
  const numBlocks = b.readUInt32LE(36);
  return { version, compression, encryption, numBlocks, offAppendix, created: Number(b.readBigInt64LE(8)), open: numBlocks === 0 && offAppendix === 0 };
}

const nodeZstd = (zlib as { zstdDecompressSync?: (b: Uint8Array, o?: { maxOutputLength?: number }) => Buffer }).zstdDecompressSync;

/** One block's payload, decompressed. Throws NfdumpCompressionError for LZO, Error for a corrupt block. */
export function decompressBlock(compression: CompressionName, payload: Buffer): Buffer {
  let out: Buffer;
  switch (compression) {
    case 'none':
      return payload;
    case 'LZ4':
      return lz4DecompressBlock(payload, MAX_BLOCK);
    case 'zstd':
      // Bounded output: a frame that declares more than a block may hold is refused, not allocated.
      out = nodeZstd ? nodeZstd(payload, { maxOutputLength: MAX_BLOCK }) : Buffer.from(zstdDecompress(payload, new Uint8Array(MAX_BLOCK)));
      break;
    case 'bzip2':
      out = Bunzip.decode(payload);
      break;
    case 'LZO':
      throw new NfdumpCompressionError('LZO');
  }
  if (out.length > MAX_BLOCK) throw new Error(`block decompresses to ${out.length} bytes, more than nfdump allows`);
  return out;
}

// Record types.
const EXPORTER_INFO = 7;
const EXPORTER_STAT = 8;
const SAMPLER_LEGACY = 9;
const V3_RECORD = 11;
const SAMPLER = 15;

// V3 element ids (nfxV3.h, stable from 1.7.0 for ids 1–18).
const EX_GENERIC = 1;
const EX_IPV4 = 2;
const EX_IPV6 = 3;
const EX_MISC = 4;
const EX_VLAN = 6;
const EX_AS = 7;
const EX_MAC = 15;
const EX_SAMPLER = 18;

/** V3 record flag: counters were multiplied by the sampling rate when collected. */
const FLAG_SAMPLED = 0x02;

interface Exporter {
  bytes: Uint8Array;
  text: string;
  /** Export protocol (5, 9, 10; 9999 = sFlow in nfdump's numbering). */
  version: number;
  /** v9 source id / IPFIX domain / v5 engine. */
  id: number;
  /** Sampler id → rate; -1 generic, -2 default, -3 overwrite (nfcapd's ids). */
  samplers: Map<number, number>;
}

/** Counts of one archive read: what an operator needs to trust a replay of it. */
export interface NfdumpCounters {
  blocks: number;
  records: number;
  flows: number;
  /** Flow records without an address element (counted, not published). */
  flowsWithoutAddress: number;
  /** Record types and elements we do not read, skipped by their size. */
  skippedRecords: number;
  malformedRecords: number;
  /** Blocks that could not be decompressed or framed (their records are lost, counted here). */
  corruptBlocks: number;
  /** Sequence failures nfcapd itself counted per exporter (ExporterStat records). */
  exporterSequenceFailures: number;
}

export function zeroNfdumpCounters(): NfdumpCounters {
  return { blocks: 0, records: 0, flows: 0, flowsWithoutAddress: 0, skippedRecords: 0, malformedRecords: 0, corruptBlocks: 0, exporterSequenceFailures: 0 };
}

/** nfcapd's protocol numbering → ours (sFlow: nfdump's ExporterInfo says 9999, V3 records 133). */
function protocol(v: number): number {
  return v === 9999 ? 133 : v;
}

/** Decodes the records of data blocks into a batch. One instance per archive (exporter ids are per file). */
export class NfdumpRecords {
  readonly counters = zeroNfdumpCounters();
  private readonly exporters = new Map<number, Exporter>();
  private readonly domains = new Map<number, DomainState | null>();

  constructor(private readonly registry: TemplateRegistry) {}

  /** Decode the `numRecords` records of one decompressed block. Returns flows written to `w`. */
  block(b: Buffer, numRecords: number, w: BatchWriter): number {
    this.counters.blocks++;
    let p = 0;
    let flows = 0;
    for (let i = 0; i < numRecords; i++) {
      if (p + 4 > b.length) {
        this.counters.malformedRecords++;
        break;
      }
      const type = b.readUInt16LE(p);
      const size = b.readUInt16LE(p + 2);
      if (size < 4 || p + size > b.length) {
        // A size that lies: the rest of the block cannot be framed.
        this.counters.malformedRecords++;
        break;
      }
      this.counters.records++;
      if (type === V3_RECORD) flows += this.flow(b, p, p + size, w);
      else if (type === EXPORTER_INFO) this.exporterInfo(b, p, size);
      else if (type === SAMPLER) this.sampler(b, p, size);
      else if (type === SAMPLER_LEGACY) this.legacySampler(b, p, size);
      else if (type === EXPORTER_STAT) this.exporterStat(b, p, size);
      else this.counters.skippedRecords++;
      p += size;
    }
    return flows;
  }

  private exporterInfo(b: Buffer, p: number, size: number): void {
    if (size < 32) {
      this.counters.malformedRecords++;
      return;
    }
    const version = b.readUInt32LE(p + 4);
    const family = b.readUInt16LE(p + 24);
    const sysid = b.readUInt16LE(p + 26);
    const id = b.readUInt32LE(p + 28);
    const bytes = new Uint8Array(16);
    if (family === 2) {
      // IPv4 as a u32 in host (little-endian) order in the second u64.
      bytes[10] = 0xff;
      bytes[11] = 0xff;
      const v = b.readUInt32LE(p + 16);
      bytes[12] = v >>> 24;
      bytes[13] = (v >>> 16) & 255;
      bytes[14] = (v >>> 8) & 255;
      bytes[15] = v & 255;
    } else if (family === 10) {
      // Two u64, high half first, each little-endian.
      for (let i = 0; i < 8; i++) {
        bytes[i] = b[p + 8 + 7 - i]!;
        bytes[8 + i] = b[p + 16 + 7 - i]!;
      }
    } else {
      // Later 1.7 releases: 16 network-order bytes (IPv4-mapped), no family.
      bytes.set(b.subarray(p + 8, p + 24));
    }
    const prev = this.exporters.get(sysid);
    this.exporters.set(sysid, { bytes, text: formatAddress(bytes), version: protocol(version), id, samplers: prev?.samplers ?? new Map() });
    this.domains.delete(sysid);
  }

  private sampler(b: Buffer, p: number, size: number): void {
    if (size < 24) {
      this.counters.malformedRecords++;
      return;
    }
    const sysid = b.readUInt16LE(p + 4);
    const id = Number(b.readBigInt64LE(p + 8));
    const interval = b.readUInt32LE(p + 16);
    const space = b.readUInt32LE(p + 20);
    const rate = interval > 0 ? Math.round((interval + space) / interval) : 0;
    this.exporterFor(sysid).samplers.set(id, rate);
    this.domain(sysid)?.learnRate(id, rate);
  }

  private legacySampler(b: Buffer, p: number, size: number): void {
    if (size < 16) {
      this.counters.malformedRecords++;
      return;
    }
    const id = b.readInt32LE(p + 4);
    const interval = b.readUInt32LE(p + 8);
    const sysid = b.readUInt16LE(p + 14);
    this.exporterFor(sysid).samplers.set(id, interval);
    this.domain(sysid)?.learnRate(id, interval);
  }

  private exporterStat(b: Buffer, p: number, size: number): void {
    if (size < 8) return;
    const n = b.readUInt32LE(p + 4);
    for (let i = 0, q = p + 8; i < n && q + 24 <= p + size; i++, q += 24) {
      const failures = b.readUInt32LE(q + 4);
      this.counters.exporterSequenceFailures += failures;
      const d = this.domain(b.readUInt32LE(q));
      if (d) d.counters.sequenceGaps += failures;
    }
  }

  private exporterFor(sysid: number): Exporter {
    let e = this.exporters.get(sysid);
    if (!e) {
      const bytes = new Uint8Array(16);
      e = { bytes, text: formatAddress(bytes), version: 0, id: 0, samplers: new Map() };
      this.exporters.set(sysid, e);
    }
    return e;
  }

  private domain(sysid: number): DomainState | null {
    let d = this.domains.get(sysid);
    if (d === undefined) {
      const e = this.exporters.get(sysid);
      // A sampler read before its exporter record made a placeholder (version 0): no domain for it.
      d = e && e.version !== 0 ? this.registry.get(e.bytes, e.text, e.version, e.id) : null;
      if (d) this.domains.set(sysid, d);
    }
    return d;
  }

  /** nfcapd's order: overwrite (-3), the flow's own selector, generic (-1), default (-2); else none. */
  private rate(e: Exporter | undefined, selector: number): number {
    if (!e || e.samplers.size === 0) return 0;
    const s = e.samplers;
    return s.get(-3) ?? (selector >= 0 ? s.get(selector) : undefined) ?? s.get(-1) ?? s.get(-2) ?? 0;
  }

  private flow(b: Buffer, p: number, end: number, w: BatchWriter): number {
    if (end - p < 12) {
      this.counters.malformedRecords++;
      return 0;
    }
    const numElements = b.readUInt16LE(p + 4);
    const sysid = b.readUInt16LE(p + 8);
    const flags = b[p + 10]!;
    const nfversion = b[p + 11]!;
    const o = w.reserve(1);
    const u8 = w.buf;
    const dv = w.dv;
    let q = p + 12;
    let addressed = false;
    /** The address family read so far (0: none): a record may carry both elements. */
    let family = 0;
    let packets = 0;
    let bytes = 0;
    let selector = -1;
    let direction: number = DIRECTION_UNKNOWN;
    for (let i = 0; i < numElements; i++) {
      if (q + 4 > end) {
        this.counters.malformedRecords++;
        u8.fill(0, o, o + F.dstAs + 8);
        return 0;
      }
      const type = b.readUInt16LE(q);
      const len = b.readUInt16LE(q + 2);
      if (len < 4 || q + len > end) {
        this.counters.malformedRecords++;
        u8.fill(0, o, o + F.dstAs + 8);
        return 0;
      }
      const v = q + 4;
      const n = len - 4;
      switch (type) {
        case EX_GENERIC:
          if (n < 48) break;
          dv.setFloat64(o + F.start, Number(b.readBigUInt64LE(v)), true);
          dv.setFloat64(o + F.end, Number(b.readBigUInt64LE(v + 8)), true);
          packets = Number(b.readBigUInt64LE(v + 24));
          bytes = Number(b.readBigUInt64LE(v + 32));
          dv.setUint16(o + F.srcPort, b.readUInt16LE(v + 40), true);
          dv.setUint16(o + F.dstPort, b.readUInt16LE(v + 42), true);
          u8[o + F.proto] = b[v + 44]!;
          dv.setUint16(o + F.tcpFlags, b[v + 45]!, true);
          break;
        case EX_IPV4: {
          if (n < 8) break;
          const s4 = b.readUInt32LE(v);
          const d4 = b.readUInt32LE(v + 4);
          // nfcapd writes both address elements for a template that holds both families, the
          // unused one zero: an all-zero IPv4 element beside an IPv6 one is not the flow's.
          if (s4 === 0 && d4 === 0 && family === 6) break;
          // The whole 16-byte slot, IPv4-mapped: an IPv6 element read before must not show through.
          u8.fill(0, o + F.src, o + F.src + 8);
          u8.fill(0, o + F.dst, o + F.dst + 8);
          dv.setUint32(o + F.src + 8, 0xffff0000, true);
          dv.setUint32(o + F.dst + 8, 0xffff0000, true);
          dv.setUint32(o + F.src + 12, s4, false);
          dv.setUint32(o + F.dst + 12, d4, false);
          u8[o + F.ipVersion] = 4;
          family = 4;
          addressed = true;
          break;
        }
        case EX_IPV6:
          if (n < 32) break;
          // The unused IPv6 element of a dual-family template (all zero) never replaces an IPv4 one.
          if (family === 4 && b.subarray(v, v + 32).every((x) => x === 0)) break;
          for (let k = 0; k < 8; k++) {
            u8[o + F.src + k] = b[v + 7 - k]!;
            u8[o + F.src + 8 + k] = b[v + 15 - k]!;
            u8[o + F.dst + k] = b[v + 23 - k]!;
            u8[o + F.dst + 8 + k] = b[v + 31 - k]!;
          }
          u8[o + F.ipVersion] = 6;
          family = 6;
          addressed = true;
          break;
        case EX_MISC:
          if (n < 11) break;
          dv.setUint32(o + F.inIf, b.readUInt32LE(v), true);
          dv.setUint32(o + F.outIf, b.readUInt32LE(v + 4), true);
          // nfdump's dir holds the exporter's flowDirection, but 0 (ingress) is also what it
          // stores when none was exported: only egress (1) is a statement.
          direction = b[v + 10] === 1 ? 1 : DIRECTION_UNKNOWN;
          break;
        case EX_VLAN:
          if (n < 4) break;
          dv.setUint16(o + F.vlan, b.readUInt32LE(v) & 0xfff, true);
          break;
        case EX_AS:
          if (n < 8) break;
          dv.setUint32(o + F.srcAs, b.readUInt32LE(v), true);
          dv.setUint32(o + F.dstAs, b.readUInt32LE(v + 4), true);
          break;
        case EX_MAC:
          if (n < 24) break;
          // u64 little-endian holding the 48-bit address, first octet in bits 40–47.
          for (let k = 0; k < 6; k++) {
            u8[o + F.srcMac + k] = b[v + 5 - k]!;
            u8[o + F.dstMac + k] = b[v + 16 + 5 - k]!;
          }
          break;
        case EX_SAMPLER:
          if (n < 10) break;
          selector = Number(b.readBigInt64LE(v));
          break;
        default:
          break;
      }
      q += len;
    }
    if (!addressed) {
      u8.fill(0, o, o + F.dstAs + 8);
      this.counters.flowsWithoutAddress++;
      return 0;
    }
    const e = this.exporters.get(sysid);
    const d = this.domain(sysid);
    let rate = this.rate(e, selector);
    if (rate === 0 && d) rate = d.overrideRate || d.defaultRate;
    // Counters as exported: nfcapd multiplied sampled ones by the rate it applied.
    if (flags & FLAG_SAMPLED && rate > 1) {
      packets /= rate;
      bytes /= rate;
    }
    if (rate === 0 && d) d.counters.unknownRateRecords++;
    dv.setFloat64(o + F.packets, packets, true);
    dv.setFloat64(o + F.bytes, bytes, true);
    dv.setUint32(o + F.sampling, rate, true);
    u8[o + F.direction] = direction;
    if (e) u8.set(e.bytes, o + F.exporter);
    dv.setUint32(o + F.domain, e?.id ?? 0, true);
    u8[o + F.version] = nfversion;
    w.count++;
    this.counters.flows++;
    if (d) {
      d.counters.records++;
      if (d.lastSeenMs < dv.getFloat64(o + F.end, true)) d.lastSeenMs = dv.getFloat64(o + F.end, true);
    }
    return 1;
  }
}
