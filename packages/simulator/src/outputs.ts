import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { PcapWriter, parseIp } from '@haystack/pcap';
import type { ExporterConfig } from './export.js';

/** Where export datagrams go. `payload` is only valid during the call. */
export interface PacketSink {
  packet(tsMs: number, exporter: ExporterConfig, payload: Buffer, records: number): Promise<void> | void;
  close(): Promise<void>;
}

/** The collector the pcap shows the exporters sending to. */
export const COLLECTOR = '192.0.2.100';
export const collectorPort = (version: 9 | 10): number => (version === 9 ? 2055 : 4739);

/** Export datagrams into a pcap file (Ethernet/IPv4/UDP, timestamps = export times). */
export class PcapSink implements PacketSink {
  private pending = 0;
  /** Addresses as bytes, parsed once (text would be parsed again for every datagram). */
  private readonly src = new Map<string, Uint8Array>();
  private readonly dst = parseIp(COLLECTOR);
  private constructor(private readonly w: PcapWriter) {}

  static async create(path: string): Promise<PcapSink> {
    return new PcapSink(await PcapWriter.create(path));
  }

  packet(tsMs: number, e: ExporterConfig, payload: Buffer): Promise<void> | void {
    let src = this.src.get(e.address);
    if (!src) this.src.set(e.address, (src = parseIp(e.address)));
    const p = this.w.writeUdp({ tsMs, src, srcPort: e.port, dst: this.dst, dstPort: collectorPort(e.version), payload });
    // The writer chains its file writes; wait now and then so buffers do not pile up.
    if (++this.pending >= 512) {
      this.pending = 0;
      return p;
    }
  }

  get bytes(): number {
    return this.w.bytes;
  }

  close(): Promise<void> {
    return this.w.close();
  }
}

/** Discards datagrams, counting them: the generator's own speed. */
export class NullSink implements PacketSink {
  packets = 0;
  bytes = 0;
  records = 0;
  packet(_ts: number, _e: ExporterConfig, payload: Buffer, records: number): void {
    this.packets++;
    this.bytes += payload.length;
    this.records += records;
  }
  async close(): Promise<void> {}
}

export function isLoopback(host: string): boolean {
  return (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
}

/**
 * Sends export datagrams over UDP to a collector on this machine at a target rate of flow
 * records per second. Each exporter sends from its own loopback address (127.0.0.2, .3, …), so
 * the collector tells them apart as it would tell routers apart. Loopback only: the
 * simulator is a load generator, not something to point at other people's networks.
 */
export class UdpSink implements PacketSink {
  private readonly sockets = new Map<number, Socket>();
  private started = 0;
  private sent = 0;
  datagrams = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    /** Flow records per second; 0 = as fast as the socket takes them. */
    private readonly rate: number,
  ) {
    if (!isLoopback(host))
      throw Object.assign(new Error(`--udp sends to this machine only (127.0.0.0/8 or ::1), not ${host}`), { userFacing: true, exitCode: 2 });
  }

  private async socket(e: ExporterConfig): Promise<Socket> {
    let s = this.sockets.get(e.index);
    if (s) return s;
    const v6 = this.host.includes(':');
    s = createSocket(v6 ? 'udp6' : 'udp4');
    const sock = s;
    await new Promise<void>((res, rej) => {
      sock.once('error', rej);
      sock.bind({ address: v6 ? '::1' : `127.0.0.${2 + e.index}`, port: 0 }, () => {
        sock.off('error', rej);
        res();
      });
    });
    this.sockets.set(e.index, s);
    return s;
  }

  async packet(_ts: number, e: ExporterConfig, payload: Buffer, records: number): Promise<void> {
    const s = await this.socket(e);
    if (this.started === 0) this.started = performance.now();
    const copy = Buffer.from(payload);
    await new Promise<void>((res, rej) => s.send(copy, this.port, this.host, (err) => (err ? rej(err) : res())));
    this.datagrams++;
    this.sent += records;
    if (this.rate > 0) {
      const ahead = (this.sent / this.rate) * 1000 - (performance.now() - this.started);
      if (ahead > 2) await sleep(ahead);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.sockets.values()].map((s) => new Promise<void>((res) => s.close(() => res()))));
  }
}
