import { IE, type FieldSpec } from '@haystack/decoders';
import type { V6Table } from './addr.js';
import { FLAG_DOWN, FLAG_V6, REC_F64, REC_U32, U_MISC, U_PORTS, U_SUB, U_SVC, type RecordStore } from './records.js';

/**
 * The routers' export side: NetFlow v9 and IPFIX messages written straight into a buffer.
 * flow-core's PacketBuilder builds a Buffer per value, far too slow for a million records a
 * second, so each template layout is compiled once into a list of field opcodes and records
 * are written with plain byte stores. The layouts copy what real exporters send (see
 * packages/testkit/EXPORTERS.md): pmacct's v9 (absolute milliseconds, sampler id 48/49/50),
 * softflowd's v9 (uptime times, SAMPLING_INTERVAL 34/35) and IPFIX (uptime times,
 * systemInitTimeMilliseconds, PSAMP 305/306), and an IPFIX layout with absolute times and a
 * selector id (302) in every record. 'ixp-ipfix' is that layout from an exchange's fabric: it
 * adds the source and destination MAC addresses (56, 80) of the member routers on the frame,
 * which is how an IXP attributes a flow to a member.
 */
export type ExportStyle = 'pmacct-v9' | 'softflowd-v9' | 'softflowd-ipfix' | 'ipfix-selector' | 'ixp-ipfix';

export const STYLES_BY_PROTOCOL: Record<'v9' | 'ipfix' | 'mixed', ExportStyle[]> = {
  v9: ['pmacct-v9', 'softflowd-v9'],
  ipfix: ['softflowd-ipfix', 'ipfix-selector'],
  mixed: ['pmacct-v9', 'softflowd-ipfix', 'softflowd-v9', 'ipfix-selector'],
};

export interface ExporterConfig {
  index: number;
  /** Address the export datagrams come from (in the pcap). */
  address: string;
  /** UDP source port of the export datagrams. */
  port: number;
  style: ExportStyle;
  version: 9 | 10;
  /** v9 source id / IPFIX observation domain id. */
  domainId: number;
  sampling: number;
  mode: 'random' | 'deterministic';
  /** Unix ms of the router's boot: uptime 0. */
  bootMs: number;
  /** Sampler / selector id announced in the options (and carried in records where the style does). */
  samplerId: number;
}

interface Layout {
  fields: FieldSpec[];
  size: number;
}

function layout(spec: [number, number][]): Layout {
  return { fields: spec.map(([id, length]) => ({ id, length })), size: spec.reduce((s, [, l]) => s + l, 0) };
}

/** Data templates per style: [IPv4, IPv6]. */
function dataLayouts(style: ExportStyle): [Layout, Layout] {
  const mk = (v6: boolean): Layout => {
    const src: [number, number] = v6 ? [IE.sourceIPv6Address, 16] : [IE.sourceIPv4Address, 4];
    const dst: [number, number] = v6 ? [IE.destinationIPv6Address, 16] : [IE.destinationIPv4Address, 4];
    switch (style) {
      case 'pmacct-v9':
        return layout([
          [IE.flowEndMilliseconds, 8],
          [IE.flowStartMilliseconds, 8],
          [IE.octetDeltaCount, 8],
          [IE.packetDeltaCount, 8],
          [IE.ipVersion, 1],
          [IE.ingressInterface, 4],
          [IE.egressInterface, 4],
          [IE.flowDirection, 1],
          src,
          dst,
          [IE.sourceTransportPort, 2],
          [IE.destinationTransportPort, 2],
          [5, 1],
          [IE.tcpControlBits, 1],
          [IE.protocolIdentifier, 1],
          [IE.samplerId, 1],
        ]);
      case 'softflowd-v9':
      case 'softflowd-ipfix':
        return layout([
          src,
          dst,
          [IE.flowStartSysUpTime, 4],
          [IE.flowEndSysUpTime, 4],
          [IE.octetDeltaCount, 4],
          [IE.packetDeltaCount, 4],
          [IE.ingressInterface, 4],
          [IE.egressInterface, 4],
          [IE.flowDirection, 1],
          [136, 1],
          [IE.sourceTransportPort, 2],
          [IE.destinationTransportPort, 2],
          [IE.protocolIdentifier, 1],
          [IE.tcpControlBits, 1],
          [IE.ipVersion, 1],
          [5, 1],
        ]);
      case 'ipfix-selector':
      case 'ixp-ipfix':
        return layout([
          [IE.flowStartMilliseconds, 8],
          [IE.flowEndMilliseconds, 8],
          src,
          dst,
          [IE.sourceTransportPort, 2],
          [IE.destinationTransportPort, 2],
          [IE.protocolIdentifier, 1],
          [IE.tcpControlBits, 1],
          [IE.packetDeltaCount, 8],
          [IE.octetDeltaCount, 8],
          [IE.ingressInterface, 4],
          [IE.egressInterface, 4],
          [IE.selectorId, 4],
          [136, 1],
          ...(style === 'ixp-ipfix'
            ? ([
                [IE.sourceMacAddress, 6],
                [IE.destinationMacAddress, 6],
              ] as [number, number][])
            : []),
        ]);
    }
  };
  return [mk(false), mk(true)];
}

/** The options template (scope fields first) and the one options record, per style. */
function optionsOf(e: ExporterConfig): { id: number; scope: FieldSpec[]; fields: FieldSpec[]; values: number[] } {
  const N = e.sampling;
  const det = e.mode === 'deterministic';
  switch (e.style) {
    case 'pmacct-v9':
      // Scope System (1); sampler id, mode (1 deterministic, 2 random), 1-out-of-N interval.
      return {
        id: 4096,
        scope: [{ id: 1, length: 4 }],
        fields: [
          { id: IE.samplerId, length: 1 },
          { id: IE.samplerMode, length: 1 },
          { id: IE.samplerRandomInterval, length: 4 },
        ],
        values: [0, e.samplerId, det ? 1 : 2, N],
      };
    case 'softflowd-v9':
      // Scope Interface (2); SAMPLING_INTERVAL, SAMPLING_ALGORITHM (1 deterministic, 2 random).
      return {
        id: 256,
        scope: [{ id: 2, length: 4 }],
        fields: [
          { id: IE.samplingInterval, length: 4 },
          { id: IE.samplingAlgorithm, length: 1 },
        ],
        values: [0, N, det ? 1 : 2],
      };
    case 'softflowd-ipfix':
      // PSAMP: rate = (interval + space) / interval; selectorAlgorithm 1 systematic count-based, 3 random n-out-of-N.
      return {
        id: 256,
        scope: [{ id: 143, length: 4 }],
        fields: [
          { id: IE.systemInitTimeMilliseconds, length: 8 },
          { id: IE.samplingPacketInterval, length: 4 },
          { id: IE.samplingPacketSpace, length: 4 },
          { id: IE.selectorAlgorithm, length: 2 },
        ],
        values: [1000 + e.index, e.bootMs, 1, N - 1, det ? 1 : 3],
      };
    case 'ipfix-selector':
    case 'ixp-ipfix':
      return {
        id: 512,
        scope: [{ id: IE.selectorId, length: 4 }],
        fields: [
          { id: IE.selectorAlgorithm, length: 2 },
          { id: IE.samplingPacketInterval, length: 4 },
          { id: IE.samplingPacketSpace, length: 4 },
        ],
        values: [e.samplerId, det ? 1 : 3, 1, N - 1],
      };
  }
}

export const TEMPLATE_V4 = 1024;
export const TEMPLATE_V6 = 2048;

/** Counters of one exporter's output. */
export interface ExportCounters {
  messages: number;
  records: number;
  optionsRecords: number;
  templateMessages: number;
  sampledPackets: number;
  bytes: number;
}

/**
 * One router's export process: templates, sampler options, sequence numbers and messages.
 * Messages leave on a one-second timer (as exporters flush their buffers), so every message
 * time is a whole second at or after the export time of its records: v9's whole-second
 * `unix_secs` and the uptime fields then agree exactly.
 */
export class Exporter {
  readonly counters: ExportCounters = { messages: 0, records: 0, optionsRecords: 0, templateMessages: 0, sampledPackets: 0, bytes: 0 };
  private readonly layouts: [Layout, Layout];
  private readonly templateBytes: Buffer;
  private readonly optionsTemplateBytes: Buffer;
  private readonly optionsDataBytes: Buffer;
  private readonly headerLen: number;
  private seq = 0;
  private sinceTemplates = Infinity;
  private lastTemplateMs = -Infinity;
  private readonly buf: Buffer;
  /** Big-endian stores into `buf` (V8 compiles DataView accesses to plain loads and stores). */
  private readonly view: DataView;

  constructor(
    readonly cfg: ExporterConfig,
    private readonly v6: V6Table,
    private readonly maxBytes: number,
    private readonly refreshMessages: number,
    private readonly refreshMs: number,
    /** 'ixp-ipfix': the MAC of the member router in front of a host (6 bytes), and the backends' side. */
    private readonly macs?: { ofHost: (v6: boolean, addr: number) => Uint8Array; backend: Uint8Array },
  ) {
    if (cfg.style === 'ixp-ipfix' && !macs) throw new Error('the ixp-ipfix style needs the fabric MACs');
    this.layouts = dataLayouts(cfg.style);
    this.headerLen = cfg.version === 9 ? 20 : 16;
    this.buf = Buffer.alloc(Math.max(maxBytes, 512) + 64);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    const v9 = cfg.version === 9;
    const pad = (b: Buffer) => (v9 && b.length % 4 ? Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]) : b);
    const set = (id: number, body: Buffer) => {
      const h = Buffer.alloc(4);
      h.writeUInt16BE(id, 0);
      const b = pad(Buffer.concat([h, body]));
      b.writeUInt16BE(b.length, 2);
      return b;
    };
    const specs = (fs: FieldSpec[]) => Buffer.concat(fs.map((f) => Buffer.from([f.id >> 8, f.id & 255, f.length >> 8, f.length & 255])));
    const tmpl = (id: number, fs: FieldSpec[]) => Buffer.concat([Buffer.from([id >> 8, id & 255, fs.length >> 8, fs.length & 255]), specs(fs)]);
    this.templateBytes = set(v9 ? 0 : 2, Buffer.concat([tmpl(TEMPLATE_V4, this.layouts[0].fields), tmpl(TEMPLATE_V6, this.layouts[1].fields)]));
    const opt = optionsOf(cfg);
    const oh = Buffer.alloc(6);
    oh.writeUInt16BE(opt.id, 0);
    if (v9) {
      oh.writeUInt16BE(opt.scope.length * 4, 2);
      oh.writeUInt16BE(opt.fields.length * 4, 4);
    } else {
      oh.writeUInt16BE(opt.scope.length + opt.fields.length, 2);
      oh.writeUInt16BE(opt.scope.length, 4);
    }
    this.optionsTemplateBytes = set(v9 ? 1 : 3, Buffer.concat([oh, specs([...opt.scope, ...opt.fields])]));
    const all = [...opt.scope, ...opt.fields];
    const body = Buffer.alloc(all.reduce((s, f) => s + f.length, 0));
    let p = 0;
    all.forEach((f, i) => {
      let v = BigInt(opt.values[i]!);
      for (let k = f.length - 1; k >= 0; k--) {
        body[p + k] = Number(v & 0xffn);
        v >>= 8n;
      }
      p += f.length;
    });
    this.optionsDataBytes = set(opt.id, body);
  }

  /** Layout of the data templates, for tests and documentation. */
  get templates(): { v4: FieldSpec[]; v6: FieldSpec[] } {
    return { v4: this.layouts[0].fields, v6: this.layouts[1].fields };
  }

  /**
   * Encode the records `order[0..m)` of `store` (sorted by export time) into messages;
   * `emit(tsMs, payload, records)` gets each one (the payload buffer is reused afterwards).
   */
  encode(store: RecordStore, order: Int32Array, m: number, emit: (tsMs: number, payload: Buffer, records: number) => void): void {
    let i = 0;
    const [l4, l6] = this.layouts;
    while (i < m) {
      // One message: records of one export second, as many as fit.
      const sec = Math.ceil(store.exp(order[i]!) / 1000);
      const tsMs = sec * 1000;
      const withTemplates = this.sinceTemplates >= this.refreshMessages || tsMs - this.lastTemplateMs >= this.refreshMs;
      const fixed = this.headerLen + (withTemplates ? this.templateBytes.length + this.optionsTemplateBytes.length + this.optionsDataBytes.length : 0);
      let n4 = 0;
      let n6 = 0;
      let j = i;
      for (; j < m; j++) {
        const r = order[j]!;
        if (Math.ceil(store.exp(r) / 1000) !== sec) break;
        const v6 = (store.flags(r) & FLAG_V6) !== 0;
        const a4 = n4 + (v6 ? 0 : 1);
        const a6 = n6 + (v6 ? 1 : 0);
        const size = fixed + setSize(a4, l4.size, this.cfg.version) + setSize(a6, l6.size, this.cfg.version);
        if (size > this.maxBytes && n4 + n6 > 0) break;
        n4 = a4;
        n6 = a6;
      }
      this.writeMessage(store, order, i, j, n4, n6, tsMs, withTemplates, emit);
      i = j;
    }
  }

  private writeMessage(
    store: RecordStore,
    order: Int32Array,
    from: number,
    to: number,
    n4: number,
    n6: number,
    tsMs: number,
    withTemplates: boolean,
    emit: (tsMs: number, payload: Buffer, records: number) => void,
  ): void {
    const b = this.buf;
    const v9 = this.cfg.version === 9;
    let p = this.headerLen;
    let setsRecords = 0;
    if (withTemplates) {
      p += this.templateBytes.copy(b, p);
      p += this.optionsTemplateBytes.copy(b, p);
      p += this.optionsDataBytes.copy(b, p);
      this.sinceTemplates = 0;
      this.lastTemplateMs = tsMs;
      this.counters.templateMessages++;
      this.counters.optionsRecords++;
      setsRecords += 4; // two templates, one options template, one options record (v9 count)
    }
    let sampled = 0;
    for (let fam = 0; fam <= FLAG_V6; fam += FLAG_V6) {
      const n = fam === 0 ? n4 : n6;
      if (n === 0) continue;
      const tid = fam === 0 ? TEMPLATE_V4 : TEMPLATE_V6;
      const start = p;
      b.writeUInt16BE(tid, p);
      p += 4;
      for (let k = from; k < to; k++) {
        const r = order[k]!;
        if ((store.flags(r) & FLAG_V6) !== fam) continue;
        p = this.writeRecord(store, r, p);
        sampled += store.f64[r * REC_F64 + 3]!;
      }
      if (v9) while ((p - start) % 4) b[p++] = 0;
      b.writeUInt16BE(p - start, start + 2);
    }
    const records = n4 + n6;
    // Header.
    const secs = tsMs / 1000;
    if (v9) {
      b.writeUInt16BE(9, 0);
      b.writeUInt16BE(records + setsRecords, 2);
      b.writeUInt32BE((tsMs - this.cfg.bootMs) >>> 0, 4);
      b.writeUInt32BE(secs >>> 0, 8);
      b.writeUInt32BE(this.seq >>> 0, 12);
      b.writeUInt32BE(this.cfg.domainId >>> 0, 16);
      this.seq++;
    } else {
      b.writeUInt16BE(10, 0);
      b.writeUInt16BE(p, 2);
      b.writeUInt32BE(secs >>> 0, 4);
      // RFC 7011: data records (options records included) sent before this message.
      b.writeUInt32BE(this.seq >>> 0, 8);
      b.writeUInt32BE(this.cfg.domainId >>> 0, 12);
      this.seq += records + (withTemplates ? 1 : 0);
    }
    this.sinceTemplates++;
    this.counters.messages++;
    this.counters.records += records;
    this.counters.sampledPackets += sampled;
    this.counters.bytes += p;
    emit(tsMs, b.subarray(0, p), records);
  }

  /**
   * One record in the style's layout. Hand-written per style (an opcode loop cost a fifth of
   * the generator's time); the field order must match `dataLayouts`, which the decoder
   * round-trip tests check.
   */
  private writeRecord(s: RecordStore, r: number, p: number): number {
    const b = this.buf;
    const v = this.view;
    const F = s.f64;
    const o = r * REC_F64;
    const U = s.u32;
    const q = r * REC_U32;
    const misc = U[q + U_MISC]!;
    const down = (misc & FLAG_DOWN) !== 0;
    const v6 = (misc & FLAG_V6) !== 0;
    const proto = (misc >>> 8) & 255;
    const tcp = (misc >>> 16) & 255;
    const reason = misc >>> 24;
    const sub = U[q + U_SUB]!;
    const svc = U[q + U_SVC]!;
    const ports = U[q + U_PORTS]!;
    const subPort = ports >>> 16;
    const svcPort = ports & 0xffff;
    const start = F[o + 1]!;
    const end = F[o + 2]!;
    const pkts = F[o + 3]!;
    const bytes = F[o + 4]!;
    const src = down ? svc : sub;
    const dst = down ? sub : svc;
    const sport = down ? svcPort : subPort;
    const dport = down ? subPort : svcPort;
    const inIf = down ? 2 : 1;
    const outIf = down ? 1 : 2;
    switch (this.cfg.style) {
      case 'pmacct-v9':
        p = u64v(v, p, end);
        p = u64v(v, p, start);
        p = u64v(v, p, bytes);
        p = u64v(v, p, pkts);
        b[p++] = v6 ? 6 : 4;
        p = u32v(v, p, inIf);
        p = u32v(v, p, outIf);
        b[p++] = 0;
        p = this.addr(p, v6, src);
        p = this.addr(p, v6, dst);
        p = u16v(v, p, sport);
        p = u16v(v, p, dport);
        b[p++] = 0;
        b[p++] = tcp;
        b[p++] = proto;
        b[p++] = this.cfg.samplerId & 255;
        return p;
      case 'softflowd-v9':
      case 'softflowd-ipfix': {
        const boot = this.cfg.bootMs;
        p = this.addr(p, v6, src);
        p = this.addr(p, v6, dst);
        p = u32v(v, p, start - boot);
        p = u32v(v, p, end - boot);
        p = u32v(v, p, bytes);
        p = u32v(v, p, pkts);
        p = u32v(v, p, inIf);
        p = u32v(v, p, outIf);
        b[p++] = 0;
        b[p++] = reason;
        p = u16v(v, p, sport);
        p = u16v(v, p, dport);
        b[p++] = proto;
        b[p++] = tcp;
        b[p++] = v6 ? 6 : 4;
        b[p++] = 0;
        return p;
      }
      case 'ipfix-selector':
      case 'ixp-ipfix': {
        p = u64v(v, p, start);
        p = u64v(v, p, end);
        p = this.addr(p, v6, src);
        p = this.addr(p, v6, dst);
        p = u16v(v, p, sport);
        p = u16v(v, p, dport);
        b[p++] = proto;
        b[p++] = tcp;
        p = u64v(v, p, pkts);
        p = u64v(v, p, bytes);
        p = u32v(v, p, inIf);
        p = u32v(v, p, outIf);
        p = u32v(v, p, this.cfg.samplerId);
        b[p++] = reason;
        if (this.cfg.style === 'ipfix-selector') return p;
        // The exchange's fabric: the member routers' MACs on the frame (host side, backends' side).
        const host = this.macs!.ofHost(v6, sub);
        const backend = this.macs!.backend;
        b.set(down ? backend : host, p);
        b.set(down ? host : backend, p + 6);
        return p + 12;
      }
    }
  }

  private addr(p: number, v6: boolean, a: number): number {
    const b = this.buf;
    if (!v6) {
      this.view.setUint32(p, a);
      return p + 4;
    }
    const t = this.v6.bytes;
    const o = a * 16;
    for (let i = 0; i < 16; i++) b[p + i] = t[o + i]!;
    return p + 16;
  }
}

function setSize(n: number, recLen: number, version: 9 | 10): number {
  if (n === 0) return 0;
  const raw = 4 + n * recLen;
  return version === 9 ? (raw + 3) & ~3 : raw;
}

function u16v(v: DataView, p: number, x: number): number {
  v.setUint16(p, x);
  return p + 2;
}

function u32v(v: DataView, p: number, x: number): number {
  v.setUint32(p, x >>> 0);
  return p + 4;
}

function u64v(v: DataView, p: number, x: number): number {
  v.setUint32(p, Math.floor(x / 4294967296) >>> 0);
  v.setUint32(p + 4, x >>> 0);
  return p + 8;
}
