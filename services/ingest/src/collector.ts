import { ConfigError, PrefixSet, parseAddress, type Logger } from '@haystack/common';
import { BatchWriter, lossUnit, type DomainHealth, type HealthSnapshot } from '@haystack/flow-core';
import {
  TemplateRegistry,
  restoreSequenceCheckpoint,
  takeSequenceCheckpoint,
  type DomainSnapshot,
  type DomainState,
  type FlowDecoder,
} from '@haystack/decoders';
import type { Publisher } from './publisher.js';
import type { TemplateShare, TemplateStore } from './template-store.js';
import type { HealthReporter } from './health.js';
import { batchReceiveAvailable, openUdpReceiver, type ReceiveMode, type UdpReceiver } from '@haystack/udp-receive';

export interface CollectorOptions {
  decoder: FlowDecoder;
  publisher: Publisher;
  log: Logger;
  bind: string;
  /** Ports to listen on (NetFlow 2055, IPFIX 4739 by default; 0 = any free port). Every port accepts every version. */
  ports: number[];
  receiveBufferBytes: number;
  /** Share the ports with the other workers of this process (SO_REUSEPORT). */
  reusePort?: boolean;
  /** recvmmsg batches or node:dgram (ingest.receive); default auto. */
  receive?: ReceiveMode | 'auto';
  /** Exporter allowlist (CIDRs); empty = everyone. */
  allowExporters: string[];
  /** Publish staged records at least this often. */
  maxDelayMs: number;
  templateStore?: TemplateStore | null;
  /** Save changed templates at most this often (sequence numbers are checkpointed every publish round). */
  templateFlushMs?: number;
  /** Publishes exporter health snapshots beside the flows (null: none). */
  health?: HealthReporter | null;
  healthIntervalMs?: number;
}

/** After a restart, health goes out on traffic (at most this often) until every restored exporter was heard. */
const RESTART_HEALTH_MS = 1000;
/** A domain with data held for a missing template asks the shared store at most this often. */
const FETCH_AGAIN_MS = 1000;

/**
 * The UDP collector: datagrams → decoder → publisher, on the event loop thread.
 * Datagrams are decoded as they arrive; records are published per partition when a
 * partition's batch is full or every `maxDelayMs`.
 *
 * Every such publish round also saves a checkpoint once the round's batches are acknowledged:
 * the exporters' sequence numbers as of the round (so a collector killed later counts as lost
 * only what never reached the sink), and the health deltas not yet published (so a crash loses
 * none). Templates are saved apart, when they change.
 */
export class Collector {
  private sockets: UdpReceiver[] = [];
  private readonly writer = new BatchWriter(256);
  private readonly allow: PrefixSet | null;
  private readonly scratch = new Uint8Array(16);
  private timer: NodeJS.Timeout | null = null;
  private ticks = 0;
  private sweepEvery = 1;
  /** The publish round in progress (one at a time: a slow sink delays checkpoints, not flushes). */
  private round: Promise<void> | null = null;
  private savedGeneration = -1;
  private templatesSavedAt = 0;
  private savedSeen = -1;
  /** Datagrams taken in (a counter, not a time: two in one millisecond are two). */
  private datagrams = 0;
  private lastHealthAt = 0;
  private lastEarlyHealthAt = 0;
  /** Exporters restored from a checkpoint and not heard from since the start (their restart gap is still unknown). */
  private awaitingRestored: DomainState[] = [];
  private startedAt = 0;
  private checkpointFailures = 0;
  refused = 0;
  private readonly refusedSeen = new Set<string>();
  // Shared templates (collectors behind one address): see TemplateShare.
  private readonly share: TemplateShare | null;
  /** Each domain's `changes` as last published, so only what this collector learned goes out. */
  private readonly publishedChanges = new WeakMap<DomainState, number>();
  private readonly fetchedAt = new Map<string, number>();
  private readonly known = new WeakSet<DomainState>();
  private readonly firstSightAt = new WeakMap<DomainState, number>();
  private pendingClaims = new WeakSet<DomainState>();
  private readonly announcedSplit = new WeakSet<DomainState>();
  private claiming = false;
  private claimAgain = false;
  private claimedUpTo = 0;
  private claimFailures = 0;
  private claimEveryTicks = 1;
  private claimEveryMs = 10_000;
  /** Templates learned from other collectors; domains whose packets other collectors also receive. */
  templatesFromPeers = 0;
  splitExporters = 0;
  private readonly o: CollectorOptions;

  constructor(opts: CollectorOptions) {
    this.o = opts;
    this.allow = opts.allowExporters.length ? new PrefixSet(opts.allowExporters) : null;
    this.share = opts.templateStore?.share ?? null;
  }

  /**
   * Load persisted templates and the checkpoint, bind the sockets. Returns the bound ports.
   * `beforeBind` runs once everything else is ready and may name the ports (workers bind in
   * turn, quickly, once all of them are ready).
   */
  async start(beforeBind?: () => Promise<number[] | undefined>): Promise<number[]> {
    const { log, templateStore } = this.o;
    this.startedAt = Date.now();
    if (templateStore) {
      const registry = this.o.decoder.registry;
      try {
        const snap = await templateStore.load();
        if (snap) {
          const n = registry.restore(snap, (t) => parseAddress(t));
          log.info({ templates: n, from: templateStore.description }, 'restored exporter templates');
        }
      } catch (err) {
        log.warn({ err, from: templateStore.description }, 'could not restore templates; starting without them');
      }
      this.savedGeneration = registry.generation;
      try {
        const cp = await templateStore.loadCheckpoint();
        if (cp) {
          const n = restoreSequenceCheckpoint(registry, cp.sequences, (t) => parseAddress(t));
          const carried = Array.isArray(cp.health) ? cp.health : [];
          this.o.health?.carry(carried);
          log.info(
            { exporters: n, unpublishedHealth: carried.length, savedAt: cp.sequences.savedAt, from: templateStore.description },
            'restored the collector checkpoint: a gap since then is counted once, as loss',
          );
        }
      } catch (err) {
        log.warn({ err, from: templateStore.description }, 'could not restore the collector checkpoint; losses across this restart are not counted');
      }
      this.awaitingRestored = [...registry.all()].filter((d) => d.expectedSeq === d.expectedSeq);
      for (const d of registry.all()) this.publishedChanges.set(d, d.changes);
      // This collector's own exporters (a sequence in its checkpoint): claimed at once below; their
      // sequence goes on (a restart gap is still counted). One known only from the shared templates
      // is a newcomer when first heard: another collector may hear it too.
      for (const d of this.awaitingRestored) {
        this.known.add(d);
        this.pendingClaims.add(d);
      }
      if (this.share) {
        try {
          await this.share.watch((keys) => this.fromPeers(keys.filter((k) => registry.find(k))));
        } catch (err) {
          log.warn({ err, from: templateStore.description }, "could not follow other collectors' templates; fetched when data waits for one");
        }
      }
    }
    const wanted = (await beforeBind?.()) ?? this.o.ports;
    const ports: number[] = [];
    for (const port of wanted) ports.push(await this.listen(port));
    this.lastHealthAt = Date.now();
    this.sweepEvery = Math.max(1, Math.round(10_000 / this.o.maxDelayMs));
    // Claims are settled before health reports loss: at least twice per health interval.
    this.claimEveryMs = Math.min(10_000, (this.o.healthIntervalMs ?? 60_000) / 2);
    this.claimEveryTicks = Math.max(1, Math.round(this.claimEveryMs / this.o.maxDelayMs));
    if (this.share) this.claimSoon();
    this.timer = setInterval(() => this.tick(Date.now()), this.o.maxDelayMs);
    this.timer.unref();
    return ports;
  }

  private tick(now: number): void {
    this.o.publisher.flush();
    if (++this.ticks % this.sweepEvery === 0) this.o.decoder.sweep();
    if (this.share && this.ticks % this.claimEveryTicks === 0) this.claimSoon();
    if (!this.round) this.round = this.publishRound(now, false).finally(() => (this.round = null));
  }

  /**
   * Flush, then — in the same turn, so it describes exactly the datagrams now in flight — take
   * the checkpoint (and health when due); once the flows are acknowledged, publish the health,
   * then save the checkpoint. A kill at any point loses at most the round in flight.
   */
  private async publishRound(nowMs: number, final: boolean): Promise<void> {
    const { publisher, decoder, templateStore: store, health, log } = this.o;
    publisher.flush();
    const seen = this.datagrams;
    const traffic = seen !== this.savedSeen;
    let snap: HealthSnapshot | null = null;
    if (health && this.healthDue(nowMs, traffic, final)) {
      this.lastHealthAt = nowMs;
      snap = health.snapshot(nowMs);
    }
    // Also after a snapshot in a quiet round: the saved checkpoint still holds the counts it just published.
    const sequences = store && (traffic || final || snap) ? takeSequenceCheckpoint(decoder.registry, nowMs) : null;
    const unpublished: DomainHealth[] = sequences && health ? health.pending() : [];
    await publisher.settled();
    if (snap && health) {
      try {
        await health.publish(snap);
        this.logLosses(snap);
      } catch (err) {
        // Not lost: carried into the next snapshot, and into the checkpoint meanwhile.
        health.carry(snap.domains);
        unpublished.push(...snap.domains);
        log.error({ err }, 'could not publish an ingest health snapshot; its counts go out with the next');
      }
    }
    if (store && sequences) {
      try {
        await store.saveCheckpoint({ sequences, health: unpublished });
        this.savedSeen = seen;
      } catch (err) {
        if (this.checkpointFailures++ % 100 === 0)
          log.error(
            { err, to: store.description, failures: this.checkpointFailures },
            'could not save the collector checkpoint (logged once per 100 failures)',
          );
      }
    }
    const g = decoder.registry.generation;
    // Shared: at once, so a peer decodes what an exporter sends it next; a file: at most every flush interval.
    if (store && g !== this.savedGeneration && (this.share || final || nowMs - this.templatesSavedAt >= (this.o.templateFlushMs ?? 5000))) {
      try {
        if (this.share) {
          const learned = this.learned();
          try {
            await this.share.publish(learned.map((d) => d.snapshot()));
          } catch (err) {
            for (const d of learned) this.publishedChanges.delete(d); // published with the next round instead
            throw err;
          }
        } else await store.save(decoder.registry.snapshot());
        this.savedGeneration = g;
        this.templatesSavedAt = nowMs;
      } catch (err) {
        log.error({ err, to: store.description }, 'could not persist templates');
      }
    }
  }

  /** Domains whose templates or samplers changed here since last published (marked as published). */
  private learned(): DomainState[] {
    const out: DomainState[] = [];
    for (const d of this.o.decoder.registry.all()) {
      if (this.publishedChanges.get(d) === d.changes) continue;
      this.publishedChanges.set(d, d.changes);
      if (d.templates.size > 0 || d.samplers.size > 0 || d.announcedRate > 0) out.push(d);
    }
    return out;
  }

  /** Another collector published these domains (ones this collector has): take their templates. */
  private fromPeers(keys: string[]): void {
    if (!this.share || keys.length === 0) return;
    this.share
      .fetch(keys)
      .then((list) => this.applyShared(list))
      .catch((err: unknown) => this.o.log.warn({ err }, "could not fetch or apply another collector's templates"));
  }

  /** Data waits for a template this collector has not seen: another collector may have it. */
  private fetchFor(d: DomainState, now: number): void {
    const key = TemplateRegistry.keyOf(d);
    const last = this.fetchedAt.get(key);
    if (last !== undefined && now - last < FETCH_AGAIN_MS) return;
    if (this.fetchedAt.size > 10_000) this.fetchedAt.clear();
    this.fetchedAt.set(key, now);
    this.fromPeers([key]);
  }

  private applyShared(list: DomainSnapshot[]): void {
    const registry = this.o.decoder.registry;
    for (const ds of list) {
      const d = registry.find(TemplateRegistry.keyOf(ds));
      if (!d) continue;
      const held = d.counters.heldDecodedSets;
      const clean = this.publishedChanges.get(d) === d.changes;
      const n = d.applyShared(ds, this.writer);
      // A peer's, not ours to publish again; unless this domain had news of its own still to go out.
      if (clean) this.publishedChanges.set(d, d.changes);
      if (n > 0) {
        this.templatesFromPeers += n;
        this.o.log.info(
          { exporter: d.exporterText, version: d.version, domain: d.domain, templates: n, heldSetsDecoded: d.counters.heldDecodedSets - held },
          'templates learned from another collector',
        );
      }
    }
    if (this.writer.count > 0) this.o.publisher.add(this.writer);
  }

  /**
   * A domain this collector had not heard before: until the shared store says no other
   * collector hears it, its sequence is not counted (a gap may be the other's packets).
   */
  private firstSight(d: DomainState): void {
    this.known.add(d);
    this.firstSightAt.set(d, Date.now());
    d.setSequenceSplit(true);
    this.claimSoon();
  }

  private claimSoon(): void {
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    this.claiming = true;
    void this.claimRound(Date.now()).finally(() => {
      this.claiming = false;
      if (this.claimAgain) {
        this.claimAgain = false;
        this.claimSoon();
      }
    });
  }

  /**
   * At first sight of an exporter and every claim interval: say which exporters this collector
   * hears, and find those another collector heard within the claim window — spread per packet
   * rather than pinned, or just moved here. Their sequence gaps would be the other's packets,
   * so they are not counted as loss until this collector alone hears them (then the sequence
   * starts afresh), and the operator is told.
   */
  private async claimRound(now: number): Promise<void> {
    const registry = this.o.decoder.registry;
    const heard = new Map<string, number>();
    const byKey = new Map<string, DomainState>();
    for (const d of registry.all()) {
      // Never heard here (restored from the shared hash only): not this collector's to claim.
      if (d.lastSeenMs === 0 || (d.lastSeenMs <= this.claimedUpTo && !this.pendingClaims.has(d))) continue;
      const key = TemplateRegistry.keyOf(d);
      heard.set(key, d.lastSeenMs);
      byKey.set(key, d);
    }
    this.pendingClaims = new WeakSet();
    this.claimedUpTo = now;
    let others: Map<string, { by: string; at: number }>;
    try {
      others = await this.share!.claim(heard);
    } catch (err) {
      if (this.claimFailures++ % 100 === 0)
        this.o.log.warn({ err, failures: this.claimFailures }, 'could not tell other collectors which exporters this one receives (logged once per 100)');
      for (const d of byKey.values()) this.pendingClaims.add(d);
      return;
    }
    const window = 3 * this.claimEveryMs;
    for (const [key, d] of byKey) {
      const other = others.get(key);
      // Against this collector's own latest packet, not the clock: a slow exporter spread over
      // two collectors stays split however far apart its packets are.
      const shared = other !== undefined && other.at >= heard.get(key)! - window;
      // A newcomer is not known to be alone until a whole window passed: the other collector
      // may have heard it first a moment ago and not yet said so.
      const newcomer = now - (this.firstSightAt.get(d) ?? 0) < window;
      const split = shared || newcomer;
      const wasSplit = d.sequenceSplit;
      const announced = this.announcedSplit.has(d);
      d.setSequenceSplit(split);
      if (shared && !announced) {
        this.announcedSplit.add(d);
        this.splitExporters++;
        this.o.log.warn(
          { exporter: d.exporterText, version: d.version, domain: d.domain, alsoHeardBy: other.by, windowMs: window },
          'exporter heard by another collector too (moved, or spread per packet): its sequence gaps are not counted as loss until one collector alone hears it; pin each exporter to one collector',
        );
      } else if (!split && wasSplit && announced) {
        this.announcedSplit.delete(d);
        this.o.log.info(
          { exporter: d.exporterText, version: d.version, domain: d.domain },
          'exporter now heard by this collector alone: its sequence is counted again',
        );
      }
    }
  }

  /**
   * Every health interval; at stop; and right after a restart (at most once a second, for one
   * health interval) while a restored exporter's restart gap is still to be reported.
   */
  private healthDue(nowMs: number, traffic: boolean, final: boolean): boolean {
    const interval = this.o.healthIntervalMs ?? 60_000;
    if (final || nowMs - this.lastHealthAt >= interval) return true;
    if (!traffic || this.awaitingRestored.length === 0) return false;
    if (nowMs - this.startedAt >= interval) {
      this.awaitingRestored = []; // the regular interval takes over; an exporter gone for good must not keep this going
      return false;
    }
    if (nowMs - this.lastEarlyHealthAt < RESTART_HEALTH_MS) return false;
    // Heard from since the start: its gap is in the snapshot about to be taken.
    const heard = this.awaitingRestored.filter((d) => d.lastSeenMs >= this.startedAt);
    if (heard.length === 0) return false;
    this.awaitingRestored = this.awaitingRestored.filter((d) => d.lastSeenMs < this.startedAt);
    this.lastEarlyHealthAt = nowMs;
    return true;
  }

  private logLosses(s: HealthSnapshot): void {
    // Losses are logged as they are reported: at most once per health interval per domain.
    for (const d of s.domains)
      if (d.lost > 0 || d.sequenceGaps > 0 || (d.samplesLost ?? 0) > 0)
        this.o.log.warn(
          {
            exporter: d.exporter,
            version: d.version,
            domain: d.domain,
            day: d.day,
            lost: d.lost,
            unit: lossUnit(d.version),
            sequenceGaps: d.sequenceGaps,
            samplesLost: d.samplesLost,
            intervalMs: s.intervalMs,
          },
          `${d.lost} ${lossUnit(d.version)} lost between exporter and collector`,
        );
  }

  get boundPorts(): { port: number; family: 4 | 6 }[] {
    return this.sockets.map((s) => ({ port: s.port, family: s.family }));
  }

  /** How the sockets read datagrams ('batch' = recvmmsg), once bound. */
  get receiveMode(): ReceiveMode | null {
    return this.sockets[0]?.mode ?? null;
  }

  private async listen(port: number): Promise<number> {
    const sock = await this.openSocket(port);
    const got = sock.receiveBufferBytes;
    const batch = batchReceiveAvailable();
    if (this.sockets.length === 0 && sock.mode === 'dgram' && (this.o.receive ?? 'auto') === 'auto' && !batch.available)
      this.o.log.warn({ why: batch.why }, 'receiving one datagram per callback (node:dgram): recvmmsg batches are unavailable');
    this.o.log.info({ bind: this.o.bind, port: sock.port, receiveBuffer: got, receive: sock.mode }, 'collector listening');
    if (got < this.o.receiveBufferBytes)
      this.o.log.warn({ asked: this.o.receiveBufferBytes, got }, 'receive buffer smaller than configured: raise net.core.rmem_max');
    this.sockets.push(sock);
    return sock.port;
  }

  private async openSocket(port: number): Promise<UdpReceiver> {
    try {
      return await openUdpReceiver(
        {
          address: this.o.bind,
          port,
          reusePort: this.o.reusePort === true,
          receiveBufferBytes: this.o.receiveBufferBytes,
          onDatagram: (msg, address, receivedMs) => this.onMessage(msg, address, receivedMs),
          onError: (err) => this.o.log.error({ err, port }, 'UDP socket error'),
        },
        this.o.receive ?? 'auto',
      );
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.code === 'ERR_UDP_BATCH_UNAVAILABLE') throw new ConfigError(`ingest.receive is "batch" but ${e.message}; set it to auto or dgram`);
      throw err;
    }
  }

  /** One datagram. Public so replay and tests drive the very same path. */
  onMessage(msg: Buffer, address: string, receivedMs = Date.now()): void {
    this.datagrams++;
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
    if (this.share) {
      const d = this.o.decoder.registry.lastDomain;
      if (d !== null) {
        if (!this.known.has(d)) this.firstSight(d);
        if (d.heldSets > 0) this.fetchFor(d, receivedMs);
      }
    }
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

  /** Replays: publish a health snapshot when `healthIntervalMs` has passed on the capture's clock. */
  async maybeReportHealth(nowMs: number, force = false): Promise<void> {
    const h = this.o.health;
    if (!h) return;
    if (!force && nowMs - this.lastHealthAt < (this.o.healthIntervalMs ?? 60_000)) return;
    this.lastHealthAt = nowMs;
    try {
      await this.o.publisher.drain(); // flows first: the snapshot describes what was published
      const s = await h.report(nowMs);
      if (s) this.logLosses(s);
    } catch (err) {
      this.o.log.error({ err }, 'could not publish an ingest health snapshot');
    }
  }

  /** Close sockets, publish what is staged with a last health snapshot, save the checkpoint and templates. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all(this.sockets.map((s) => s.close()));
    this.sockets = [];
    if (this.round) await this.round;
    await this.publishRound(Math.max(Date.now(), this.o.decoder.lastReceived), true);
  }
}
