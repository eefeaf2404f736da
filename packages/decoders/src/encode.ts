import { parseAddress } from '@haystack/common';
import { VARLEN } from './template/fields.js';

/**
 * Exporter-side encoding of NetFlow v5/v9 and IPFIX packets: for hand-built test packets
 * and the load-test router simulation. Clarity over speed; not used by the collector.
 */
export interface FieldSpec {
  id: number;
  length: number;
  enterprise?: number;
}

/** A value for one field: unsigned integer (number or bigint), IP address text, or raw bytes. */
export type FieldValue = number | bigint | string | Uint8Array;

function writeUint(out: Buffer, off: number, len: number, v: number | bigint): void {
  let x = typeof v === 'bigint' ? v : BigInt(Math.floor(v));
  for (let i = len - 1; i >= 0; i--) {
    out[off + i] = Number(x & 0xffn);
    x >>= 8n;
  }
}

function encodeValue(f: FieldSpec, v: FieldValue): Buffer {
  if (f.length === VARLEN) {
    const raw = typeof v === 'string' ? Buffer.from(v) : v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(String(v));
    const head = raw.length < 255 ? Buffer.of(raw.length) : Buffer.of(255, raw.length >> 8, raw.length & 0xff);
    return Buffer.concat([head, raw]);
  }
  const out = Buffer.alloc(f.length);
  if (typeof v === 'string') {
    const a = parseAddress(v);
    if (f.length === 4) out.set(a.subarray(12), 0);
    else out.set(a.subarray(16 - f.length), 0);
  } else if (v instanceof Uint8Array) out.set(v.subarray(0, f.length), 0);
  else writeUint(out, 0, f.length, v);
  return out;
}

function pad4(b: Buffer): Buffer {
  const r = b.length % 4;
  return r ? Buffer.concat([b, Buffer.alloc(4 - r)]) : b;
}

function set(id: number, body: Buffer, padTo4: boolean): Buffer {
  const content = padTo4 ? pad4(Buffer.concat([Buffer.alloc(4), body])).subarray(4) : body;
  const h = Buffer.alloc(4);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(4 + content.length, 2);
  return Buffer.concat([h, content]);
}

export interface PacketHeader {
  /** v9 source id / IPFIX observation domain. */
  domain: number;
  /** Unix seconds. */
  exportSecs: number;
  sequence: number;
  /** v9 only: sysUptime in ms. */
  uptimeMs?: number;
}

/** Build one NetFlow v9 or IPFIX packet, set by set. */
export class PacketBuilder {
  private readonly sets: Buffer[] = [];
  private readonly templates = new Map<number, FieldSpec[]>();

  constructor(
    readonly version: 9 | 10,
    private readonly header: PacketHeader,
    /** Pad sets to 4 bytes (v9 requires it; IPFIX allows it). */
    private readonly pad = version === 9,
  ) {}

  /** Declare a data template (and remember it for `data`). */
  template(id: number, fields: FieldSpec[]): this {
    this.templates.set(id, fields);
    const parts: Buffer[] = [];
    const h = Buffer.alloc(4);
    h.writeUInt16BE(id, 0);
    h.writeUInt16BE(fields.length, 2);
    parts.push(h);
    for (const f of fields) parts.push(this.fieldSpec(f));
    this.sets.push(set(this.version === 9 ? 0 : 2, Buffer.concat(parts), this.pad));
    return this;
  }

  /** Declare an options template: scope fields first. */
  optionsTemplate(id: number, scope: FieldSpec[], fields: FieldSpec[]): this {
    this.templates.set(id, [...scope, ...fields]);
    const parts: Buffer[] = [];
    if (this.version === 9) {
      const h = Buffer.alloc(6);
      h.writeUInt16BE(id, 0);
      h.writeUInt16BE(scope.length * 4, 2);
      h.writeUInt16BE(fields.length * 4, 4);
      parts.push(h);
    } else {
      const h = Buffer.alloc(6);
      h.writeUInt16BE(id, 0);
      h.writeUInt16BE(scope.length + fields.length, 2);
      h.writeUInt16BE(scope.length, 4);
      parts.push(h);
    }
    for (const f of [...scope, ...fields]) parts.push(this.fieldSpec(f));
    this.sets.push(set(this.version === 9 ? 1 : 3, Buffer.concat(parts), this.pad));
    return this;
  }

  /** IPFIX template withdrawal: one id, or 2 / 3 for all data / all options templates. */
  withdraw(id: number, options = false): this {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(id, 0);
    this.sets.push(set(options ? 3 : 2, h, false));
    return this;
  }

  /** A data set of rows for a template declared here or given explicitly. */
  data(templateId: number, rows: FieldValue[][], fields = this.templates.get(templateId)): this {
    if (!fields) throw new Error(`template ${templateId} unknown to this builder: pass its fields`);
    const parts: Buffer[] = [];
    for (const row of rows) {
      if (row.length !== fields.length) throw new Error(`row has ${row.length} values for ${fields.length} fields`);
      fields.forEach((f, i) => parts.push(encodeValue(f, row[i]!)));
    }
    this.sets.push(set(templateId, Buffer.concat(parts), this.pad));
    return this;
  }

  /** Any bytes as a set body (for malformed-input tests). */
  rawSet(id: number, body: Buffer): this {
    this.sets.push(set(id, body, false));
    return this;
  }

  private fieldSpec(f: FieldSpec): Buffer {
    if (f.enterprise && this.version === 10) {
      const b = Buffer.alloc(8);
      b.writeUInt16BE(f.id | 0x8000, 0);
      b.writeUInt16BE(f.length, 2);
      b.writeUInt32BE(f.enterprise, 4);
      return b;
    }
    const b = Buffer.alloc(4);
    b.writeUInt16BE(f.id, 0);
    b.writeUInt16BE(f.length, 2);
    return b;
  }

  get setCount(): number {
    return this.sets.length;
  }

  build(): Buffer {
    const body = Buffer.concat(this.sets);
    const h = Buffer.alloc(this.version === 9 ? 20 : 16);
    if (this.version === 9) {
      h.writeUInt16BE(9, 0);
      h.writeUInt16BE(this.sets.length, 2); // v9 count: we count sets; receivers must not rely on it
      h.writeUInt32BE((this.header.uptimeMs ?? 0) >>> 0, 4);
      h.writeUInt32BE(this.header.exportSecs >>> 0, 8);
      h.writeUInt32BE(this.header.sequence >>> 0, 12);
      h.writeUInt32BE(this.header.domain >>> 0, 16);
    } else {
      h.writeUInt16BE(10, 0);
      h.writeUInt16BE(16 + body.length, 2);
      h.writeUInt32BE(this.header.exportSecs >>> 0, 4);
      h.writeUInt32BE(this.header.sequence >>> 0, 8);
      h.writeUInt32BE(this.header.domain >>> 0, 12);
    }
    return Buffer.concat([h, body]);
  }
}

export interface V5Record {
  src: string;
  dst: string;
  nextHop?: string;
  inIf?: number;
  outIf?: number;
  packets: number;
  bytes: number;
  /** sysUptime ms at first / last packet. */
  first: number;
  last: number;
  srcPort: number;
  dstPort: number;
  tcpFlags?: number;
  proto: number;
  tos?: number;
  /** 16-bit source and destination AS (bytes 40–43). */
  srcAs?: number;
  dstAs?: number;
}

export function buildV5(
  h: {
    uptimeMs: number;
    exportSecs: number;
    nsecs?: number;
    sequence: number;
    engineType?: number;
    engineId?: number;
    samplingInterval?: number;
    samplingMode?: number;
  },
  recs: V5Record[],
): Buffer {
  const out = Buffer.alloc(24 + 48 * recs.length);
  out.writeUInt16BE(5, 0);
  out.writeUInt16BE(recs.length, 2);
  out.writeUInt32BE(h.uptimeMs >>> 0, 4);
  out.writeUInt32BE(h.exportSecs >>> 0, 8);
  out.writeUInt32BE(h.nsecs ?? 0, 12);
  out.writeUInt32BE(h.sequence >>> 0, 16);
  out.writeUInt8(h.engineType ?? 0, 20);
  out.writeUInt8(h.engineId ?? 0, 21);
  out.writeUInt16BE((((h.samplingMode ?? 0) & 3) << 14) | ((h.samplingInterval ?? 0) & 0x3fff), 22);
  recs.forEach((r, i) => {
    const p = 24 + 48 * i;
    out.set(parseAddress(r.src).subarray(12), p);
    out.set(parseAddress(r.dst).subarray(12), p + 4);
    out.set(parseAddress(r.nextHop ?? '0.0.0.0').subarray(12), p + 8);
    out.writeUInt16BE(r.inIf ?? 0, p + 12);
    out.writeUInt16BE(r.outIf ?? 0, p + 14);
    out.writeUInt32BE(r.packets >>> 0, p + 16);
    out.writeUInt32BE(r.bytes >>> 0, p + 20);
    out.writeUInt32BE(r.first >>> 0, p + 24);
    out.writeUInt32BE(r.last >>> 0, p + 28);
    out.writeUInt16BE(r.srcPort, p + 32);
    out.writeUInt16BE(r.dstPort, p + 34);
    out.writeUInt8(r.tcpFlags ?? 0, p + 37);
    out.writeUInt8(r.proto, p + 38);
    out.writeUInt8(r.tos ?? 0, p + 39);
    out.writeUInt16BE(r.srcAs ?? 0, p + 40);
    out.writeUInt16BE(r.dstAs ?? 0, p + 42);
  });
  return out;
}
