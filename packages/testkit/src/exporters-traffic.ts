// Deterministic synthetic traffic for exporter tests: many IPv4/IPv6 hosts, TCP connections
// with handshake and teardown flags, UDP request/response exchanges and ICMP echoes, with
// varied packet counts and sizes over a span of minutes. Same seed → same bytes.
import { PcapWriter, buildIcmpPacket, buildTcpPacket, buildUdpPacket, TcpFlags, LinkType, formatIp, parseIp } from '@haystack/pcap';
import { seededRandom } from '@haystack/common';

export interface TrafficOptions {
  /** PRNG seed (default 1). */
  seed?: number;
  /** Number of bidirectional conversations (default 300). */
  flows?: number;
  /** Client hosts per address family (default 40 IPv4 in 10.1.0.0/16, 20 IPv6 in 2001:db8:1::/48). */
  ipv4Hosts?: number;
  ipv6Hosts?: number;
  /** Share of IPv6 conversations, 0..1 (default 0.3). */
  ipv6Share?: number;
  /** First packet time, Unix ms (default 2024-03-01T12:00:00Z). */
  startMs?: number;
  /** Span of conversation start times, ms (default 5 minutes). */
  durationMs?: number;
  /** Largest packet count of one direction of a conversation (default 120). */
  maxPackets?: number;
}

/** Packet/byte totals; bytes are IP bytes (IP header included), what NetFlow reports as octets. */
export interface Totals {
  packets: number;
  bytes: number;
}

/** One direction of a conversation, i.e. what a unidirectional flow record should describe. */
export interface TrafficFlow {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  protocol: number;
  packets: number;
  bytes: number;
  /** OR of the TCP flags sent in this direction (0 for UDP/ICMP). */
  tcpFlags: number;
  /** Smallest and largest IP packet of this direction. */
  minPacketBytes: number;
  maxPacketBytes: number;
  firstMs: number;
  lastMs: number;
  /**
   * First/last packet time of the bidirectional conversation (this direction and its reverse
   * 5-tuple). softflowd and pmacct's nfprobe track a conversation as one flow and export the same
   * start/end times in the records of both directions, so these are the times to expect.
   */
  conversationFirstMs: number;
  conversationLastMs: number;
}

export interface TrafficSummary extends Totals {
  path: string;
  /** Conversations generated (each gives two directional flows, except single-packet ICMP). */
  conversations: number;
  /** Directional flows, keyed as the exporters key them (5-tuple). */
  flows: TrafficFlow[];
  byProtocol: Record<'tcp' | 'udp' | 'icmp', Totals>;
  byFamily: Record<'ipv4' | 'ipv6', Totals>;
  firstMs: number;
  lastMs: number;
  /** IP length of every packet, in file order (index 0 = frame 1). */
  packetSizes: Uint32Array;
}

/**
 * Totals of the packets a systematic 1-in-n sampler keeps when it takes frames
 * phase+1, phase+1+n, ... (softflowd -s n keeps frames 1, n+1, 2n+1, ...: phase 0).
 */
export function systematicSample(summary: Pick<TrafficSummary, 'packetSizes'>, n: number, phase = 0): Totals {
  let packets = 0;
  let bytes = 0;
  for (let i = phase; i < summary.packetSizes.length; i += n) {
    packets++;
    bytes += summary.packetSizes[i]!;
  }
  return { packets, bytes };
}

export { seededRandom };

interface Pkt {
  ts: number;
  /** Tie-breaker so equal timestamps keep generation order (stable, deterministic). */
  seq: number;
  ip: Buffer;
}

const SERVICE_PORTS_TCP = [443, 80, 8883, 1883, 5223, 8080];
const SERVICE_PORTS_UDP = [53, 123, 443, 5683, 3478];

/**
 * Writes a deterministic capture (Ethernet, microsecond pcap) of synthetic traffic and returns
 * what it contains, so tests can compare exporter output with ground truth.
 */
export async function makeTrafficPcap(path: string, opts: TrafficOptions = {}): Promise<TrafficSummary> {
  const rnd = seededRandom(opts.seed ?? 1);
  const nFlows = opts.flows ?? 300;
  const n4 = opts.ipv4Hosts ?? 40;
  const n6 = opts.ipv6Hosts ?? 20;
  const v6Share = opts.ipv6Share ?? 0.3;
  const start = opts.startMs ?? Date.UTC(2024, 2, 1, 12, 0, 0);
  const span = opts.durationMs ?? 5 * 60_000;
  const maxPk = opts.maxPackets ?? 120;
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  // Heavy-tailed packet counts: most conversations are short, a few are long.
  const count = () => Math.max(1, Math.min(maxPk, Math.floor(Math.exp(rnd() * Math.log(maxPk)))));

  // Addresses in canonical text (RFC 5952, as tshark prints them) so flows compare as strings.
  const canon = (a: string) => formatIp(parseIp(a));
  const v4Client = (i: number) => `10.1.${1 + (i >> 8)}.${1 + ((i & 0xff) % 254)}`;
  const v6Client = (i: number) => canon(`2001:db8:1:${(i % 16).toString(16)}::${(i + 1).toString(16)}`);
  const v4Server = () => `198.51.100.${int(1, 254)}`;
  const v6Server = () => canon(`2001:db8:ff::${int(1, 0xfff).toString(16)}`);

  const pkts: Pkt[] = [];
  const flows = new Map<string, TrafficFlow>();
  let seq = 0;
  const add = (ts: number, ip: Buffer, f: Pick<TrafficFlow, 'src' | 'dst' | 'srcPort' | 'dstPort' | 'protocol'>, flags = 0) => {
    // Whole microseconds: the pcap stores µs, so ground truth uses what the file will say.
    ts = Math.round(ts * 1000) / 1000;
    pkts.push({ ts, seq: seq++, ip });
    const key = `${f.protocol}|${f.src}|${f.srcPort}|${f.dst}|${f.dstPort}`;
    let fl = flows.get(key);
    if (!fl) {
      fl = {
        ...f,
        packets: 0,
        bytes: 0,
        tcpFlags: 0,
        minPacketBytes: ip.length,
        maxPacketBytes: ip.length,
        firstMs: ts,
        lastMs: ts,
        conversationFirstMs: ts,
        conversationLastMs: ts,
      };
      flows.set(key, fl);
    }
    fl.packets++;
    fl.bytes += ip.length;
    fl.tcpFlags |= flags;
    fl.minPacketBytes = Math.min(fl.minPacketBytes, ip.length);
    fl.maxPacketBytes = Math.max(fl.maxPacketBytes, ip.length);
    fl.firstMs = Math.min(fl.firstMs, ts);
    fl.lastMs = Math.max(fl.lastMs, ts);
  };
  const usedPorts = new Set<string>();

  for (let c = 0; c < nFlows; c++) {
    const v6 = rnd() < v6Share;
    const client = v6 ? v6Client(int(0, n6 - 1)) : v4Client(int(0, n4 - 1));
    const server = v6 ? v6Server() : v4Server();
    const r = rnd();
    const proto = r < 0.55 ? 'tcp' : r < 0.88 ? 'udp' : 'icmp';
    let t = start + rnd() * span;
    const gap = () => (t += 0.05 + rnd() * rnd() * 2000);
    // A client port never reused with the same server, so each conversation is its own flow.
    let cport = int(20000, 60999);
    while (usedPorts.has(`${client}|${cport}`)) cport++;
    usedPorts.add(`${client}|${cport}`);
    const ttl = int(32, 128);
    if (proto === 'tcp') {
      const sport = pick(SERVICE_PORTS_TCP);
      const up = { src: client, dst: server, srcPort: cport, dstPort: sport, protocol: 6 };
      const down = { src: server, dst: client, srcPort: sport, dstPort: cport, protocol: 6 };
      let cseq = int(0, 0x7fffffff);
      let sseq = int(0, 0x7fffffff);
      const tcp = (dir: 'up' | 'down', flags: number, len: number) => {
        const f = dir === 'up' ? up : down;
        const ip = buildTcpPacket({
          ...f,
          ttl,
          id: seq & 0xffff,
          seq: dir === 'up' ? cseq : sseq,
          ack: dir === 'up' ? sseq : cseq,
          flags,
          payload: Buffer.alloc(len, seq & 0xff),
        });
        if (dir === 'up') cseq = (cseq + len + (flags & (TcpFlags.SYN | TcpFlags.FIN) ? 1 : 0)) >>> 0;
        else sseq = (sseq + len + (flags & (TcpFlags.SYN | TcpFlags.FIN) ? 1 : 0)) >>> 0;
        add(t, ip, f, flags);
      };
      tcp('up', TcpFlags.SYN, 0);
      gap();
      tcp('down', TcpFlags.SYN | TcpFlags.ACK, 0);
      gap();
      tcp('up', TcpFlags.ACK, 0);
      const nUp = count();
      const nDown = count();
      for (let i = 0, j = 0; i < nUp || j < nDown;) {
        gap();
        if (j >= nDown || (i < nUp && rnd() < 0.5)) {
          tcp('up', TcpFlags.ACK | TcpFlags.PSH, int(1, 1400));
          i++;
        } else {
          tcp('down', TcpFlags.ACK | (rnd() < 0.5 ? TcpFlags.PSH : 0), int(0, 1460));
          j++;
        }
      }
      gap();
      tcp('up', TcpFlags.FIN | TcpFlags.ACK, 0);
      gap();
      tcp('down', TcpFlags.FIN | TcpFlags.ACK, 0);
      gap();
      tcp('up', TcpFlags.ACK, 0);
    } else if (proto === 'udp') {
      const sport = pick(SERVICE_PORTS_UDP);
      const up = { src: client, dst: server, srcPort: cport, dstPort: sport, protocol: 17 };
      const down = { src: server, dst: client, srcPort: sport, dstPort: cport, protocol: 17 };
      const n = count();
      for (let i = 0; i < n; i++) {
        add(t, buildUdpPacket({ ...up, ttl, payload: Buffer.alloc(int(0, 1200), i) }), up);
        gap();
        if (rnd() < 0.8) {
          add(t, buildUdpPacket({ ...down, ttl, payload: Buffer.alloc(int(20, 1400), i) }), down);
          gap();
        }
      }
    } else {
      // Echo identifier doubles as the "port" exporters key ICMP flows on (type/code in dstPort).
      const ident = cport & 0xffff;
      const n = count();
      const reqType = v6 ? 128 : 8;
      const repType = v6 ? 129 : 0;
      const proto = v6 ? 58 : 1;
      const up = { src: client, dst: server, srcPort: 0, dstPort: reqType << 8, protocol: proto };
      const down = { src: server, dst: client, srcPort: 0, dstPort: repType << 8, protocol: proto };
      for (let i = 0; i < n; i++) {
        const size = int(0, 1000);
        add(t, buildIcmpPacket({ src: client, dst: server, ttl, type: reqType, rest: (ident << 16) | i, payload: Buffer.alloc(size, i) }), up);
        gap();
        if (rnd() < 0.9) {
          add(t, buildIcmpPacket({ src: server, dst: client, ttl: 64, type: repType, rest: (ident << 16) | i, payload: Buffer.alloc(size, i) }), down);
          gap();
        }
      }
    }
  }

  for (const fl of flows.values()) {
    const rev = flows.get(`${fl.protocol}|${fl.dst}|${fl.dstPort}|${fl.src}|${fl.srcPort}`);
    fl.conversationFirstMs = Math.min(fl.firstMs, rev?.firstMs ?? Infinity);
    fl.conversationLastMs = Math.max(fl.lastMs, rev?.lastMs ?? -Infinity);
  }
  pkts.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  const w = await PcapWriter.create(path, { linkType: LinkType.ETHERNET });
  const totals = { packets: 0, bytes: 0 };
  const byProtocol = { tcp: { packets: 0, bytes: 0 }, udp: { packets: 0, bytes: 0 }, icmp: { packets: 0, bytes: 0 } };
  const byFamily = { ipv4: { packets: 0, bytes: 0 }, ipv6: { packets: 0, bytes: 0 } };
  const packetSizes = new Uint32Array(pkts.length);
  try {
    for (const p of pkts) {
      packetSizes[totals.packets] = p.ip.length;
      await w.writeIp(p.ts, p.ip);
      const v6 = p.ip[0]! >> 4 === 6;
      const proto = v6 ? p.ip[6]! : p.ip[9]!;
      const tot = proto === 6 ? byProtocol.tcp : proto === 17 ? byProtocol.udp : byProtocol.icmp;
      const fam = v6 ? byFamily.ipv6 : byFamily.ipv4;
      for (const o of [totals, tot, fam]) {
        o.packets++;
        o.bytes += p.ip.length;
      }
    }
  } finally {
    await w.close();
  }
  return {
    path,
    ...totals,
    conversations: nFlows,
    flows: [...flows.values()],
    byProtocol,
    byFamily,
    firstMs: pkts.length ? pkts[0]!.ts : start,
    lastMs: pkts.length ? pkts[pkts.length - 1]!.ts : start,
    packetSizes,
  };
}
