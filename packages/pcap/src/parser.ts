// Incremental pcap / pcapng parser: fed chunks of a file, it hands out one packet record at a
// time. The same code serves whole Buffers and streamed files, so both behave identically.
import { ByteQueue } from './bytequeue.js';
import { PcapFormatError } from './errors.js';

/** One captured packet as stored in the file. */
export interface PcapFrame {
  /** Packet number in the file, 1-based (tshark's frame.number). */
  index: number;
  /**
   * Capture time in Unix milliseconds, with the sub-millisecond part as a fraction (µs or ns
   * resolution as the file gives it, within double precision). NaN for pcapng Simple Packet
   * Blocks, which carry no timestamp.
   */
  tsMs: number;
  /** Whole Unix seconds of the capture time (NaN for Simple Packet Blocks). */
  tsSec: number;
  /** Nanoseconds within tsSec, 0..999999999 (NaN for Simple Packet Blocks). */
  tsNsec: number;
  /** LINKTYPE_* of the interface the packet was captured on. */
  linkType: number;
  /** pcapng interface id within its section (0 for pcap). */
  interfaceId: number;
  /** Captured bytes: a view into the file chunk; copy it if you keep it past the next chunk read. */
  data: Buffer;
  /** Length of the packet on the wire (>= data.length when the capture was cut by snaplen). */
  originalLength: number;
}

/** Counters kept while reading. Every frame lands in exactly one of the per-frame outcomes. */
export interface PcapStats {
  format: 'pcap' | 'pcapng' | undefined;
  /** Packet records (pcap) or packet blocks (pcapng EPB/SPB/OPB) seen. */
  frames: number;
  /** Frames that yielded a UDP datagram (UDP readers only). */
  udp: number;
  /** Frames that decoded but were not UDP over IPv4/IPv6 (UDP readers only). */
  skippedNonUdp: number;
  /** Frames whose captured bytes end before their headers or UDP payload do (UDP readers only). */
  truncated: number;
  /** IPv4/IPv6 fragments of UDP datagrams, first or not (UDP readers only; no reassembly). */
  fragments: number;
  /** Frames whose headers contradict themselves, or pcapng packets naming an undefined interface. */
  malformed: number;
  /** Frames on link types this package cannot decode (UDP readers only). */
  unsupportedLinkType: number;
  /** pcapng blocks other than SHB/IDB/EPB/SPB/OPB (name resolution, statistics, custom, ...). */
  skippedBlocks: number;
  /** pcapng sections (SHBs) seen; 1 for pcap. */
  sections: number;
  /** Interfaces defined (pcapng IDBs; 1 for pcap). */
  interfaces: number;
  /** True when the file ended inside a record (e.g. a capture killed mid-write). */
  truncatedFile: boolean;
  /** File bytes consumed. */
  bytes: number;
}

export function newStats(): PcapStats {
  return {
    format: undefined,
    frames: 0,
    udp: 0,
    skippedNonUdp: 0,
    truncated: 0,
    fragments: 0,
    malformed: 0,
    unsupportedLinkType: 0,
    skippedBlocks: 0,
    sections: 0,
    interfaces: 0,
    truncatedFile: false,
    bytes: 0,
  };
}

export interface ParseOptions {
  /**
   * Largest record/block accepted, in bytes (default 16 MiB). A larger length is treated as
   * corruption: it bounds memory on garbage input instead of buffering the whole file.
   */
  maxRecordBytes?: number;
  /**
   * What to do when the file ends inside a record: 'count' (default) sets stats.truncatedFile
   * and ends normally after the complete frames, as tshark does; 'error' throws PcapFormatError.
   */
  onTruncatedFile?: 'count' | 'error';
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
/** Alexey Kuznetzov's patched libpcap: 8 extra bytes per record header. */
const PCAP_MAGIC_KUZNETZOV = 0xa1b2cd34;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;
const BLOCK_IDB = 1;
const BLOCK_OPB = 2;
const BLOCK_SPB = 3;
const BLOCK_EPB = 6;
const OPT_ENDOFOPT = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

interface Iface {
  linkType: number;
  snaplen: number;
  /** Timestamp units per second (10^k or 2^k). */
  unitsPerSec: number;
  /** Same as a BigInt, for timestamps beyond 2^53 units (nanosecond clocks). */
  unitsPerSecBig: bigint;
  tsOffsetSec: number;
}

const enum State {
  START,
  PCAP,
  PCAPNG,
}

export class PcapParser {
  readonly stats: PcapStats = newStats();
  /** Filled by next(); reused for every frame, so copy what you keep. */
  readonly frame: PcapFrame = {
    index: 0,
    tsMs: 0,
    tsSec: 0,
    tsNsec: 0,
    linkType: 0,
    interfaceId: 0,
    data: Buffer.alloc(0),
    originalLength: 0,
  };
  private readonly q = new ByteQueue();
  private readonly maxRecord: number;
  private readonly strictEnd: boolean;
  private state = State.START;
  private le = true;
  // pcap
  private nanos = false;
  private recHdr = 16;
  private pcapLinkType = 0;
  // pcapng
  private ifaces: Iface[] = [];

  constructor(opts: ParseOptions = {}) {
    this.maxRecord = opts.maxRecordBytes ?? 16 * 1024 * 1024;
    this.strictEnd = opts.onTruncatedFile === 'error';
  }

  push(chunk: Buffer): void {
    this.q.push(chunk);
  }

  /**
   * Advances to the next packet; true when `frame` holds it, false when more input is needed
   * (or the input is exhausted). Throws PcapFormatError on corrupt framing.
   */
  next(): boolean {
    for (;;) {
      switch (this.state) {
        case State.START:
          if (!this.readFileHeader()) return false;
          continue;
        case State.PCAP:
          return this.nextPcap();
        case State.PCAPNG: {
          const r = this.nextBlock();
          if (r === 0) return false;
          if (r === 1) return true;
          continue;
        }
      }
    }
  }

  /** Call once the input is exhausted: reports a file that ends early. */
  end(): void {
    if (this.state === State.START) {
      if (this.q.available === 0 && this.stats.bytes === 0) throw new PcapFormatError('empty file: not a pcap or pcapng capture');
      throw new PcapFormatError(`file too short for a capture header (${this.q.available} bytes)`, 0);
    }
    if (this.q.available > 0) {
      if (this.strictEnd) {
        throw new PcapFormatError(`file ends inside a record (${this.q.available} trailing bytes)`, this.stats.bytes);
      }
      this.stats.truncatedFile = true;
    }
  }

  private consume(n: number): Buffer {
    this.stats.bytes += n;
    return this.q.take(n);
  }

  private readFileHeader(): boolean {
    if (this.q.available < 4) return false;
    const m = this.q.peek(4);
    const le = m.readUInt32LE(0);
    const be = m.readUInt32BE(0);
    if (le === PCAPNG_SHB) {
      this.state = State.PCAPNG;
      this.stats.format = 'pcapng';
      return true;
    }
    const isMagic = (x: number) => x === PCAP_MAGIC_US || x === PCAP_MAGIC_NS || x === PCAP_MAGIC_KUZNETZOV;
    if (!isMagic(le) && !isMagic(be)) {
      throw new PcapFormatError(`not a pcap or pcapng file (magic 0x${be.toString(16).padStart(8, '0')})`, 0);
    }
    if (this.q.available < 24) return false;
    const h = this.consume(24);
    this.le = isMagic(le);
    const magic = this.le ? le : be;
    const major = this.u16(h, 4);
    if (major !== 2) throw new PcapFormatError(`unsupported pcap version ${major}.${this.u16(h, 6)}`, 4);
    this.nanos = magic === PCAP_MAGIC_NS;
    this.recHdr = magic === PCAP_MAGIC_KUZNETZOV ? 24 : 16;
    // The upper bits of the link-type field carry FCS information, not the type.
    this.pcapLinkType = this.u32(h, 20) & 0xffff;
    this.stats.format = 'pcap';
    this.stats.sections = 1;
    this.stats.interfaces = 1;
    this.state = State.PCAP;
    return true;
  }

  private nextPcap(): boolean {
    const hl = this.recHdr;
    if (this.q.available < hl) return false;
    const h = this.q.peek(hl);
    const incl = this.u32(h, 8);
    if (incl > this.maxRecord) {
      throw new PcapFormatError(`corrupt pcap record: captured length ${incl} exceeds ${this.maxRecord}`, this.stats.bytes);
    }
    if (this.q.available < hl + incl) return false;
    const sec = this.u32(h, 0);
    const frac = this.u32(h, 4);
    const orig = this.u32(h, 12);
    const rec = this.consume(hl + incl);
    const f = this.frame;
    f.index = ++this.stats.frames;
    f.tsSec = sec;
    f.tsNsec = this.nanos ? frac : frac * 1000;
    f.tsMs = sec * 1000 + f.tsNsec / 1e6;
    f.linkType = this.pcapLinkType;
    f.interfaceId = 0;
    f.data = rec.subarray(hl);
    f.originalLength = orig;
    return true;
  }

  /** 0: need more input, 1: a frame is ready, 2: a non-packet block was consumed. */
  private nextBlock(): 0 | 1 | 2 {
    if (this.q.available < 12) return 0;
    const start = this.stats.bytes;
    const h = this.q.peek(12);
    if (h.readUInt32LE(0) === PCAPNG_SHB) {
      // A new section may switch byte order; its byte-order magic decides.
      const bomLe = h.readUInt32LE(8);
      if (bomLe === PCAPNG_BOM) this.le = true;
      else if (h.readUInt32BE(8) === PCAPNG_BOM) this.le = false;
      else throw new PcapFormatError('corrupt pcapng section header: bad byte-order magic', start);
    }
    const type = this.u32(h, 0);
    const len = this.u32(h, 4);
    if (len < 12 || len % 4 !== 0) throw new PcapFormatError(`corrupt pcapng block: total length ${len}`, start);
    if (len > this.maxRecord) throw new PcapFormatError(`corrupt pcapng block: total length ${len} exceeds ${this.maxRecord}`, start);
    if (this.q.available < len) return 0;
    const b = this.consume(len);
    if (this.u32(b, len - 4) !== len) {
      throw new PcapFormatError(`corrupt pcapng block: trailing length ${this.u32(b, len - 4)} != ${len}`, start);
    }
    switch (type) {
      case PCAPNG_SHB:
        if (len < 28) throw new PcapFormatError('corrupt pcapng section header: too short', start);
        if (this.u16(b, 12) !== 1) throw new PcapFormatError(`unsupported pcapng version ${this.u16(b, 12)}.${this.u16(b, 14)}`, start);
        this.ifaces = [];
        this.stats.sections++;
        return 2;
      case BLOCK_IDB:
        if (len < 20) throw new PcapFormatError('corrupt pcapng interface block: too short', start);
        this.ifaces.push(this.parseIdb(b, len));
        this.stats.interfaces++;
        return 2;
      case BLOCK_EPB: {
        if (len < 32) throw new PcapFormatError('corrupt pcapng enhanced packet block: too short', start);
        const cap = this.u32(b, 20);
        if (cap > len - 32) throw new PcapFormatError(`corrupt pcapng enhanced packet block: captured length ${cap} exceeds block`, start);
        return this.packet(this.u32(b, 8), this.u32(b, 12), this.u32(b, 16), b.subarray(28, 28 + cap), this.u32(b, 24));
      }
      case BLOCK_OPB: {
        if (len < 32) throw new PcapFormatError('corrupt pcapng packet block: too short', start);
        const cap = this.u32(b, 20);
        if (cap > len - 32) throw new PcapFormatError(`corrupt pcapng packet block: captured length ${cap} exceeds block`, start);
        return this.packet(this.u16(b, 8), this.u32(b, 12), this.u32(b, 16), b.subarray(28, 28 + cap), this.u32(b, 24));
      }
      case BLOCK_SPB: {
        if (len < 16) throw new PcapFormatError('corrupt pcapng simple packet block: too short', start);
        const orig = this.u32(b, 8);
        const iface = this.ifaces[0];
        // The SPB stores no captured length: it is the original length cut by the interface
        // snaplen and by the block size.
        let cap = Math.min(orig, len - 16);
        if (iface && iface.snaplen > 0) cap = Math.min(cap, iface.snaplen);
        return this.packet(0, -1, 0, b.subarray(12, 12 + cap), orig);
      }
      default:
        this.stats.skippedBlocks++;
        return 2;
    }
  }

  /** tsHigh < 0 marks "no timestamp" (SPB). */
  private packet(ifId: number, tsHigh: number, tsLow: number, data: Buffer, orig: number): 0 | 1 | 2 {
    const index = ++this.stats.frames;
    const iface = this.ifaces[ifId];
    if (!iface) {
      // Block framing is intact, so only this packet is lost; tshark refuses the whole file.
      this.stats.malformed++;
      return 2;
    }
    const f = this.frame;
    f.index = index;
    f.linkType = iface.linkType;
    f.interfaceId = ifId;
    f.data = data;
    f.originalLength = orig;
    if (tsHigh < 0) {
      f.tsSec = NaN;
      f.tsNsec = NaN;
      f.tsMs = NaN;
    } else {
      this.setTime(iface, tsHigh, tsLow);
    }
    return 1;
  }

  private setTime(iface: Iface, hi: number, lo: number): void {
    const ups = iface.unitsPerSec;
    let sec: number;
    let nsec: number;
    if (hi < 0x200000) {
      // Fits in 53 bits: exact in a double (microsecond clocks until year 2255).
      const v = hi * 4294967296 + lo;
      sec = Math.floor(v / ups);
      let rem = v - sec * ups;
      if (rem < 0) {
        sec--;
        rem += ups;
      } else if (rem >= ups) {
        sec++;
        rem -= ups;
      }
      nsec = ups === 1e9 ? rem : Math.round((rem * 1e9) / ups);
    } else {
      const v = (BigInt(hi) << 32n) | BigInt(lo);
      const u = iface.unitsPerSecBig;
      sec = Number(v / u);
      nsec = Number(((v % u) * 1_000_000_000n + u / 2n) / u);
    }
    if (nsec >= 1e9) {
      sec++;
      nsec -= 1e9;
    }
    sec += iface.tsOffsetSec;
    const f = this.frame;
    f.tsSec = sec;
    f.tsNsec = nsec;
    f.tsMs = sec * 1000 + nsec / 1e6;
  }

  private parseIdb(b: Buffer, len: number): Iface {
    const iface: Iface = {
      linkType: this.u16(b, 8),
      snaplen: this.u32(b, 12),
      unitsPerSec: 1e6,
      unitsPerSecBig: 1_000_000n,
      tsOffsetSec: 0,
    };
    let p = 16;
    const end = len - 4;
    while (p + 4 <= end) {
      const code = this.u16(b, p);
      const olen = this.u16(b, p + 2);
      p += 4;
      if (code === OPT_ENDOFOPT || p + olen > end) break;
      if (code === OPT_IF_TSRESOL && olen >= 1) {
        const r = b[p]!;
        const exp = r & 0x7f;
        // Bit 7 set: negative power of 2; clear: negative power of 10. Beyond 2^-63 / 10^-18
        // a clock makes no sense and would overflow; keep microseconds then.
        if (r & 0x80) {
          if (exp <= 63) {
            iface.unitsPerSecBig = 1n << BigInt(exp);
            iface.unitsPerSec = 2 ** exp;
          }
        } else if (exp <= 18) {
          iface.unitsPerSecBig = 10n ** BigInt(exp);
          iface.unitsPerSec = 10 ** exp;
        }
      } else if (code === OPT_IF_TSOFFSET && olen >= 8) {
        iface.tsOffsetSec = Number(this.le ? b.readBigInt64LE(p) : b.readBigInt64BE(p));
      }
      p += (olen + 3) & ~3;
    }
    return iface;
  }

  private u16(b: Buffer, o: number): number {
    return this.le ? b.readUInt16LE(o) : b.readUInt16BE(o);
  }

  private u32(b: Buffer, o: number): number {
    return this.le ? b.readUInt32LE(o) : b.readUInt32BE(o);
  }
}
