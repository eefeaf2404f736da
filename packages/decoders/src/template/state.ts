import { formatAddress } from '@haystack/common';
import { PROTOCOL, type BatchWriter } from '@haystack/flow-core';
import { compileTemplate, layoutKey, type CompiledTemplate, type RecordContext, type TemplateField } from './compile.js';
import { IE, VARLEN } from './fields.js';
import { SamplingConfig, samplingFromOptions, type SamplingPolicy } from './sampling.js';

/** Counters per exporter and observation domain: what an operator needs to trust the numbers. */
export interface DomainCounters {
  packets: number;
  /** Flow records decoded into batches. */
  records: number;
  optionsRecords: number;
  templatesAdded: number;
  templatesChanged: number;
  templatesWithdrawn: number;
  /** Templates refused: zero fields, too many fields, zero length, over the per-domain limit. */
  templatesRejected: number;
  /** Data sets whose template was unknown on arrival. */
  missingTemplateSets: number;
  /** Of those, held and decoded later when the template came. */
  heldDecodedSets: number;
  /** Held sets dropped unread (their template never came in time, or the hold was full). */
  heldDroppedSets: number;
  malformedPackets: number;
  malformedSets: number;
  malformedRecords: number;
  /** Packets with bytes after their last set (or past the IPFIX message length): ignored. */
  trailingBytes: number;
  /** Withdrawals of template ids we never knew (RFC 7011 §8.1 asks for them to be noted). */
  unknownWithdrawals: number;
  /** Records whose sampling rate is unknown (exported with rate 0). */
  unknownRateRecords: number;
  /** Records with sysUpTime-relative times and no systemInitTime to anchor them (export time used). */
  unanchoredTimes: number;
  sequenceGaps: number;
  /** Packets (v9) or records (v5, IPFIX) the sequence numbers say we never received. */
  lost: number;
  /** Packets whose sequence number went backwards a little (reordering, duplicates). */
  reordered: number;
  /** Sequence restarts (exporter reboot) or implausible jumps (a corrupted number): counting starts afresh. */
  sequenceResets: number;
  /**
   * Records of templates that carry no source or no destination address (e.g. packet-section or
   * application statistics exports): counted here and per template, never published.
   */
  recordsWithoutAddress: number;
  /** sFlow: samples the per-source sample sequence numbers say never arrived. */
  samplesLost: number;
  /** sFlow: packets the agent could not sample for lack of resources (its drops counter, increase). */
  sampleDrops: number;
  /** sFlow: counter samples received (interface health). */
  counterSamples: number;
  /** sFlow: sample types we do not read (enterprise formats, unknown), skipped by length. */
  unknownSamples: number;
  /** sFlow: flow records we do not read, skipped by length; raw headers of unknown protocols. */
  unknownFlowRecords: number;
  /** Sampled headers (sFlow, IPFIX packet sections) cut before the transport ports. */
  truncatedHeaders: number;
  /** Cisco NSEL: events that carry no traffic of their own (create, deny, alert), counted not published. */
  nselEventsSkipped: number;
  /** RFC 5103 biflows and NSEL: reverse-direction records made from one exported record. */
  reverseRecords: number;
}

export function zeroCounters(): DomainCounters {
  return {
    packets: 0,
    records: 0,
    optionsRecords: 0,
    templatesAdded: 0,
    templatesChanged: 0,
    templatesWithdrawn: 0,
    templatesRejected: 0,
    missingTemplateSets: 0,
    heldDecodedSets: 0,
    heldDroppedSets: 0,
    malformedPackets: 0,
    malformedSets: 0,
    malformedRecords: 0,
    trailingBytes: 0,
    unknownWithdrawals: 0,
    unknownRateRecords: 0,
    unanchoredTimes: 0,
    sequenceGaps: 0,
    lost: 0,
    reordered: 0,
    sequenceResets: 0,
    recordsWithoutAddress: 0,
    samplesLost: 0,
    sampleDrops: 0,
    counterSamples: 0,
    unknownSamples: 0,
    unknownFlowRecords: 0,
    truncatedHeaders: 0,
    nselEventsSkipped: 0,
    reverseRecords: 0,
  };
}

export interface StoredTemplate {
  readonly id: number;
  readonly kind: 'data' | 'options';
  readonly fields: readonly TemplateField[];
  /** Options templates: how many leading fields are scope fields. */
  readonly scopeCount: number;
  /** v9 options scopes use their own type space (1 System, 2 Interface, ...), never IEs. */
  readonly scopeIsIE: boolean;
  readonly compiled: CompiledTemplate | null;
  /** layoutKey(fields), kept so a template refresh costs one key, not two. */
  readonly layout: string;
  /** False when the template has no source or no destination address: its records are counted, not published. */
  readonly addressed: boolean;
  /** Records of this template dropped for having no addresses (see DomainCounters.recordsWithoutAddress). */
  recordsWithoutAddress: number;
  /** When the exporter last sent it (arrival time): of two collectors' copies, the later wins. */
  definedAt: number;
}

const SRC_ADDRESS: readonly number[] = [IE.sourceIPv4Address, IE.sourceIPv6Address];
const DST_ADDRESS: readonly number[] = [IE.destinationIPv4Address, IE.destinationIPv6Address];

/** Does a data template carry both ends of a flow (an IANA source and destination address, or the packet itself)? */
function hasAddresses(fields: readonly TemplateField[]): boolean {
  const ids = fields.filter((f) => f.enterprise === 0).map((f) => f.id);
  if (ids.includes(IE.dataLinkFrameSection) || ids.includes(IE.ipHeaderPacketSection)) return true;
  return ids.some((id) => SRC_ADDRESS.includes(id)) && ids.some((id) => DST_ADDRESS.includes(id));
}

interface HeldSet {
  templateId: number;
  data: Buffer;
  exportMs: number;
  uptimeMs: number;
  heldAt: number;
}

export interface RegistryLimits {
  maxDomains: number;
  maxTemplatesPerDomain: number;
  maxFieldsPerTemplate: number;
  /** Data sets held per domain while their template is missing. */
  maxHeldSets: number;
  /** How long a held set waits for its template. */
  holdMs: number;
  /** Bytes held across all domains (bounded memory whatever the exporters do). */
  maxHeldBytes: number;
  /** A domain silent this long is forgotten by sweep() (templates included). */
  domainIdleMs: number;
}

export const DEFAULT_LIMITS: RegistryLimits = {
  maxDomains: 65536,
  maxTemplatesPerDomain: 4096,
  maxFieldsPerTemplate: 1024,
  maxHeldSets: 128,
  holdMs: 60_000,
  maxHeldBytes: 32 * 1024 * 1024,
  domainIdleMs: 6 * 3600_000,
};

/** Held bytes shared by every domain of a registry. */
export interface HeldBudget {
  bytes: number;
}

/** Sequence window within which a backwards step is reordering, not a restart. */
const REORDER_WINDOW = 1000;

/**
 * How far the sequence may plausibly move between two packets of one observation domain:
 * ten times what this domain sent in that time at its average rate so far, at least `floor`
 * (a burst lost while the clock hardly moved) and at most `cap`. v9 counts packets, v5 and
 * IPFIX count records. A bigger forward jump is a restart or a corrupted number, counted once
 * as a reset, never billions of "lost" records.
 */
export const PLAUSIBLE_GAP = {
  packets: { floor: 10_000, cap: 1_000_000 },
  records: { floor: 300_000, cap: 30_000_000 },
  /** Allowed multiple of the domain's average rate over the time since its previous packet. */
  burst: 10,
} as const;

/** `unitsPerMs`: the domain's average sequence rate so far; `elapsedMs`: since its previous packet. */
export function maxPlausibleGap(version: number, unitsPerMs: number, elapsedMs: number): number {
  // NetFlow v9 and sFlow number datagrams; v5 and IPFIX number records.
  const r = version === 9 || version === PROTOCOL.sflow5 ? PLAUSIBLE_GAP.packets : PLAUSIBLE_GAP.records;
  const expected = unitsPerMs > 0 && elapsedMs > 0 ? PLAUSIBLE_GAP.burst * unitsPerMs * elapsedMs : 0;
  return Math.min(r.cap, Math.max(r.floor, Math.ceil(expected)));
}

/** Everything known about one exporter + protocol + observation domain. */
export class DomainState implements RecordContext {
  readonly counters = zeroCounters();
  readonly templates = new Map<number, StoredTemplate>();
  /** Sampler / selector id → announced rate. */
  readonly samplers = new Map<number, number>();
  /** Rate announced without a sampler id (exporter-wide). */
  announcedRate = 0;
  private held: HeldSet[] = [];
  /** Next expected sequence number; NaN = unknown (start, or after an undecodable set). */
  expectedSeq = NaN;
  private seqSlack = 0;
  private lastSeq = NaN;
  /**
   * After an implausible jump: where the old sequence would continue. If the next packet fits
   * it, the jump was one corrupted number and accounting resumes on the old sequence.
   */
  private resumeSeq = NaN;
  /** A packet only the post-increment reading explained, and the gap it had under the RFC reading. */
  private pendingPost = NaN;
  /** Exporter numbers messages after counting their own records (see sequence()). */
  postIncrement = false;
  lastSeenMs = 0;
  /** Arrival of the packet before the current one (0 = none) and of the first: with the units
   *  seen, they give the domain's rate, which bounds a plausible sequence gap. */
  private prevSeenMs = 0;
  private firstSeenMs = 0;
  private unitsSeen = 0;
  /** Bumped on every template or sampling change, so a persister knows when to save. */
  changes = 0;
  /**
   * Set by a collector that found another collector receiving this exporter too (spread per
   * packet, not pinned): gaps are then not counted as loss, since neither sees every packet.
   */
  sequenceSplit = false;

  /** See sequenceSplit. When it ends the sequence starts afresh: its numbers went on elsewhere meanwhile. */
  setSequenceSplit(split: boolean): void {
    if (split === this.sequenceSplit) return;
    this.sequenceSplit = split;
    if (!split) {
      this.expectedSeq = NaN;
      this.lastSeq = NaN;
      this.resumeSeq = NaN;
      this.pendingPost = NaN;
    }
  }
  /** UTC day (days since the epoch) of the flows in the latest packet with records; -1 = none yet. */
  flowDay = -1;
  /** Start of `flowDay` in Unix ms (NaN before the first): the decoder's per-packet test needs no division. */
  flowDayStartMs = NaN;
  /** The counters as they stood when the flows' day changed (they belong to `day`), oldest first. */
  dayMarks: { day: number; counters: DomainCounters }[] = [];

  // RecordContext, refreshed per packet.
  exp0 = 0;
  exp1 = 0;
  exp2 = 0;
  exp3 = 0;
  templateId = 0;
  exportMs = 0;
  uptimeMs = NaN;
  initMs = NaN;
  overrideRate = 0;
  defaultRate = 0;
  /** sFlow: the rate of the last sample (each sample carries its own; there is no exporter-wide one). */
  lastSampleRate = 0;
  unknownRate = 0;
  unanchoredTimes = 0;
  malformedRecords = 0;
  noAddress = 0;
  truncatedHeaders = 0;
  nselSkipped = 0;
  reverseRecords = 0;
  consumed = 0;
  /** Records the last data set held as exported (see RecordContext.consumed). */
  lastSetRecords = 0;
  /** NSEL connections whose bytes flow-update events counted (bounded; oldest forgotten first). */
  private nselUpdated = new Set<number>();

  nselUpdate(connId: number): void {
    if (this.nselUpdated.has(connId)) return;
    if (this.nselUpdated.size >= 65_536) this.nselUpdated.delete(this.nselUpdated.values().next().value!);
    this.nselUpdated.add(connId);
  }

  nselTeardown(connId: number): boolean {
    return this.nselUpdated.delete(connId);
  }

  constructor(
    readonly exporter: Uint8Array,
    readonly exporterText: string,
    readonly version: number,
    readonly domain: number,
    private policy: SamplingPolicy,
    private readonly limits: RegistryLimits,
    private readonly budget: HeldBudget = { bytes: 0 },
  ) {
    const dv = new DataView(exporter.buffer, exporter.byteOffset, 16);
    this.exp0 = dv.getUint32(0, true);
    this.exp1 = dv.getUint32(4, true);
    this.exp2 = dv.getUint32(8, true);
    this.exp3 = dv.getUint32(12, true);
    this.refreshRates();
  }

  setPolicy(policy: SamplingPolicy): void {
    this.policy = policy;
    this.refreshRates();
  }

  /** Decide the rate for records naming no sampler: override, announced, sole sampler, configured. */
  private refreshRates(): void {
    this.overrideRate = this.policy.override;
    let announced = this.announcedRate;
    if (announced === 0 && this.samplers.size === 1) announced = this.samplers.values().next().value!;
    this.defaultRate = announced || this.policy.fallback;
  }

  /** A rate learned outside an options record (an archive's sampler records): id < 0 = exporter-wide. */
  learnRate(samplerId: number, rate: number): void {
    if (rate <= 0) return;
    if (samplerId >= 0) {
      if (this.samplers.get(samplerId) === rate) return;
      this.samplers.set(samplerId, rate);
    } else {
      if (this.announcedRate === rate) return;
      this.announcedRate = rate;
    }
    this.refreshRates();
    this.changes++;
  }

  /** The rate to show for this exporter/domain (health, metrics, console), in the order records take theirs: override, sFlow's sample rate, announced or configured; 0 = unknown. */
  get shownRate(): number {
    return this.overrideRate || this.lastSampleRate || this.defaultRate;
  }

  rateFor(samplerId: number): number {
    return this.samplers.get(samplerId) ?? this.defaultRate;
  }

  /** Start of a packet: refresh the per-packet part of the record context. */
  beginPacket(exportMs: number, uptimeMs: number, receivedMs: number): void {
    this.exportMs = exportMs;
    this.uptimeMs = uptimeMs;
    this.prevSeenMs = this.lastSeenMs;
    this.lastSeenMs = receivedMs;
    if (this.firstSeenMs === 0) this.firstSeenMs = receivedMs;
    this.counters.packets++;
    if (this.held.length) this.expireHeld(receivedMs);
  }

  /**
   * Sequence accounting. `units` is how far this packet moves the sequence:
   * 1 for v9 (counts packets), its record count for v5 and IPFIX (count records);
   * NaN when unknown (IPFIX packet with an undecodable set). `slack`: how many of those
   * units the next packet may leave uncounted without it being a gap (IPFIX options records).
   */
  sequence(seq: number, units: number, slack = 0): void {
    const known = units === units;
    if (known) this.unitsSeen += units;
    // Another collector receives part of this exporter's packets: a gap is its share, not loss.
    if (this.sequenceSplit) return;
    if (this.resumeSeq === this.resumeSeq) {
      // Pre-increment: the next number of the old sequence; post-increment: the old count so far.
      const resume = this.postIncrement && known ? (this.resumeSeq + units) >>> 0 : this.resumeSeq;
      this.resumeSeq = NaN;
      const fromResume = (seq - resume) >>> 0;
      if (fromResume <= this.plausibleGap(units)) {
        // The jump before was one corrupted number: continue the old sequence (the reset it
        // was counted as stands; whatever this packet skipped is a gap as usual).
        if (fromResume !== 0) {
          this.counters.sequenceGaps++;
          this.counters.lost += fromResume;
        }
        this.lastSeq = known ? seq : NaN;
        this.expectedSeq = known ? (seq + units) >>> 0 : NaN;
        this.seqSlack = slack;
        return;
      }
    }
    // Pre-increment (RFC): a message carries the count *before* its own records. Some exporters
    // (softflowd's IPFIX) send the count *after* them; a domain switches to that reading when
    // two packets in a row fit only it, so their streams show no phantom gaps — and an RFC
    // exporter that lost one message whose size happens to fit is not switched for good.
    const expected = this.postIncrement ? (known && this.lastSeq === this.lastSeq ? (this.lastSeq + units) >>> 0 : NaN) : this.expectedSeq;
    const seqSlack = this.postIncrement ? slack : this.seqSlack;
    if (expected === expected) {
      let ahead = (seq - expected) >>> 0;
      // Some IPFIX exporters leave options records out of the count: accept either.
      const tolerated = seqSlack > 0 && 0x100000000 - ahead <= seqSlack;
      if (!this.postIncrement && known && this.lastSeq === this.lastSeq) {
        const post = (seq - this.lastSeq - units) >>> 0;
        const postFits = post === 0 || 0x100000000 - post <= slack;
        const preFits = ahead === 0 || tolerated;
        if (postFits && !preFits) {
          if (this.pendingPost === this.pendingPost) {
            this.postIncrement = true; // the second in a row: a post-increment exporter
            this.pendingPost = NaN;
            ahead = 0;
          } else {
            this.pendingPost = ahead; // judged with the next packet
            this.lastSeq = seq;
            this.expectedSeq = (seq + units) >>> 0;
            this.seqSlack = slack;
            return;
          }
        } else if (!postFits && this.pendingPost === this.pendingPost) {
          // Only the RFC reading explains this packet: the one before had a real gap.
          this.countGap(this.pendingPost, units);
          this.pendingPost = NaN;
        }
      }
      if (ahead !== 0 && !tolerated) {
        if (ahead <= this.plausibleGap(units)) {
          this.counters.sequenceGaps++;
          this.counters.lost += ahead;
        } else if (0x100000000 - ahead <= REORDER_WINDOW) {
          this.counters.reordered++;
          return; // keep expecting what we expected
        } else {
          this.counters.sequenceResets++;
          // This packet was received: the old sequence, if it goes on, continues after it.
          if (known && !this.postIncrement) this.resumeSeq = (expected + units) >>> 0;
          else if (known) this.resumeSeq = expected;
        }
      }
    }
    this.lastSeq = known ? seq : NaN;
    this.expectedSeq = known ? (seq + units) >>> 0 : NaN;
    this.seqSlack = slack;
  }

  private countGap(ahead: number, units: number): void {
    if (ahead <= this.plausibleGap(units)) {
      this.counters.sequenceGaps++;
      this.counters.lost += ahead;
    } else this.counters.sequenceResets++;
  }

  /** Only computed when the sequence jumped (not per packet). */
  private plausibleGap(units: number): number {
    const span = this.prevSeenMs - this.firstSeenMs;
    const before = units === units ? this.unitsSeen - units : this.unitsSeen;
    return maxPlausibleGap(this.version, span > 0 ? before / span : 0, this.prevSeenMs > 0 ? this.lastSeenMs - this.prevSeenMs : 0);
  }

  // ---- templates ----------------------------------------------------------

  /** Add or replace a template. Returns false (and counts) when refused. */
  defineTemplate(
    id: number,
    kind: 'data' | 'options',
    fields: TemplateField[],
    scopeCount: number,
    scopeIsIE: boolean,
    w: BatchWriter | null,
    definedAt = this.lastSeenMs,
  ): boolean {
    if (fields.length === 0 || fields.length > this.limits.maxFieldsPerTemplate) {
      this.counters.templatesRejected++;
      return false;
    }
    let min = 0;
    for (const f of fields) min += f.length === VARLEN ? 1 : f.length;
    if (min === 0) {
      this.counters.templatesRejected++;
      return false;
    }
    const prev = this.templates.get(id);
    if (!prev && this.templates.size >= this.limits.maxTemplatesPerDomain) {
      this.counters.templatesRejected++;
      return false;
    }
    const layout = layoutKey(fields);
    if (prev && prev.kind === kind && prev.scopeCount === scopeCount && prev.layout === layout) {
      if (definedAt > prev.definedAt) prev.definedAt = definedAt; // refresh
      return true;
    }
    let compiled: CompiledTemplate | null = null;
    if (kind === 'data') {
      try {
        compiled = compileTemplate(fields);
      } catch {
        this.counters.templatesRejected++;
        return false;
      }
    }
    this.templates.set(id, {
      id,
      kind,
      fields,
      scopeCount,
      scopeIsIE,
      compiled,
      layout,
      addressed: kind === 'options' || hasAddresses(fields),
      recordsWithoutAddress: 0,
      definedAt,
    });
    this.changes++;
    if (prev) this.counters.templatesChanged++;
    else this.counters.templatesAdded++;
    if (w && this.held.length) this.replayHeld(id, w);
    return true;
  }

  withdrawTemplate(id: number): void {
    if (this.templates.delete(id)) {
      this.counters.templatesWithdrawn++;
      this.changes++;
    } else this.counters.unknownWithdrawals++;
  }

  withdrawAll(kind: 'data' | 'options'): void {
    for (const [id, t] of this.templates) {
      if (t.kind === kind) {
        this.templates.delete(id);
        this.counters.templatesWithdrawn++;
        this.changes++;
      }
    }
  }

  // ---- sets ----------------------------------------------------------------

  /**
   * Decode one data set (its body: b[p..end)). Returns records decoded, or -1 when the
   * template is unknown (the set is held for a while if room allows).
   */
  dataSet(templateId: number, b: Uint8Array, p: number, end: number, w: BatchWriter): number {
    const t = this.templates.get(templateId);
    if (!t) {
      this.counters.missingTemplateSets++;
      this.hold(templateId, b, p, end);
      return -1;
    }
    if (t.kind === 'options') {
      this.lastSetRecords = 0;
      return this.optionsSet(t, b, p, end);
    }
    this.templateId = templateId;
    const before = this.malformedRecords;
    const mark = w.count;
    this.consumed = 0;
    let n = t.compiled!.decode(b, p, end, w, this);
    this.lastSetRecords = this.consumed;
    if (!t.addressed) {
      // Decoded for framing and counters only: a flow without both ends would be published as :: → ::.
      w.truncate(mark);
      t.recordsWithoutAddress += n;
      this.counters.recordsWithoutAddress += n;
      n = 0;
    }
    this.counters.records += n;
    if (this.malformedRecords !== before) this.counters.malformedRecords += this.malformedRecords - before;
    this.malformedRecords = 0;
    this.counters.unknownRateRecords += this.unknownRate;
    this.counters.unanchoredTimes += this.unanchoredTimes;
    this.counters.recordsWithoutAddress += this.noAddress;
    this.counters.truncatedHeaders += this.truncatedHeaders;
    this.counters.nselEventsSkipped += this.nselSkipped;
    this.counters.reverseRecords += this.reverseRecords;
    this.unknownRate = 0;
    this.unanchoredTimes = 0;
    this.noAddress = 0;
    this.truncatedHeaders = 0;
    this.nselSkipped = 0;
    this.reverseRecords = 0;
    return n;
  }

  /** Options data: sampler rates and system init time. Rare, so interpreted, not compiled. */
  private optionsSet(t: StoredTemplate, b: Uint8Array, p: number, end: number): number {
    let n = 0;
    let min = 0;
    for (const f of t.fields) min += f.length === VARLEN ? 1 : f.length;
    const values = new Map<number, number>();
    while (end - p >= min) {
      values.clear();
      let q = p;
      let ok = true;
      for (let i = 0; i < t.fields.length; i++) {
        const f = t.fields[i]!;
        let len = f.length;
        if (len === VARLEN) {
          if (q >= end) {
            ok = false;
            break;
          }
          len = b[q]!;
          q++;
          if (len === 255) {
            if (q + 2 > end) {
              ok = false;
              break;
            }
            len = (b[q]! << 8) | b[q + 1]!;
            q += 2;
          }
        }
        if (q + len > end) {
          ok = false;
          break;
        }
        const isIE = i >= t.scopeCount || t.scopeIsIE;
        if (isIE && f.enterprise === 0 && len >= 1 && len <= 8) {
          let v = 0;
          for (let k = 0; k < len; k++) v = v * 256 + b[q + k]!;
          if (!values.has(f.id)) values.set(f.id, v);
        }
        q += len;
      }
      if (!ok) {
        this.counters.malformedRecords++;
        break;
      }
      p = q;
      n++;
      this.applyOptions(values);
    }
    this.counters.optionsRecords += n;
    return n;
  }

  private applyOptions(values: Map<number, number>): void {
    const s = samplingFromOptions(values);
    if (s) {
      const before = s.samplerId >= 0 ? this.samplers.get(s.samplerId) : this.announcedRate;
      if (before !== s.rate) {
        if (s.samplerId >= 0) this.samplers.set(s.samplerId, s.rate);
        else this.announcedRate = s.rate;
        this.refreshRates();
        this.changes++;
      }
    }
    const init = values.get(IE.systemInitTimeMilliseconds);
    if (init !== undefined && init > 0 && init !== this.initMs) {
      this.initMs = init;
      this.changes++;
    }
  }

  // ---- data before its template -------------------------------------------

  private hold(templateId: number, b: Uint8Array, p: number, end: number): void {
    if (this.budget.bytes + (end - p) > this.limits.maxHeldBytes) {
      this.counters.heldDroppedSets++;
      return;
    }
    if (this.held.length >= this.limits.maxHeldSets) {
      this.budget.bytes -= this.held.shift()!.data.length;
      this.counters.heldDroppedSets++;
    }
    this.budget.bytes += end - p;
    this.held.push({ templateId, data: Buffer.from(b.subarray(p, end)), exportMs: this.exportMs, uptimeMs: this.uptimeMs, heldAt: this.lastSeenMs });
  }

  private replayHeld(templateId: number, w: BatchWriter): void {
    const exportMs = this.exportMs;
    const uptimeMs = this.uptimeMs;
    const keep: HeldSet[] = [];
    for (const h of this.held) {
      if (h.templateId !== templateId) {
        keep.push(h);
        continue;
      }
      this.budget.bytes -= h.data.length;
      // Decode with the context of the packet that carried the set.
      this.exportMs = h.exportMs;
      this.uptimeMs = h.uptimeMs;
      this.dataSet(templateId, h.data, 0, h.data.length, w);
      this.counters.heldDecodedSets++;
    }
    this.held = keep;
    this.exportMs = exportMs;
    this.uptimeMs = uptimeMs;
  }

  expireHeld(now: number): void {
    const limit = now - this.limits.holdMs;
    let i = 0;
    while (i < this.held.length && this.held[i]!.heldAt < limit) this.budget.bytes -= this.held[i++]!.data.length;
    if (i > 0) {
      this.held.splice(0, i);
      this.counters.heldDroppedSets += i;
    }
  }

  /** Give back everything held (the domain is being forgotten). */
  releaseHeld(): void {
    for (const h of this.held) this.budget.bytes -= h.data.length;
    this.held = [];
  }

  get heldSets(): number {
    return this.held.length;
  }

  // ---- persistence ----------------------------------------------------------

  snapshot(): DomainSnapshot {
    return {
      exporter: this.exporterText,
      version: this.version,
      domain: this.domain,
      templates: [...this.templates.values()].map((t) => ({
        id: t.id,
        kind: t.kind,
        scopeCount: t.scopeCount,
        scopeIsIE: t.scopeIsIE,
        fields: t.fields.map((f) => [f.id, f.length, f.enterprise] as [number, number, number]),
        definedAt: t.definedAt,
      })),
      samplers: [...this.samplers.entries()],
      announcedRate: this.announcedRate,
      initMs: Number.isNaN(this.initMs) ? null : this.initMs,
      sequence: this.sequenceState(),
    };
  }

  /** Where the exporter's sequence stands: what a restarted collector needs to count the gap once. */
  sequenceState(): SequenceState {
    // Split: the numbers stand where this collector stopped following them (they went on at the
    // other's), so a restart must not count the distance as loss.
    const known = !this.sequenceSplit;
    return {
      expected: known && this.expectedSeq === this.expectedSeq ? this.expectedSeq : null,
      last: known && this.lastSeq === this.lastSeq ? this.lastSeq : null,
      postIncrement: this.postIncrement,
      lastSeenMs: this.lastSeenMs,
      firstSeenMs: this.firstSeenMs,
      unitsSeen: this.unitsSeen,
    };
  }

  /** Continue a saved sequence: a gap across a collector restart (what arrived while it was down) is counted. */
  restoreSequenceState(s: SequenceState): void {
    this.expectedSeq = s.expected ?? NaN;
    this.lastSeq = s.last ?? NaN;
    this.postIncrement = s.postIncrement;
    this.lastSeenMs = s.lastSeenMs;
    this.firstSeenMs = s.firstSeenMs;
    this.unitsSeen = s.unitsSeen;
  }

  // ---- the day of the flows ---------------------------------------------------

  /**
   * The flows' day of the latest packet that carried records (its first record's start), so
   * health is stored under the day of the flows it describes, not the day it was taken (a
   * replayed day, an export delayed past midnight). Called once per packet with records, after
   * it was decoded: the packet that turns the day still counts for the day before.
   */
  noteFlowDay(day: number): void {
    if (day === this.flowDay) return;
    if (this.flowDay >= 0) {
      // A packet that reorders across midnight may flip back and forth: keep a bounded list,
      // the oldest segment merging into the next when full.
      if (this.dayMarks.length >= MAX_DAY_MARKS) this.dayMarks.shift();
      this.dayMarks.push({ day: this.flowDay, counters: { ...this.counters } });
    }
    this.flowDay = day;
    this.flowDayStartMs = day * 86_400_000;
  }

  restore(s: DomainSnapshot): void {
    for (const t of s.templates) {
      this.defineTemplate(
        t.id,
        t.kind,
        t.fields.map(([id, length, enterprise]) => ({ id, length, enterprise })),
        t.scopeCount,
        t.scopeIsIE,
        null,
        t.definedAt ?? 0,
      );
    }
    // Restored templates are not "added" by the exporter: keep counters about live traffic.
    this.counters.templatesAdded = 0;
    for (const [id, rate] of s.samplers) this.samplers.set(id, rate);
    this.announcedRate = s.announcedRate;
    if (s.initMs !== null) this.initMs = s.initMs;
    if (s.sequence) this.restoreSequenceState(s.sequence);
    this.refreshRates();
  }
  /**
   * Templates and samplers another collector learned from this exporter (shared through Redis
   * by load-balanced collectors): data sets held here for them are decoded into `w` at once.
   * The sequence is not touched (each collector counts what it receives) nor the counters
   * about this collector's own traffic. Returns templates that were new or changed here.
   */
  applyShared(s: DomainSnapshot, w: BatchWriter): number {
    const added = this.counters.templatesAdded;
    const changed = this.counters.templatesChanged;
    const before = this.changes;
    for (const t of s.templates) {
      if (!Array.isArray(t?.fields)) continue;
      // Only what is missing here or newer there: a peer's stale copy never replaces what the exporter just sent.
      const local = this.templates.get(t.id);
      const at = t.definedAt ?? 0;
      if (local && at <= local.definedAt) continue;
      this.defineTemplate(
        t.id,
        t.kind,
        t.fields.map(([id, length, enterprise]) => ({ id, length, enterprise })),
        t.scopeCount,
        t.scopeIsIE,
        w,
        at,
      );
    }
    const learned = this.changes - before;
    this.counters.templatesAdded = added;
    this.counters.templatesChanged = changed;
    // Rates this collector has not learned itself (its own are at least as fresh).
    for (const [id, rate] of Array.isArray(s.samplers) ? s.samplers : []) if (!this.samplers.has(id)) this.learnRate(id, rate);
    if (s.announcedRate > 0 && this.announcedRate === 0) this.learnRate(-1, s.announcedRate);
    if (typeof s.initMs === 'number' && Number.isNaN(this.initMs)) this.initMs = s.initMs;
    return learned;
  }
}

export interface DomainSnapshot {
  exporter: string;
  version: number;
  domain: number;
  templates: { id: number; kind: 'data' | 'options'; scopeCount: number; scopeIsIE: boolean; fields: [number, number, number][]; definedAt?: number }[];
  samplers: [number, number][];
  announcedRate: number;
  initMs: number | null;
  /** Where the exporter's sequence stood when saved (absent in files of older versions). */
  sequence?: SequenceState;
}

export interface SequenceState {
  expected: number | null;
  last: number | null;
  postIncrement: boolean;
  lastSeenMs: number;
  firstSeenMs: number;
  unitsSeen: number;
}

/** Day changes kept between two health snapshots (more only when packets reorder across midnight). */
const MAX_DAY_MARKS = 8;

export interface RegistrySnapshot {
  format: 'haystack-templates';
  version: 1;
  savedAt: string;
  domains: DomainSnapshot[];
}

/**
 * All exporter/domain states, keyed by exporter address + protocol version +
 * observation domain (templates of one line card never shadow another's).
 */
export class TemplateRegistry {
  private readonly domains = new Map<string, DomainState>();
  private readonly index = new Map<string, Map<number, DomainState>>();
  readonly limits: RegistryLimits;
  /** Packets refused because the domain limit was reached. */
  refusedDomains = 0;
  /** The domain of the latest get(): the decoder notes the flows' day of the packet on it. */
  lastDomain: DomainState | null = null;
  /** Domains forgotten by sweep() after staying silent for limits.domainIdleMs. */
  evictedDomains = 0;
  /** Bytes of data sets held for missing templates, all domains together. */
  readonly held: HeldBudget = { bytes: 0 };

  constructor(
    private sampling: SamplingConfig = new SamplingConfig(),
    limits: Partial<RegistryLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  setSampling(sampling: SamplingConfig): void {
    this.sampling = sampling;
    for (const d of this.domains.values()) d.setPolicy(sampling.policyFor(d.exporter, d.domain));
  }

  /** The state for (exporter, version, domain); null when over the limit. `key` is the caller's cached exporter text. */
  get(exporter: Uint8Array, exporterText: string, version: number, domain: number): DomainState | null {
    // Two levels (exporter text, then a numeric version+domain key): no string built per packet.
    let byExporter = this.index.get(exporterText);
    const sub = version * 0x100000000 + domain;
    let d = byExporter?.get(sub);
    if (!d) {
      if (this.domains.size >= this.limits.maxDomains) {
        this.refusedDomains++;
        this.lastDomain = null;
        return null;
      }
      d = new DomainState(Uint8Array.from(exporter), exporterText, version, domain, this.sampling.policyFor(exporter, domain), this.limits, this.held);
      this.domains.set(`${exporterText}|${version}|${domain}`, d);
      if (!byExporter) this.index.set(exporterText, (byExporter = new Map()));
      byExporter.set(sub, d);
    }
    this.lastDomain = d;
    return d;
  }

  /**
   * Housekeeping, called now and then by the collector (not per packet): expire held sets
   * of domains that went quiet, and forget domains silent for limits.domainIdleMs so that
   * sources that come and go (or are spoofed) cannot pin memory or the domain limit.
   */
  sweep(now: number): void {
    const idleBefore = now - this.limits.domainIdleMs;
    for (const [key, d] of this.domains) {
      if (d.lastSeenMs < idleBefore) {
        d.releaseHeld();
        this.domains.delete(key);
        const byExporter = this.index.get(d.exporterText);
        byExporter?.delete(d.version * 0x100000000 + d.domain);
        if (byExporter?.size === 0) this.index.delete(d.exporterText);
        this.evictedDomains++;
      } else if (d.heldSets > 0) d.expireHeld(now);
    }
  }

  all(): IterableIterator<DomainState> {
    return this.domains.values();
  }

  /** A domain's key across collectors: `exporter|version|domain`. */
  static keyOf(d: { exporterText?: string; exporter?: string | Uint8Array; version: number; domain: number }): string {
    const e = d.exporterText ?? (typeof d.exporter === 'string' ? d.exporter : '');
    return `${e}|${d.version}|${d.domain}`;
  }

  /** The domain under `keyOf`'s key, if this registry has it (never creates one). */
  find(key: string): DomainState | undefined {
    return this.domains.get(key);
  }

  /** Apply another collector's templates and samplers (see DomainState.applyShared); creates the domain. */
  applyShared(ds: DomainSnapshot, parseAddr: (text: string) => Uint8Array, w: BatchWriter): number {
    const addr = parseAddr(ds.exporter);
    const d = this.get(addr, formatAddress(addr), ds.version, ds.domain);
    return d ? d.applyShared(ds, w) : 0;
  }

  get size(): number {
    return this.domains.size;
  }

  /** Grows on any template or sampling change: tells a persister there is something to save. */
  get generation(): number {
    let g = 0;
    for (const d of this.domains.values()) g += d.changes;
    return g;
  }

  snapshot(): RegistrySnapshot {
    return {
      format: 'haystack-templates',
      version: 1,
      savedAt: new Date().toISOString(),
      // Also domains with only a sequence (NetFlow v5 has no templates): a gap across a restart still counts.
      domains: [...this.domains.values()]
        .filter((d) => d.templates.size > 0 || d.samplers.size > 0 || d.announcedRate > 0 || d.expectedSeq === d.expectedSeq)
        .map((d) => d.snapshot()),
    };
  }

  /** Load a snapshot (templates, samplers, init times). Unknown formats are refused with an error. */
  restore(snap: RegistrySnapshot, parseAddr: (text: string) => Uint8Array): number {
    if (snap?.format !== 'haystack-templates' || snap.version !== 1) throw new Error('not a Haystack template snapshot (format/version)');
    let n = 0;
    for (const ds of snap.domains) {
      const addr = parseAddr(ds.exporter);
      const d = this.get(addr, formatAddress(addr), ds.version, ds.domain);
      if (!d) break;
      d.restore(ds);
      n += ds.templates.length;
    }
    return n;
  }
}
