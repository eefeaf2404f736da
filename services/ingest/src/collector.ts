import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { PrefixSet, parseAddress, type Logger } from '@haystack/common';
import { BatchWriter } from '@haystack/flow-core';
import type { FlowDecoder } from '@haystack/decoders';
import type { Publisher } from './publisher.js';
import type { TemplateStore } from './template-store.js';
import type { HealthReporter } from './health.js';

export interface CollectorOptions {
  decoder: FlowDecoder;
  publisher: Publisher;
  log: Logger;
  bind: string;
  /** Ports to listen on (NetFlow 2055, IPFIX 4739 by default; 0 = any free port). Every port accepts every version. */
  ports: number[];
  receiveBufferBytes: number;
  /** Exporter allowlist (CIDRs); empty = everyone. */
  allowExporters: string[];
  /** Publish staged records at least this often. */
  maxDelayMs: number;
  templateStore?: TemplateStore | null;
  templateFlushMs?: number;
  /** Publishes exporter health snapshots beside the flows (null: none). */
  health?: HealthReporter | null;
  healthIntervalMs?: number;
}

/**
 * The UDP collector: datagrams → decoder → publisher, on the event loop thread.
 * Datagrams are decoded as they arrive; records are published per partition when a
 * partition's batch is full or every `maxDelayMs`.
 */
export class Collector {
  private sockets: dgram.Socket[] = [];
  private readonly writer = new BatchWriter(256);
  private readonly allow: PrefixSet | null;
  private readonly scratch = new Uint8Array(16);
  private timer: NodeJS.Timeout | null = null;
  private persistTimer: NodeJS.Timeout | null = null;
  private savedGeneration = -1;
  private savedSeen = -1;
  private lastHealthAt = 0;
  refused = 0;
  private readonly refusedSeen = new Set<string>();
  private readonly o: CollectorOptions;

  constructor(opts: CollectorOptions) {
    this.o = opts;
    this.allow = opts.allowExporters.length ? new PrefixSet(opts.allowExporters) : null;
  }

  /** Load persisted templates, bind the sockets. Returns the bound ports. */
  async start(): Promise<number[]> {
    const { log, templateStore } = this.o;
    if (templateStore) {
      try {
        const snap = await templateStore.load();
        if (snap) {
          const n = this.o.decoder.registry.restore(snap, (t) => parseAddress(t));
          log.info({ templates: n, from: templateStore.description }, 'restored exporter templates');
        }
      } catch (err) {
        log.warn({ err, from: templateStore.description }, 'could not restore templates; starting without them');
      }
      this.savedGeneration = this.o.decoder.registry.generation;
    }
    const ports: number[] = [];
    for (const port of this.o.ports) ports.push(await this.listen(port));
    this.lastHealthAt = Date.now();
    let ticks = 0;
    const sweepEvery = Math.max(1, Math.round(10_000 / this.o.maxDelayMs));
    this.timer = setInterval(() => {
      this.o.publisher.flush();
      if (++ticks % sweepEvery === 0) this.o.decoder.sweep();
      void this.maybeReportHealth(Date.now());
    }, this.o.maxDelayMs);
    this.timer.unref();
    if (templateStore) {
      this.persistTimer = setInterval(() => void this.persist(), this.o.templateFlushMs ?? 5000);
      this.persistTimer.unref();
    }
    return ports;
  }

  get boundPorts(): { port: number; family: 4 | 6 }[] {
    return this.sockets.map((s) => ({ port: s.address().port, family: s.address().family === 'IPv6' ? 6 : 4 }));
  }

  private listen(port: number): Promise<number> {
    const type = isIP(this.o.bind) === 6 ? 'udp6' : 'udp4';
    const sock = dgram.createSocket({ type, reuseAddr: false, recvBufferSize: this.o.receiveBufferBytes });
    sock.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address));
    return new Promise((resolve, reject) => {
      // A bind failure (port in use) is the caller's to report, once; later socket errors are logged.
      sock.once('error', reject);
      sock.bind(port, this.o.bind, () => {
        sock.off('error', reject);
        sock.on('error', (err) => this.o.log.error({ err, port }, 'UDP socket error'));
        try {
          sock.setRecvBufferSize(this.o.receiveBufferBytes);
        } catch {
          /* the kernel caps it at net.core.rmem_max; we report what we got below */
        }
        const got = sock.getRecvBufferSize();
        const bound = sock.address().port;
        this.o.log.info({ bind: this.o.bind, port: bound, receiveBuffer: got }, 'collector listening');
        if (got < this.o.receiveBufferBytes)
          this.o.log.warn({ asked: this.o.receiveBufferBytes, got }, 'receive buffer smaller than configured: raise net.core.rmem_max');
        this.sockets.push(sock);
        resolve(bound);
      });
    });
  }

  /** One datagram. Public so replay and tests drive the very same path. */
  onMessage(msg: Buffer, address: string, receivedMs = Date.now()): void {
    if (this.allow) {
      let ok: boolean;
      try {
        ok = this.allow.contains(parseAddress(address, this.scratch));
      } catch {
        ok = false;
      }
      if (!ok) {
        this.refused++;
        if (!this.refusedSeen.has(address) && this.refusedSeen.size < 1000) {
          this.refusedSeen.add(address);
          this.o.log.warn({ exporter: address }, 'datagram from an exporter outside the allowlist (logged once per address)');
        }
        return;
      }
    }
    this.o.decoder.decode(msg, address, receivedMs, this.writer);
    if (this.writer.count > 0) this.o.publisher.add(this.writer);
  }

  /** The decoder (its registry holds per-exporter counters, also for archive replays). */
  get decoder(): FlowDecoder {
    return this.o.decoder;
  }

  /** Arrival time of the latest datagram. */
  get lastReceived(): number {
    return this.o.decoder.lastReceived;
  }

  /** Decoder housekeeping: expire held sets, forget silent domains. */
  sweep(): void {
    this.o.decoder.sweep();
  }

  /** Publish a health snapshot when `healthIntervalMs` has passed (on the clock given: capture time in replays). */
  async maybeReportHealth(nowMs: number, force = false): Promise<void> {
    const h = this.o.health;
    if (!h) return;
    if (!force && nowMs - this.lastHealthAt < (this.o.healthIntervalMs ?? 60_000)) return;
    this.lastHealthAt = nowMs;
    try {
      await this.o.publisher.drain(); // flows first: the snapshot describes what was published
      const s = await h.report(nowMs);
      // Losses are logged as they are reported: at most once per health interval per domain.
      for (const d of s?.domains ?? [])
        if (d.lost > 0 || d.sequenceGaps > 0)
          this.o.log.warn(
            { exporter: d.exporter, version: d.version, domain: d.domain, lost: d.lost, sequenceGaps: d.sequenceGaps, intervalMs: s!.intervalMs },
            `${d.lost} ${d.version === 9 ? 'packets' : 'records'} lost between exporter and collector`,
          );
    } catch (err) {
      this.o.log.error({ err }, 'could not publish an ingest health snapshot');
    }
  }

  async persist(): Promise<void> {
    const store = this.o.templateStore;
    if (!store) return;
    // Templates when they change, sequence numbers whenever traffic arrived since the last save.
    const g = this.o.decoder.registry.generation;
    const seen = this.o.decoder.lastReceived;
    if (g === this.savedGeneration && seen === this.savedSeen) return;
    try {
      await store.save(this.o.decoder.registry.snapshot());
      this.savedGeneration = g;
      this.savedSeen = seen;
    } catch (err) {
      this.o.log.error({ err, to: store.description }, 'could not persist templates');
    }
  }

  /** Close sockets, publish what is staged, save templates. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.persistTimer) clearInterval(this.persistTimer);
    await Promise.all(this.sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.sockets = [];
    await this.o.publisher.drain();
    await this.maybeReportHealth(Math.max(Date.now(), this.o.decoder.lastReceived), true);
    await this.persist();
  }
}
