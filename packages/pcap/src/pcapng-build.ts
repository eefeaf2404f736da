// Minimal pcapng block builder. The package reads pcapng but writes pcap; this exists so tests
// (here and elsewhere) can produce the pcapng variants tools rarely write: big-endian sections,
// several sections and interfaces, odd timestamp resolutions, simple/obsolete packet blocks.

export interface PcapngOption {
  code: number;
  value: Uint8Array;
}

export class PcapngBuilder {
  private readonly parts: Buffer[] = [];
  private le = true;

  /** Starts a section in the given byte order (interfaces are numbered from 0 again). */
  section(byteOrder: 'le' | 'be' = 'le', options: PcapngOption[] = []): this {
    this.le = byteOrder === 'le';
    const body = Buffer.alloc(16);
    this.w32(body, 0, 0x1a2b3c4d);
    this.w16(body, 4, 1);
    this.w16(body, 6, 0);
    // Section length unknown (-1).
    body.writeInt32LE(-1, 8);
    body.writeInt32LE(-1, 12);
    return this.block(0x0a0d0d0a, Buffer.concat([body, this.opts(options)]));
  }

  /**
   * Interface description. `tsresol` is the raw if_tsresol byte (6 = µs, 9 = ns, 0x80|10 = 2^-10).
   */
  interface(linkType: number, opts: { snaplen?: number; tsresol?: number; tsoffsetSec?: bigint } = {}): this {
    const body = Buffer.alloc(8);
    this.w16(body, 0, linkType);
    this.w32(body, 4, opts.snaplen ?? 0);
    const o: PcapngOption[] = [{ code: 2, value: Buffer.from('eth-test') }];
    if (opts.tsresol !== undefined) o.push({ code: 9, value: Buffer.from([opts.tsresol]) });
    if (opts.tsoffsetSec !== undefined) {
      const v = Buffer.alloc(8);
      if (this.le) v.writeBigInt64LE(opts.tsoffsetSec);
      else v.writeBigInt64BE(opts.tsoffsetSec);
      o.push({ code: 14, value: v });
    }
    return this.block(1, Buffer.concat([body, this.opts(o)]));
  }

  /** Enhanced packet block; `ts` in the interface's units. */
  enhanced(ifId: number, ts: bigint, data: Uint8Array, originalLength = data.length, options: PcapngOption[] = []): this {
    const h = Buffer.alloc(20);
    this.w32(h, 0, ifId);
    this.w32(h, 4, Number(ts >> 32n));
    this.w32(h, 8, Number(ts & 0xffffffffn));
    this.w32(h, 12, data.length);
    this.w32(h, 16, originalLength);
    return this.block(6, Buffer.concat([h, pad(data), this.opts(options)]));
  }

  /** Obsolete packet block (type 2). */
  obsolete(ifId: number, ts: bigint, data: Uint8Array): this {
    const h = Buffer.alloc(20);
    this.w16(h, 0, ifId);
    this.w16(h, 2, 0);
    this.w32(h, 4, Number(ts >> 32n));
    this.w32(h, 8, Number(ts & 0xffffffffn));
    this.w32(h, 12, data.length);
    this.w32(h, 16, data.length);
    return this.block(2, Buffer.concat([h, pad(data)]));
  }

  /** Simple packet block (no timestamp, interface 0). */
  simple(data: Uint8Array, originalLength = data.length): this {
    const h = Buffer.alloc(4);
    this.w32(h, 0, originalLength);
    return this.block(3, Buffer.concat([h, pad(data)]));
  }

  /** Any other block, e.g. name resolution (4), interface statistics (5), custom (0xbad). */
  raw(type: number, body: Uint8Array): this {
    return this.block(type, pad(body));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }

  private block(type: number, body: Buffer): this {
    const len = 12 + body.length;
    const b = Buffer.alloc(len);
    this.w32(b, 0, type);
    this.w32(b, 4, len);
    body.copy(b, 8);
    this.w32(b, len - 4, len);
    this.parts.push(b);
    return this;
  }

  private opts(options: PcapngOption[]): Buffer {
    if (options.length === 0) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    for (const o of options) {
      const h = Buffer.alloc(4);
      this.w16(h, 0, o.code);
      this.w16(h, 2, o.value.length);
      parts.push(h, pad(o.value));
    }
    parts.push(Buffer.alloc(4)); // opt_endofopt
    return Buffer.concat(parts);
  }

  private w16(b: Buffer, o: number, v: number): void {
    if (this.le) b.writeUInt16LE(v, o);
    else b.writeUInt16BE(v, o);
  }

  private w32(b: Buffer, o: number, v: number): void {
    if (this.le) b.writeUInt32LE(v >>> 0, o);
    else b.writeUInt32BE(v >>> 0, o);
  }
}

function pad(d: Uint8Array): Buffer {
  const n = (4 - (d.length % 4)) % 4;
  return Buffer.concat([Buffer.from(d.buffer, d.byteOffset, d.byteLength), Buffer.alloc(n)]);
}
