import { formatAddress } from '@haystack/common';
import { buildFrame, buildSflowDatagram, type SampleSpec } from '@haystack/decoders';
import { writeMemberExport, type Member } from '@haystack/ixp';
import { v4ToText, type V6Table } from './addr.js';
import type { ExportCounters, ExporterConfig } from './export.js';
import type { Lines, TruthRow } from './population.js';
import { FLAG_DOWN, FLAG_V6, REC_F64, REC_U32, U_MISC, U_PORTS, U_SUB, U_SVC, type RecordStore } from './records.js';

/**
 * The simulated internet exchange: the ISP's lines become hosts behind `members` access
 * networks (contiguous slices of the lines, each a member with its own AS number, name and
 * router MACs), every service address sits behind one cloud/hosting member, and the fabric
 * exports sFlow: each packet the 1:N sampler takes becomes a flow sample whose raw header
 * carries the member routers' MACs (or IPFIX with MAC fields: export.ts 'ixp-ipfix').
 * Published as an IX-F member export and a prefix2as table.
 */
export interface Fabric {
  members: Member[];
  cloud: Member;
  /** Member index of each line. */
  memberOfLine: Int32Array;
  /** Line IPv4 address → member index; IPv6 /64 (first 8 bytes, hex) → member index. */
  byV4: Map<number, number>;
  byV6: Map<string, number>;
}

const mac = (a: number, b: number) =>
  `02:${a.toString(16).padStart(2, '0')}:00:00:${(b >> 8).toString(16).padStart(2, '0')}:${(b & 255).toString(16).padStart(2, '0')}`;

export function buildFabric(lines: Lines, count: number): Fabric {
  const members: Member[] = [];
  for (let k = 0; k < count; k++)
    members.push({ asn: 65001 + k, name: `Member ${k + 1} Broadband`, macs: [mac(0x10, k), mac(0x11, k)], addresses: [`192.0.2.${k + 1}`] });
  const cloud: Member = { asn: 64999, name: 'Cloud & Hosting', macs: [mac(0x90, 1)], addresses: ['192.0.2.250'] };
  const memberOfLine = new Int32Array(lines.count);
  const byV4 = new Map<number, number>();
  const byV6 = new Map<string, number>();
  for (let i = 0; i < lines.count; i++) {
    const m = Math.floor((i * count) / lines.count);
    memberOfLine[i] = m;
    byV4.set(lines.v4[i]!, m);
    if (lines.has6[i]) byV6.set(Buffer.from(lines.prefix6.subarray(i * 8, i * 8 + 8)).toString('hex'), m);
  }
  return { members, cloud, memberOfLine, byV4, byV6 };
}

const macBytes = (text: string): Uint8Array => Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
/** The MAC a frame from a host outside every member carries (the detector counts it unattributed by MAC). */
const STRAY_MAC = '02:ee:00:00:00:01';

/** The member router MAC in front of a host address (the generator's address ids), for the IPFIX fabric export. */
export function fabricMacs(f: Fabric, v6: V6Table): { ofHost: (isV6: boolean, addr: number) => Uint8Array; backend: Uint8Array } {
  const member = f.members.map((m) => macBytes(m.macs[0]!));
  const stray = macBytes(STRAY_MAC);
  return {
    ofHost: (isV6, a) => {
      const m = isV6 ? f.byV6.get(Buffer.from(v6.bytes.subarray(a * 16, a * 16 + 8)).toString('hex')) : f.byV4.get(a);
      return m === undefined ? stray : member[m]!;
    },
    backend: macBytes(f.cloud.macs[0]!),
  };
}

/** The IX-F member export the IXP would publish. */
export function fabricMemberExport(f: Fabric): string {
  return `${JSON.stringify(writeMemberExport('SIM-IX', [...f.members, f.cloud]), null, 2)}\n`;
}

/** CAIDA prefix2as lines for the members' /24s (the route-table fallback). */
export function fabricRoutes(f: Fabric, lines: Lines): string {
  const seen = new Map<number, number>();
  for (let i = 0; i < lines.count; i++) {
    const net = lines.v4[i]! & 0xffffff00;
    if (!seen.has(net)) seen.set(net, f.members[f.memberOfLine[i]!]!.asn);
  }
  return [...seen].map(([net, asn]) => `${v4ToText(net)}\t24\t${asn}`).join('\n') + '\n';
}

/** Ground truth per member: hosts (an IPv4 address or an IPv6 /64, as the detector counts them) with each class. */
export function memberTruthCsv(f: Fabric, truth: TruthRow[]): string {
  const hosts = new Map<string, Set<string>>();
  for (const r of truth) {
    const key = `${f.members[f.memberOfLine[r.subscriber]!]!.asn},${r.class}`;
    if (!hosts.has(key)) hosts.set(key, new Set());
    hosts.get(key)!.add(`${r.subscriber}/${r.family}`);
  }
  return (
    'member_asn,class_id,hosts\n' +
    [...hosts]
      .map(([k, s]) => `${k},${s.size}`)
      .sort()
      .join('\n') +
    '\n'
  );
}

/**
 * The fabric's sFlow agent for one exporter slice: the same interface as the NetFlow/IPFIX
 * exporter (records of the flow cache in export order in, datagrams out), one flow sample per
 * sampled packet.
 */
export class SflowFabricExporter {
  readonly counters: ExportCounters = { messages: 0, records: 0, optionsRecords: 0, templateMessages: 0, sampledPackets: 0, bytes: 0 };
  private seq = 0;
  /** Sample sequence numbers count per data source (sFlow v5: per source_id), here the two fabric ports. */
  private readonly sampleSeq = [0, 0, 0];

  constructor(
    readonly cfg: ExporterConfig,
    private readonly v6: V6Table,
    private readonly fabric: Fabric,
  ) {}

  private text(v6: boolean, a: number): string {
    return v6 ? formatAddress(this.v6.bytes.subarray(a * 16, a * 16 + 16)) : v4ToText(a);
  }

  private memberMac(v6: boolean, a: number): string {
    const f = this.fabric;
    const m = v6 ? f.byV6.get(Buffer.from(this.v6.bytes.subarray(a * 16, a * 16 + 8)).toString('hex')) : f.byV4.get(a);
    return m === undefined ? STRAY_MAC : f.members[m]!.macs[0]!;
  }

  encode(store: RecordStore, order: Int32Array, m: number, emit: (tsMs: number, payload: Buffer, records: number) => void): void {
    const cloudMac = this.fabric.cloud.macs[0]!;
    let samples: SampleSpec[] = [];
    let sec = -1;
    const flush = () => {
      if (!samples.length) return;
      const payload = buildSflowDatagram({
        agent: this.cfg.address,
        subAgent: this.cfg.domainId,
        sequence: ++this.seq,
        uptimeMs: sec * 1000 - this.cfg.bootMs,
        samples,
      });
      this.counters.messages++;
      this.counters.bytes += payload.length;
      emit(sec * 1000, payload, samples.length);
      samples = [];
    };
    for (let i = 0; i < m; i++) {
      const r = order[i]!;
      const F = store.f64;
      const U = store.u32;
      const q = r * REC_U32;
      const misc = U[q + U_MISC]!;
      const down = (misc & FLAG_DOWN) !== 0;
      const v6 = (misc & FLAG_V6) !== 0;
      const s = Math.ceil(store.exp(r) / 1000);
      if (s !== sec) {
        flush();
        sec = s;
      }
      const pkts = Math.round(F[r * REC_F64 + 3]!);
      const bytes = F[r * REC_F64 + 4]!;
      const sub = U[q + U_SUB]!;
      const svc = U[q + U_SVC]!;
      const ports = U[q + U_PORTS]!;
      const subText = this.text(v6, sub);
      const svcText = this.text(v6, svc);
      const subMac = this.memberMac(v6, sub);
      const frame = buildFrame({
        srcMac: down ? cloudMac : subMac,
        dstMac: down ? subMac : cloudMac,
        src: down ? svcText : subText,
        dst: down ? subText : svcText,
        proto: (misc >>> 8) & 255,
        srcPort: down ? ports & 0xffff : ports >>> 16,
        dstPort: down ? ports >>> 16 : ports & 0xffff,
        tcpFlags: (misc >>> 16) & 255,
      });
      const frameLength = Math.max(64, Math.round(bytes / Math.max(1, pkts)) + 18);
      const source = down ? 2 : 1;
      for (let k = 0; k < pkts; k++) {
        samples.push({
          kind: 'flow',
          sequence: ++this.sampleSeq[source]!,
          sourceIndex: source,
          rate: this.cfg.sampling,
          input: down ? 2 : 1,
          output: down ? 1 : 2,
          records: [{ kind: 'header', frameLength, header: frame.subarray(0, 128) }],
        });
        this.counters.records++;
        this.counters.sampledPackets++;
        if (samples.length >= 6) flush();
      }
    }
    flush();
  }
}
