// Streaming pcap writer. Records are encoded straight into a block buffer that is handed to
// the file when full, so writing a datagram costs no per-packet allocation.
import { open, type FileHandle } from 'node:fs/promises';
import { LinkType } from './linktype.js';
import { encodeUdpPacketInto, udpPacketLength, type IpAddressInput, type IpHeaderOptions } from './packets.js';

export interface PcapWriterOptions {
  /** LINKTYPE_* of the file (default ETHERNET). writeUdp/writeIp support ETHERNET, RAW, IPV4, IPV6, NULL. */
  linkType?: number;
  /** Write nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds. */
  nanosecond?: boolean;
  /** Byte order of the file (default little-endian, as on x86). */
  byteOrder?: 'le' | 'be';
  /** Snapshot length stated in the header (default 262144); packets are never cut by the writer. */
  snaplen?: number;
  /** Bytes buffered before a write to the file (default 1 MiB). */
  bufferSize?: number;
  /** Ethernet addresses for synthesised frames (defaults 02:00:00:00:00:01 → 02:00:00:00:00:02). */
  srcMac?: string;
  dstMac?: string;
}

/** A UDP datagram to write; addresses as text or 4/16 bytes, both of one IP version. */
export interface UdpDatagramInput extends Omit<IpHeaderOptions, 'src' | 'dst'> {
  tsMs: number;
  src: IpAddressInput;
  srcPort: number;
  dst: IpAddressInput;
  dstPort: number;
  payload: Uint8Array;
  /** Compute the UDP checksum over IPv4 (default true; always computed for IPv6). */
  udpChecksum?: boolean;
}

function isV6(a: IpAddressInput): boolean {
  return typeof a === 'string' ? a.includes(':') : a.length === 16;
}

type Sink = (b: Buffer) => Promise<void>;

function parseMac(s: string): Buffer {
  const parts = s.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new TypeError(`bad MAC address ${JSON.stringify(s)}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

const RECORD_HEADER = 16;

export class PcapWriter {
  /** Packets written so far. */
  frames = 0;
  /** File bytes produced so far (header included). */
  bytes = 0;
  readonly linkType: number;
  private readonly le: boolean;
  private readonly nanos: boolean;
  private readonly bufSize: number;
  private readonly ethHeader: Buffer;
  private buf: Buffer;
  private used = 0;
  /** Chain of sink writes: file writes must not overlap, and callers may not await each call. */
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly sink: Sink,
    private readonly finish: () => Promise<void>,
    opts: PcapWriterOptions,
  ) {
    this.linkType = opts.linkType ?? LinkType.ETHERNET;
    this.le = (opts.byteOrder ?? 'le') === 'le';
    this.nanos = opts.nanosecond ?? false;
    this.bufSize = Math.max(opts.bufferSize ?? 1024 * 1024, 4096);
    this.buf = Buffer.allocUnsafe(this.bufSize);
    this.ethHeader = Buffer.alloc(14);
    parseMac(opts.dstMac ?? '02:00:00:00:00:02').copy(this.ethHeader, 0);
    parseMac(opts.srcMac ?? '02:00:00:00:00:01').copy(this.ethHeader, 6);
    const h = this.buf;
    this.u32(h, 0, this.nanos ? 0xa1b23c4d : 0xa1b2c3d4);
    this.u16(h, 4, 2);
    this.u16(h, 6, 4);
    this.u32(h, 8, 0);
    this.u32(h, 12, 0);
    this.u32(h, 16, opts.snaplen ?? 262144);
    this.u32(h, 20, this.linkType);
    this.used = 24;
    this.bytes = 24;
  }

  /** Creates (truncates) a pcap file. */
  static async create(path: string, opts: PcapWriterOptions = {}): Promise<PcapWriter> {
    const fh: FileHandle = await open(path, 'w');
    return new PcapWriter(
      async (b) => {
        await fh.write(b);
      },
      () => fh.close(),
      opts,
    );
  }

  /** A writer that keeps the file in memory; get it with `toBuffer()` after `close()`. */
  static memory(opts: PcapWriterOptions = {}): PcapWriter & { toBuffer(): Buffer } {
    const parts: Buffer[] = [];
    const w = new PcapWriter(
      async (b) => {
        parts.push(b);
      },
      async () => {},
      opts,
    ) as PcapWriter & { toBuffer(): Buffer };
    w.toBuffer = () => Buffer.concat(parts);
    return w;
  }

  /** Writes one frame of the file's link type. */
  writePacket(tsMs: number, data: Uint8Array, originalLength = data.length): Promise<void> {
    const p = this.reserve(data.length);
    const off = this.recordHeader(p, tsMs, data.length, originalLength);
    this.buf.set(data, off);
    return this.commit(off + data.length);
  }

  /** Writes an IPv4/IPv6 packet, wrapped in the link-layer header the file's link type needs. */
  writeIp(tsMs: number, packet: Uint8Array): Promise<void> {
    if (packet.length === 0) throw new RangeError('empty IP packet');
    const v = packet[0]! >> 4;
    if (v !== 4 && v !== 6) throw new RangeError(`not an IP packet (version ${v})`);
    const l2 = this.linkHeaderLength(v === 6);
    const total = l2 + packet.length;
    const p = this.reserve(total);
    const off = this.recordHeader(p, tsMs, total, total);
    this.linkHeader(off, v === 6);
    this.buf.set(packet, off + l2);
    return this.commit(off + total);
  }

  /** Writes a UDP datagram with synthesised link, IP (correct header checksum) and UDP headers. */
  writeUdp(d: UdpDatagramInput): Promise<void> {
    const v6 = isV6(d.src);
    if (v6 !== isV6(d.dst)) throw new TypeError('source and destination addresses must be of the same IP version');
    const l2 = this.linkHeaderLength(v6);
    const total = l2 + udpPacketLength(v6, d.payload.length);
    const p = this.reserve(total);
    const off = this.recordHeader(p, d.tsMs, total, total);
    this.linkHeader(off, v6);
    encodeUdpPacketInto(this.buf, off + l2, d);
    return this.commit(off + total);
  }

  /** Flushes buffered records and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    await this.flushing;
    await this.finish();
  }

  private linkHeaderLength(v6: boolean): number {
    switch (this.linkType) {
      case LinkType.ETHERNET:
        return 14;
      case LinkType.RAW:
        return 0;
      case LinkType.IPV4:
        if (v6) throw new RangeError('IPv6 packet in a LINKTYPE_IPV4 file');
        return 0;
      case LinkType.IPV6:
        if (!v6) throw new RangeError('IPv4 packet in a LINKTYPE_IPV6 file');
        return 0;
      case LinkType.NULL:
        return 4;
      default:
        throw new RangeError(`cannot synthesise link-layer headers for link type ${this.linkType}; use writePacket`);
    }
  }

  private linkHeader(off: number, v6: boolean): void {
    if (this.linkType === LinkType.ETHERNET) {
      this.ethHeader.copy(this.buf, off);
      this.buf.writeUInt16BE(v6 ? 0x86dd : 0x0800, off + 12);
    } else if (this.linkType === LinkType.NULL) {
      // Host byte order of the "capturing" machine: we claim to be the file's byte order (Linux families).
      this.u32(this.buf, off, v6 ? 10 : 2);
    }
  }

  /** Makes room for a record of `caplen` bytes; returns the record's offset in `buf`. */
  private reserve(caplen: number): number {
    if (this.closed) throw new Error('pcap writer is closed');
    const need = RECORD_HEADER + caplen;
    if (this.used + need > this.buf.length) {
      this.flush();
      // An oversized record gets a buffer of its own.
      if (need > this.buf.length) this.buf = Buffer.allocUnsafe(need);
    }
    return this.used;
  }

  private recordHeader(p: number, tsMs: number, caplen: number, orig: number): number {
    if (!Number.isFinite(tsMs) || tsMs < 0) throw new RangeError(`bad timestamp ${tsMs}`);
    let sec = Math.floor(tsMs / 1000);
    const scale = this.nanos ? 1e6 : 1e3;
    let frac = Math.round((tsMs - sec * 1000) * scale);
    if (frac >= scale * 1000) {
      sec++;
      frac -= scale * 1000;
    }
    if (sec > 0xffffffff) throw new RangeError(`timestamp ${tsMs} beyond what pcap can store`);
    const b = this.buf;
    this.u32(b, p, sec);
    this.u32(b, p + 4, frac);
    this.u32(b, p + 8, caplen);
    this.u32(b, p + 12, Math.max(orig, caplen));
    return p + RECORD_HEADER;
  }

  private commit(end: number): Promise<void> {
    this.bytes += end - this.used;
    this.used = end;
    this.frames++;
    if (this.used >= this.bufSize) this.flush();
    return this.flushing;
  }

  private flush(): void {
    if (this.used === 0) return;
    const out = this.buf.subarray(0, this.used);
    // Hand the filled buffer over and start a new one, so a write still in flight is never
    // overwritten by later records.
    this.buf = Buffer.allocUnsafe(this.bufSize);
    this.used = 0;
    this.flushing = this.flushing.then(() => this.sink(out));
  }

  private u16(b: Buffer, o: number, v: number): void {
    if (this.le) b.writeUInt16LE(v, o);
    else b.writeUInt16BE(v, o);
  }

  private u32(b: Buffer, o: number, v: number): void {
    if (this.le) b.writeUInt32LE(v >>> 0, o);
    else b.writeUInt32BE(v >>> 0, o);
  }
}
