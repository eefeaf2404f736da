import type { Attributor } from '@haystack/ixp';
import { randomUUID } from 'node:crypto';
import type { HaystackConfig, Logger } from '@haystack/common';
import type { ClickHouseStore } from '@haystack/clickhouse';
import { BATCH_CONTINUES, BatchFormatError, decodeHealth, isHealth, openBatch, type BatchView } from '@haystack/flow-core';
import type { HitlistStore, LoadedHitlist } from '@haystack/hitlist-contract';
import type { Accepted, BatchMeta, FlowSource } from '@haystack/transport';
import { BatchGroups, GroupAbandonedError, type OpenGroup } from './batch-groups.js';
import { Flusher } from './flusher.js';
import { healthRows } from './health-rows.js';
import { classHierarchy, ixpAttributor } from './setup.js';
import { ClassHierarchy } from './hierarchy.js';
import { HitlistSet } from './hitlists.js';
import { LineMask } from './line-sets.js';
import { DAY_MS, dayOf, dayText, type DetectorRows, emptyRows, ipv6UnitPrefix, LineIds, lineIdsFromConfig, ts64 } from '@haystack/store';
import { batchDays } from './matcher.js';
import { BatchProcessor } from './processor.js';
import { DetectionEngine, PartitionState, Thresholds, ruleThreshold, type ClassWindows, type Position } from './rules.js';
import { ClickHouseDetectorStorage, type DetectorStorage } from './storage.js';

export interface DetectorOptions {
  config: HaystackConfig;
  log: Logger;
  /** Where flow batches come from (Kafka consumer group member, or the embedded bus's source). */
  source: FlowSource;
  /** A store to follow (Redis, memory, directory) or an already open HitlistSet (not closed by stop()). */
  hitlists: HitlistStore | HitlistSet;
  /** Detector storage, or a ClickHouse store to build it on (neither is closed by stop()). */
  storage: DetectorStorage | ClickHouseStore;
  /**
   * Stable name of the flow source, part of every stored row's key (with partition and
   * offset): default `kafka:<topic>` with Kafka, a fresh `memory:<uuid>` with the in-process
   * bus (its positions start again at 0 in every process).
   */
  sourceId?: string;
  /** Class hierarchy; default: from the hitlist when it carries parents, else detector.rulesDir. */
  hierarchy?: ClassHierarchy | null;
  /** Line ids; default from the configuration ({@link resolveLineKey}). */
  lineIds?: LineIds;
  /** How long stop() waits for batches in flight before abandoning their inserts (they are redelivered), default 15 s. */
  stopTimeoutMs?: number;
}

export interface DetectorStats {
  /** Batches handled and stored (including undecodable ones, counted and skipped). */
  batches: number;
  /** Flows of the stored batches. */
  flows: number;
  /** Flows taken in (processed; stored or on their way): `flowsTakenIn - flows` is the storage backlog. */
  flowsTakenIn: number;
  /** Flows matching a hitlist entry in either direction. */
  matched: number;
  /** Flows whose day had no hitlist (counted, not matched). */
  noHitlist: number;
  unknownSampling: number;
  /** Flows without a subscriber side (both ends looked up). */
  noSide: number;
  /** Records without a usable start time. */
  badRecords: number;
  undecodable: number;
  detections: { hour: number; day: number };
  /** Rows for manufacturers/platforms implied by a product's detection. */
  impliedDetections: number;
  evidenceRows: number;
  newLines: number;
  inserts: number;
  insertRetries: number;
  insertFailures: number;
  /** Handler attempts that failed (each batch is then retried by the source). */
  handlerFailures: number;
  /** Batches held back in open groups (their rows are stored with the rest of their group). */
  heldBatches: number;
  /** Groups of batches stored, and open groups dropped unstored (delivered again: after a failed insert, a rebalance). */
  groups: number;
  groupsAbandoned: number;
  /** Partition-days rebuilt from storage. */
  stateLoads: number;
  /** Evidence rows found already stored when day state was loaded (a capture replayed again: nothing new). */
  storedEvidenceLoaded: number;
  /** Ingest health snapshots stored (they travel on the flow topic beside the batches). */
  healthSnapshots: number;
  hitlistSwaps: number;
  hitlistRefusals: number;
  hitlistDays: string[];
  partitions: number;
}

export interface Detector {
  readonly sourceId: string;
  /** Create the schema, follow the hitlists, join the source. */
  start(): Promise<void>;
  /** Leave the source after the batches in flight (stored and committed, or left uncommitted), stop following hitlists. */
  stop(): Promise<void>;
  /** Settles with the error that ended delivery for good (see FlowSource.failed): time to exit. */
  failed(): Promise<Error>;
  /** Insert what is buffered now. */
  flush(): Promise<void>;
  stats(): DetectorStats;
  /** The hitlists in use (after start). */
  readonly hitlistSet: HitlistSet | null;
  /** IXP deployment: member attribution and its counts (null in the ISP deployment). */
  readonly attributor: Attributor | null;
}

function isStorage(x: DetectorStorage | ClickHouseStore): x is DetectorStorage {
  return typeof (x as DetectorStorage).loadDayState === 'function';
}
function isHitlistSet(x: HitlistStore | HitlistSet): x is HitlistSet {
  return typeof (x as HitlistSet).ensure === 'function';
}

function parseOffset(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`flow source offset ${JSON.stringify(s)} is not a non-negative integer`);
  return n;
}

/** Log the first few of a kind, then every 1000th: a flood of bad input must not flood the log. */
function sampled(n: number): boolean {
  return n <= 10 || n % 1000 === 0;
}

export function createDetector(opts: DetectorOptions): Detector {
  return new DetectorService(opts);
}

class DetectorService implements Detector {
  readonly sourceId: string;
  private readonly log: Logger;
  private readonly storage: DetectorStorage;
  private readonly flusher: Flusher;
  private readonly groups: BatchGroups;
  private readonly mask: LineMask;
  private readonly lineIds: LineIds;
  private readonly engine: DetectionEngine;
  private readonly partitions = new Map<number, PartitionState>();
  private readonly freshSource: boolean;
  private hierarchy: ClassHierarchy | null;
  private hierarchyFromHitlist = false;
  private set: HitlistSet | null = null;
  private ownSet = false;
  private processor: BatchProcessor | null = null;
  private started = false;
  private unsubscribe: (() => void) | undefined;
  /**
   * Partitions whose group failed to store, with its first offset: the source delivers again
   * from there, and batches after it taken in meanwhile are handed back, not held or stored.
   */
  private readonly failedFrom = new Map<number, number>();
  private readonly counters = {
    batches: 0,
    flows: 0,
    flowsTakenIn: 0,
    matched: 0,
    noHitlist: 0,
    unknownSampling: 0,
    noSide: 0,
    badRecords: 0,
    undecodable: 0,
    detectionsHour: 0,
    detectionsDay: 0,
    impliedDetections: 0,
    evidenceRows: 0,
    newLines: 0,
    handlerFailures: 0,
    groups: 0,
    groupsAbandoned: 0,
    stateLoads: 0,
    storedEvidenceLoaded: 0,
    healthSnapshots: 0,
  };
  /** Flow days whose class and hitlist rows this process has stored (per hitlist version). */
  private readonly classDays = new Set<string>();
  /** IXP deployment: member attribution of units. */
  readonly attributor: Attributor | null = null;

  constructor(private readonly opts: DetectorOptions) {
    const cfg = opts.config;
    const d = cfg.detector;
    this.log = opts.log;
    this.storage = isStorage(opts.storage) ? opts.storage : new ClickHouseDetectorStorage(opts.storage, d.retention);
    const ixp = cfg.deployment === 'ixp';
    const prefix = ipv6UnitPrefix(cfg);
    if (!ixp && prefix < cfg.ingest.ipv6LinePrefixLength)
      this.log.warn(
        { detectorPrefix: prefix, ingestPrefix: cfg.ingest.ipv6LinePrefixLength },
        'detector IPv6 line prefix is shorter than the ingest partition key prefix: one line can span partitions, and its evidence is then split between detectors',
      );
    this.mask = new LineMask(prefix);
    this.attributor = ixpAttributor(cfg);
    this.hierarchy = opts.hierarchy === undefined ? classHierarchy(cfg, this.log) : opts.hierarchy;
    this.lineIds = opts.lineIds ?? lineIdsFromConfig(cfg, this.log);
    const mem = cfg.kafka.brokers.length === 0;
    this.sourceId = opts.sourceId ?? (mem ? `memory:${randomUUID()}` : `kafka:${cfg.kafka.flowTopic}`);
    // A fresh in-process bus has nothing stored under its id: no state to rebuild.
    this.freshSource = opts.sourceId === undefined && mem;
    this.engine = new DetectionEngine(new Thresholds(d), () => this.hierarchy);
    this.flusher = new Flusher(this.storage, {
      maxDelayMs: d.flush.maxDelayMs,
      maxRows: d.flush.maxRows,
      attempts: d.flush.attempts,
      log: this.log,
      onRetry: (err, attempt) => this.log.warn({ err, attempt }, 'detector insert failed, retrying'),
    });
    this.groups = new BatchGroups(BatchGroups.sizeFor(opts.source.inFlightPerPartition), (g) => this.storeGroup(g));
  }

  get hitlistSet(): HitlistSet | null {
    return this.set;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('detector already started');
    const d = this.opts.config.detector;
    await this.storage.ensureSchema();
    if (isHitlistSet(this.opts.hitlists)) this.set = this.opts.hitlists;
    else {
      this.set = await HitlistSet.open({
        store: this.opts.hitlists,
        log: this.log,
        maxDays: d.maxHitlistDays,
        fallbackDays: d.hitlistFallbackDays,
        onSwap: (h) => this.onHitlist(h),
      });
      this.ownSet = true;
    }
    for (const day of this.set.days()) {
      const h = this.set.get(Date.parse(`${day}T00:00:00Z`) / DAY_MS);
      if (h) this.onHitlist(h);
    }
    this.processor = new BatchProcessor(this.set, this.mask, this.lineIds, this.engine, this.attributor);
    this.started = true;
    // A new group generation delivers again from the committed positions: held batches go back.
    this.unsubscribe = this.opts.source.onAssignment?.(() => {
      this.failedFrom.clear(); // every partition starts again from its committed position
      for (const p of this.groups.abandonAll('the partitions were assigned anew')) this.abandoned(p);
    });
    this.log.info(
      {
        source: this.sourceId,
        groupSize: this.groups.size,
        lineIds: this.lineIds.toJSON(),
        windows: d.windows,
        hitlistDays: this.set.days(),
        hierarchyClasses: this.hierarchy?.size ?? 0,
      },
      'detector starting',
    );
    await this.opts.source.run((batch, meta) => this.handle(batch, meta));
  }

  private onHitlist(h: LoadedHitlist): void {
    // Hitlists that carry parents (a proposed format extension) take precedence over the dictionary.
    const probe = ClassHierarchy.of([]);
    if (probe.mergeHitlist(h.meta)) {
      this.hierarchy ??= ClassHierarchy.of([]);
      this.hierarchy.mergeHitlist(h.meta);
      this.hierarchyFromHitlist = true;
    } else if (this.hierarchy && !this.hierarchyFromHitlist) {
      // Names and levels as the hitlist has them; parents stay from the dictionary.
      this.hierarchy.mergeHitlist(h.meta);
    }
  }

  failed(): Promise<Error> {
    return this.opts.source.failed();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.unsubscribe?.();
    // Open groups are handed back unstored (a group is never stored cut short): the next run
    // takes them in again from their start, to form the same groups.
    for (const p of this.groups.abandonAll('the detector is stopping')) this.abandoned(p);
    this.flusher.urgent = true;
    this.flusher.maybeFlush();
    const closing = this.opts.source.close();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), this.opts.stopTimeoutMs ?? 15_000)));
    const first = await Promise.race([closing.then(() => 'closed' as const), timeout]);
    clearTimeout(timer);
    if (first === 'timeout') {
      this.log.warn('batches still waiting for storage at stop: leaving them uncommitted (they are delivered again)');
      this.flusher.abort();
    }
    try {
      await closing;
    } finally {
      if (this.ownSet) await this.set?.close();
      this.log.info({ stats: this.stats() }, 'detector stopped');
    }
  }

  async flush(): Promise<void> {
    await this.flusher.flush();
  }

  stats(): DetectorStats {
    const c = this.counters;
    return {
      batches: c.batches,
      flows: c.flows,
      flowsTakenIn: c.flowsTakenIn,
      matched: c.matched,
      noHitlist: c.noHitlist,
      unknownSampling: c.unknownSampling,
      noSide: c.noSide,
      badRecords: c.badRecords,
      undecodable: c.undecodable,
      detections: { hour: c.detectionsHour, day: c.detectionsDay },
      impliedDetections: c.impliedDetections,
      evidenceRows: c.evidenceRows,
      newLines: c.newLines,
      inserts: this.flusher.inserts,
      insertRetries: this.flusher.retries,
      insertFailures: this.flusher.failures,
      handlerFailures: c.handlerFailures,
      heldBatches: this.groups.held(),
      groups: c.groups,
      groupsAbandoned: c.groupsAbandoned,
      stateLoads: c.stateLoads,
      storedEvidenceLoaded: c.storedEvidenceLoaded,
      healthSnapshots: c.healthSnapshots,
      hitlistSwaps: this.set?.swaps ?? 0,
      hitlistRefusals: this.set?.refusals ?? 0,
      hitlistDays: this.set?.days() ?? [],
      partitions: this.partitions.size,
    };
  }

  private partition(p: number): PartitionState {
    let s = this.partitions.get(p);
    if (!s) this.partitions.set(p, (s = new PartitionState(p)));
    return s;
  }

  /**
   * Takes a batch in: processes it and buffers its rows, then returns while they are stored
   * (`stored`), so the source can deliver the next batches and one insert carries many.
   */
  private async handle(batch: Buffer, meta: BatchMeta): Promise<Accepted> {
    const f = this.flusher;
    f.inFlight++;
    try {
      const { stored } = await this.handleBatch(batch, meta);
      return { stored: stored.catch((e: unknown) => this.handlerFailed(e, meta)) };
    } catch (e) {
      return this.handlerFailed(e, meta);
    } finally {
      f.inFlight--;
      f.maybeFlush();
    }
  }

  private handlerFailed(e: unknown, meta: BatchMeta): never {
    // Handed back on purpose (counted as groupsAbandoned): delivered again, not a failure.
    if (e instanceof GroupAbandonedError) {
      this.log.debug({ partition: meta.partition, offset: meta.offset, reason: e.message }, 'batch handed back to the source');
      throw e;
    }
    const n = ++this.counters.handlerFailures;
    if (sampled(n))
      this.log.warn(
        { err: e, partition: meta.partition, offset: meta.offset, failures: n },
        `batch not stored, the source delivers it again: ${(e as Error).message}`,
      );
    throw e;
  }

  /** Processes a batch; resolves once it is taken in, `stored` when its rows are (with its group's). */
  private async handleBatch(batch: Buffer, meta: BatchMeta): Promise<Accepted> {
    const pos: Position = { source: this.sourceId, src_partition: meta.partition, src_offset: parseOffset(meta.offset) };
    const ps = this.partition(meta.partition);
    // Delivered again from a batch held here (a retry after a failure elsewhere in the source, or
    // a seek): the held ones come again too, and the state they built is rebuilt from storage.
    const refused = this.refuse(pos);
    if (refused) return refused;
    if (this.groups.rewinds(meta.partition, pos.src_offset)) {
      this.groups.abandon(meta.partition, `partition ${meta.partition} delivered again from offset ${pos.src_offset}`);
      this.abandoned(meta.partition);
    }
    if (isHealth(batch)) {
      let rows: DetectorRows;
      try {
        rows = emptyRows();
        rows.health = healthRows(decodeHealth(batch));
      } catch (e) {
        return this.undecodable(batch, pos, `ingest health snapshot: ${(e as Error).message}`);
      }
      return this.take(pos, rows, false, () => {
        this.counters.healthSnapshots++;
        this.counters.batches++;
      });
    }
    let view: BatchView;
    try {
      view = openBatch(batch);
    } catch (e) {
      if (!(e instanceof BatchFormatError)) throw e;
      return this.undecodable(batch, pos, e.message);
    }
    const set = this.set!;
    const days = [...batchDays(view)];
    set.pin(days);
    try {
      await set.ensure(days);
      const rows = emptyRows();
      if (!this.freshSource || ps.wasReset) await this.rebuild(ps, days, pos, rows);
      else for (const d of days) ps.day(d).loaded = true;
      // Synchronous from here to take(): the shared scan scratch, the partition state and its open group are ours.
      const local = this.processor!.process(view, ps, pos, rows);
      const classKeys = this.classRows(days, rows);
      this.counters.flowsTakenIn += local.flows;
      return this.take(pos, rows, (view.flags & BATCH_CONTINUES) !== 0, () => {
        if (this.classDays.size > 10_000) this.classDays.clear();
        for (const k of classKeys) this.classDays.add(k);
        const c = this.counters;
        c.batches++;
        c.flows += local.flows;
        c.matched += local.matched;
        c.noHitlist += local.noHitlist;
        c.unknownSampling += local.unknownRate;
        c.noSide += local.noSide;
        c.badRecords += local.bad;
        c.detectionsHour += local.detHour;
        c.detectionsDay += local.detDay;
        c.impliedDetections += local.implied;
        if (local.bad > 0 && sampled(c.badRecords))
          this.log.warn(
            { partition: meta.partition, offset: meta.offset, records: local.bad, total: c.badRecords },
            'flow records without a usable start time counted and skipped',
          );
      });
    } finally {
      set.unpin(days);
    }
  }

  /**
   * A batch after a partition's failed group, taken in before the source went back to it: handed
   * back (the source delivers it again after the failed ones). The first batch at or before the
   * failed group's start is that redelivery: the partition is taken in normally again.
   */
  private refuse(pos: Position): Accepted | null {
    const from = this.failedFrom.get(pos.src_partition);
    if (from === undefined) return null;
    if (pos.src_offset <= from) {
      this.failedFrom.delete(pos.src_partition);
      return null;
    }
    return { stored: Promise.reject(new GroupAbandonedError(`an earlier group of partition ${pos.src_partition} was not stored`)) };
  }

  /** Add a batch's rows to its partition's group; `onStored` runs once the group is stored. */
  private take(pos: Position, rows: DetectorRows, continues: boolean, onStored: () => void): Accepted {
    // The partition may have failed while this batch was being prepared (hitlists, state rebuild).
    const refused = this.refuse(pos);
    if (refused) return refused;
    const p = pos.src_partition;
    const g = this.groups.add(p, pos.src_offset, rows, continues);
    // Stopping: a group still open is handed back rather than held (the next run forms it whole).
    if (!this.started && this.groups.isOpen(p) && this.groups.abandon(p, 'the detector is stopping')) this.abandoned(p);
    return { stored: g.done.then(onStored) };
  }

  /** A group closed: its rows, merged per fact, go to the flusher. */
  private storeGroup(g: OpenGroup): void {
    const rows = g.rows();
    this.flusher.submit(rows).then(
      () => {
        this.counters.groups++;
        this.counters.evidenceRows += rows.evidence.length;
        this.counters.newLines += rows.lineDays.length;
        g.resolve();
      },
      (e: unknown) => {
        // Storage is the truth: the state is rebuilt from it when the batches come again, and
        // the source delivers again from this group on, so the partition's later held batches go back too.
        if (this.groups.abandon(g.partition, `an earlier group of partition ${g.partition} was not stored`)) this.counters.groupsAbandoned++;
        const from = this.failedFrom.get(g.partition);
        if (from === undefined || g.first < from) this.failedFrom.set(g.partition, g.first);
        this.partition(g.partition).reset();
        g.reject(e);
      },
    );
  }

  /** A partition's open group was dropped: the state its batches built goes too (rebuilt from storage). */
  private abandoned(partition: number): void {
    this.counters.groupsAbandoned++;
    this.partition(partition).reset();
  }

  private undecodable(batch: Buffer, pos: Position, reason: string): Accepted {
    const now = Date.now();
    const rows = emptyRows();
    rows.undecodable.push({ ...pos, day: dayOf(now), received_at: ts64(now), bytes: batch.length, reason });
    return this.take(pos, rows, false, () => {
      const n = ++this.counters.undecodable;
      this.counters.batches++;
      if (sampled(n))
        this.log.warn({ partition: pos.src_partition, offset: pos.src_offset, bytes: batch.length, reason, undecodable: n }, 'undecodable flow batch skipped');
    });
  }

  /**
   * The classes (names, levels, parents) and the hitlist that served each flow day, once per
   * day and hitlist version and process: the report reads them instead of needing the
   * dictionary or the hitlist files.
   */
  private classRows(days: readonly number[], rows: DetectorRows): string[] {
    const keys: string[] = [];
    for (const d of days) {
      const hl = this.set!.get(d);
      if (!hl) continue;
      const key = `${d}|${hl.meta.day}|${hl.version}|${hl.meta.builtAt}`;
      if (this.classDays.has(key)) continue;
      keys.push(key);
      const day = dayText(d);
      const h = this.hierarchy;
      const seen = new Set<string>();
      for (const c of hl.meta.classes) {
        seen.add(c.id);
        rows.classes.push({
          day,
          class_id: c.id,
          name: c.name,
          level: c.level,
          parents: [...(h?.parents(c.id) ?? [])],
          detectable: 1,
          hitlist_day: hl.meta.day,
        });
      }
      for (const c of h?.all() ?? []) {
        if (seen.has(c.id)) continue;
        rows.classes.push({ day, class_id: c.id, name: c.name, level: c.level, parents: [...c.parents], detectable: 0, hitlist_day: hl.meta.day });
      }
      rows.hitlists.push({
        day,
        hitlist_day: hl.meta.day,
        version: hl.version,
        built_at: hl.meta.builtAt,
        entries: hl.size,
        addresses: addressCount(hl),
        classes: hl.meta.classes.length,
      });
    }
    return keys;
  }

  /**
   * Rebuild a partition's evidence for days not yet in memory, from storage (after a restart
   * or a rebalance, a line's earlier domains count towards its threshold). Detections the
   * stored evidence meets but storage lacks are emitted again: after a crash the redelivered
   * batch would fire them anyway, this also covers thresholds lowered between runs.
   */
  private async rebuild(ps: PartitionState, days: number[], pos: Position, rows: DetectorRows): Promise<void> {
    for (const d of days) {
      if (ps.peek(d)?.loaded) continue;
      const st = await this.storage.loadDayState(this.sourceId, ps.partition, dayText(d));
      const ds = ps.day(d);
      if (ds.loaded) continue;
      const meta = new Map<ClassWindows, { line: string; level: string; hitlistDay: string }>();
      for (const det of st.detections) {
        const cw = ds.windows(det.line, det.class_id);
        if (det.window === 'day') cw.dayDetected = true;
        else cw.hour(det.window_start_ms).detected = true;
      }
      for (const ev of st.evidence) {
        const cw = ds.windows(ev.line, ev.class_id);
        const hw = cw.hour(ev.hour_ms);
        if (!cw.dayDomains.includes(ev.domain)) cw.dayDomains.push(ev.domain);
        if (!hw.domains.includes(ev.domain)) hw.domains.push(ev.domain);
        if (ev.first_ms > cw.lastFirstMs) cw.lastFirstMs = ev.first_ms;
        if (ev.first_ms > hw.lastFirstMs) hw.lastFirstMs = ev.first_ms;
        meta.set(cw, { line: ev.line, level: ev.level, hitlistDay: ev.hitlist_day });
      }
      const hl = this.set!.get(d);
      let rederived = 0;
      for (const [cw, m] of meta)
        rederived += this.engine.check(ds, cw, m.line, m.level, m.hitlistDay, ruleThreshold(hl, cw.classId), null, null, pos, rows.detections);
      ds.loaded = true;
      this.counters.stateLoads++;
      this.counters.storedEvidenceLoaded += st.evidence.length;
      if (st.evidence.length > 0 || rederived > 0)
        this.log.info(
          { partition: ps.partition, day: dayText(d), evidence: st.evidence.length, detections: st.detections.length, rederived },
          'partition evidence rebuilt from storage',
        );
    }
  }
}

const addresses = new WeakMap<LoadedHitlist, number>();
/** Distinct service addresses of a hitlist (once per loaded hitlist). */
function addressCount(hl: LoadedHitlist): number {
  let n = addresses.get(hl);
  if (n === undefined) {
    const s = new Set<string>();
    for (let i = 0; i < hl.size; i++) s.add(hl.entry(i).address);
    n = s.size;
    addresses.set(hl, n);
  }
  return n;
}
