import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, parseAddress, type HaystackConfig, type Logger } from '@haystack/common';
import { openClickHouse, type ClickHouseStore } from '@haystack/clickhouse';
import { BatchWriter, F, RECORD_SIZE } from '@haystack/flow-core';
import { HITLIST_FORMAT, type Hitlist } from '@haystack/hitlist-contract';
import type { FlowHandler, FlowSource } from '@haystack/transport';
import { type DetectorRows, TABLES } from '@haystack/store';
import type { DetectorStorage, StoredDayState } from './storage.js';

/** Shared by the tests (not a test file itself). */
export function tempDir(prefix = 'detector-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The test day: three days ago (UTC), so the evidence TTL (35 days by default, relative to the
 * flow's day) keeps the rows; a fixed calendar date would expire as the calendar moves on.
 */
export const DAY_START = Math.floor(Date.now() / 86_400_000 - 3) * 86_400_000;
export const DAY = new Date(DAY_START).toISOString().slice(0, 10);
export const H = 3_600_000;

/** A small dictionary: platform tuya, manufacturer acme with products cam and plug (cam on tuya). */
export const TEST_RULES = `
sources:
  - { id: test, title: test fixture }
platforms:
  - { id: tuya, name: Tuya, operator: Tuya, source: [test] }
manufacturers:
  - { id: acme, name: Acme, source: [test] }
products:
  - { id: acme-cam, name: Acme cam, manufacturer: acme, platforms: [tuya], source: [test] }
  - { id: acme-plug, name: Acme plug, manufacturer: acme, source: [test] }
domains:
  - { domain: cam1.acme.com, role: primary, ports: [tcp/443], used_by: [acme-cam], source: [test] }
  - { domain: cam2.acme.com, role: primary, ports: [tcp/443], used_by: [acme-cam], source: [test] }
  - { domain: api.acme.com, role: primary, ports: [tcp/8883], used_by: [acme-cam, acme-plug], source: [test] }
  - { domain: a.tuyaus.com, role: primary, ports: [tcp/443], used_by: [tuya], source: [test] }
`;

export function writeRules(dir: string): string {
  const d = join(dir, 'rules');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'rules.yaml'), TEST_RULES);
  return d;
}

/** Service addresses of the test hitlist. */
export const CAM1 = '198.51.100.1';
export const CAM2 = '198.51.100.2';
export const API = '198.51.100.3';
export const TUYA6 = '2001:db8:ffff::1';
/** One address, two domains (cam1 and api) on udp/123. */
export const MULTI = '198.51.100.4';

/**
 * The hitlist the dictionary above would give (classes acme-cam product, acme manufacturer,
 * tuya platform), written as the hitlist package's own type.
 */
export function testHitlist(day = DAY, extra: Partial<Hitlist> = {}): Hitlist {
  return {
    format: HITLIST_FORMAT,
    day,
    window: { from: day, to: day, days: 1 },
    builtAt: `${day}T00:00:00.000Z`,
    rulesDigest: 'test',
    classes: [
      { id: 'acme-cam', level: 'product', name: 'Acme cam' },
      { id: 'acme', level: 'manufacturer', name: 'Acme' },
      { id: 'tuya', level: 'platform', name: 'Tuya' },
    ],
    domains: [
      { name: 'cam1.acme.com', role: 'primary', classes: [0] },
      { name: 'cam2.acme.com', role: 'primary', classes: [0] },
      { name: 'api.acme.com', role: 'primary', classes: [1] },
      { name: 'a.tuyaus.com', role: 'primary', classes: [2] },
    ],
    rules: [
      { class: 0, evidence: [0, 1], threshold: 1 },
      { class: 1, evidence: [2], threshold: 1 },
      { class: 2, evidence: [3], threshold: 1 },
    ],
    entries: [
      { address: CAM1, port: 443, transport: 'tcp', domains: [0] },
      { address: CAM2, port: 443, transport: 'tcp', domains: [1] },
      { address: API, port: 8883, transport: 'tcp', domains: [2] },
      { address: TUYA6, port: 443, transport: 'tcp', domains: [3] },
      { address: MULTI, port: 123, transport: 'udp', domains: [0, 2] },
    ],
    ...extra,
  };
}

export interface FlowSpec {
  start: number;
  end?: number;
  src: string;
  dst: string;
  srcPort?: number;
  dstPort?: number;
  /** Default 6 (tcp). */
  proto?: number;
  /** Subscriber side bits (1 source, 2 destination); default 1. */
  side?: number;
  packets?: number;
  bytes?: number;
  /** Sampling rate N of 1:N, 0 = unknown; default 1000. */
  rate?: number;
  exporter?: string;
  domain?: number;
  version?: number;
  /** Link layer and AS numbers (an exchange fabric's exports). */
  srcMac?: string;
  dstMac?: string;
  srcAs?: number;
  dstAs?: number;
}

/** A sealed flow batch (header + CRC) with these records, written at the batch.ts offsets. */
export function makeBatch(flows: FlowSpec[], createdMs = DAY_START, producerField = 0): Buffer {
  const w = new BatchWriter(Math.max(1, flows.length));
  const o0 = w.reserve(flows.length);
  flows.forEach((f, i) => {
    const o = o0 + i * RECORD_SIZE;
    const b = w.buf;
    const dv = w.dv;
    dv.setFloat64(o + F.start, f.start, true);
    dv.setFloat64(o + F.end, f.end ?? f.start + 500, true);
    dv.setFloat64(o + F.bytes, f.bytes ?? 1200, true);
    dv.setFloat64(o + F.packets, f.packets ?? 3, true);
    parseAddress(f.src, b, o + F.src);
    parseAddress(f.dst, b, o + F.dst);
    parseAddress(f.exporter ?? '192.0.2.1', b, o + F.exporter);
    dv.setUint32(o + F.domain, f.domain ?? 0, true);
    dv.setUint32(o + F.sampling, f.rate ?? 1000, true);
    dv.setUint16(o + F.srcPort, f.srcPort ?? 40000, true);
    dv.setUint16(o + F.dstPort, f.dstPort ?? 443, true);
    b[o + F.proto] = f.proto ?? 6;
    b[o + F.ipVersion] = f.src.includes(':') ? 6 : 4;
    b[o + F.direction] = 0;
    b[o + F.side] = f.side ?? 1;
    b[o + F.version] = f.version ?? 9;
    if (f.srcMac) b.set(Buffer.from(f.srcMac.replace(/:/g, ''), 'hex'), o + F.srcMac);
    if (f.dstMac) b.set(Buffer.from(f.dstMac.replace(/:/g, ''), 'hex'), o + F.dstMac);
    dv.setUint32(o + F.srcAs, f.srcAs ?? 0, true);
    dv.setUint32(o + F.dstAs, f.dstAs ?? 0, true);
  });
  w.count += flows.length;
  return w.finish(createdMs, producerField);
}

/** A flow from subscriber `line` to a hitlist service (side 1). */
export function toService(line: string, service: string, start: number, extra: Partial<FlowSpec> = {}): FlowSpec {
  return { start, src: line, dst: service, srcPort: 40000, dstPort: 443, side: 1, ...extra };
}

/**
 * A dictionary with no class: the tests' default, so the class hierarchy comes from the
 * hitlists they publish (a configured rulesDir must exist, or the detector refuses to start).
 */
let emptyRules: string | null = null;
export function emptyRulesDir(): string {
  if (emptyRules === null) {
    const d = mkdtempSync(join(tmpdir(), 'detector-empty-rules-'));
    writeFileSync(join(d, 'empty.yaml'), 'version: 1\n');
    process.once('exit', () => rmSync(d, { recursive: true, force: true }));
    emptyRules = d;
  }
  return emptyRules;
}

export function testConfig(detector: Record<string, unknown> = {}, rest: Record<string, unknown> = {}): HaystackConfig {
  return configSchema.parse({ log: { level: 'silent' }, detector: { lineKey: 'test-line-key-0123456789', rulesDir: emptyRulesDir(), ...detector }, ...rest });
}

let chdbDir: { dir: string; cleanup: () => void } | null = null;
let dbSeq = 0;

/**
 * chdb allows one data directory per process: each test file gets one (under the OS temp
 * dir) and every test its own database in it.
 */
export async function openTestClickHouse(name = 'd'): Promise<ClickHouseStore> {
  chdbDir ??= tempDir('detector-chdb-');
  const ch = await openClickHouse({ dataDir: chdbDir.dir, database: `${name}_${process.pid}_${++dbSeq}` });
  await ch.ensureDatabase();
  return ch;
}

/** The test file's chdb data directory (for other stores opened in the same process, e.g. HitlistHistory). */
export function chdbDataDir(): string {
  chdbDir ??= tempDir('detector-chdb-');
  return chdbDir.dir;
}

export function cleanupClickHouseDir(): void {
  chdbDir?.cleanup();
  chdbDir = null;
}

/** Storage whose first `failures` inserts fail (before writing anything) — ClickHouse away for a while. */
export class FlakyStorage implements DetectorStorage {
  inserts = 0;
  failed = 0;
  constructor(
    private readonly inner: DetectorStorage,
    public failures: number,
  ) {}
  ensureSchema(): Promise<void> {
    return this.inner.ensureSchema();
  }
  async insert(rows: DetectorRows, done?: Set<keyof DetectorRows>): Promise<void> {
    this.inserts++;
    if (this.failed < this.failures) {
      this.failed++;
      throw new Error(`injected: ClickHouse unavailable (${this.failed}/${this.failures})`);
    }
    await this.inner.insert(rows, done);
  }
  loadDayState(source: string, partition: number, day: string): Promise<StoredDayState> {
    return this.inner.loadDayState(source, partition, day);
  }
}

export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Counts as the report would read them (FINAL: duplicates collapsed). */
export async function storedCounts(ch: ClickHouseStore): Promise<{
  detections: { window: string; class_id: string; via: string; line: string; window_start: string }[];
  evidence: { flows: number; sampled_packets: number; est_packets: number; unknown_rate_flows: number };
  quality: { records: number; matched: number; unknown_rate: number; no_hitlist: number };
  activeLines: number;
  undecodable: number;
}> {
  const db = ch.database;
  const detections = await ch.query<{ window: string; class_id: string; via: string; line: string; window_start: string }>(
    `SELECT toString(window) AS window, class_id, via, line, toString(window_start) AS window_start FROM ${db}.${TABLES.detections} FINAL ORDER BY window, class_id, via, line, window_start`,
  );
  const [ev] = await ch.query<Record<string, string>>(
    `SELECT sum(flows) AS flows, sum(sampled_packets) AS sampled_packets, sum(est_packets) AS est_packets, sum(unknown_rate_flows) AS unknown_rate_flows FROM ${db}.${TABLES.evidence} FINAL`,
  );
  const [q] = await ch.query<Record<string, string>>(
    `SELECT sum(records) AS records, sum(matched) AS matched, sum(unknown_rate) AS unknown_rate, sum(no_hitlist) AS no_hitlist FROM ${db}.${TABLES.flowQuality} FINAL`,
  );
  const [a] = await ch.query<{ n: string }>(`SELECT uniqExactMerge(lines) AS n FROM ${db}.${TABLES.activeLines}`);
  const [u] = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${db}.${TABLES.undecodable} FINAL`);
  const num = (o: Record<string, string> | undefined, k: string) => Number(o?.[k] ?? 0);
  return {
    detections,
    evidence: {
      flows: num(ev, 'flows'),
      sampled_packets: num(ev, 'sampled_packets'),
      est_packets: num(ev, 'est_packets'),
      unknown_rate_flows: num(ev, 'unknown_rate_flows'),
    },
    quality: { records: num(q, 'records'), matched: num(q, 'matched'), unknown_rate: num(q, 'unknown_rate'), no_hitlist: num(q, 'no_hitlist') },
    activeLines: Number(a?.n ?? 0),
    undecodable: Number(u?.n ?? 0),
  };
}

/**
 * A logger that keeps every line (as JSON text) so tests can check what was logged, e.g.
 * that no key ever is. Implements the part of pino's Logger the services use.
 */
export function captureLogger(): { log: Logger; text: () => string; lines: string[] } {
  const lines: string[] = [];
  const write =
    (level: string) =>
    (...args: unknown[]) => {
      lines.push(
        JSON.stringify({ level, args }, (_k, v: unknown) =>
          v instanceof Error ? { name: v.name, message: v.message, stack: v.stack, cause: (v as { cause?: unknown }).cause } : v,
        ),
      );
    };
  const make = (): Logger =>
    ({
      level: 'debug',
      fatal: write('fatal'),
      error: write('error'),
      warn: write('warn'),
      info: write('info'),
      debug: write('debug'),
      trace: write('trace'),
      silent: () => undefined,
      child: () => make(),
      isLevelEnabled: () => true,
    }) as unknown as Logger;
  return { log: make(), text: () => lines.join('\n'), lines };
}

export interface Delivery {
  partition: number;
  offset: number;
  batch: Buffer;
}

/**
 * A flow source over a fixed list of deliveries with explicit offsets, for replaying "what a
 * restarted consumer would be given again" (the in-process bus numbers positions from 0 in
 * every process). Same contract as the real sources: per partition in order, a position is
 * committed only after the handler resolved, a failed handler is retried, close() leaves the
 * rest uncommitted.
 */
export class ListSource implements FlowSource {
  /** Waits for each batch to be stored before handing over the next. */
  readonly inFlightPerPartition = 1;
  readonly committed = new Map<number, number>();
  handlerErrors = 0;
  private running = false;
  private loops: Promise<void>[] = [];
  constructor(
    private readonly items: Delivery[],
    private readonly retryMs = 10,
  ) {}

  async run(handler: FlowHandler): Promise<void> {
    this.running = true;
    const parts = [...new Set(this.items.map((i) => i.partition))];
    this.loops = parts.map((p) =>
      this.loop(
        handler,
        this.items.filter((i) => i.partition === p),
      ),
    );
  }

  private async loop(handler: FlowHandler, items: Delivery[]): Promise<void> {
    for (const it of items) {
      for (;;) {
        if (!this.running) return;
        try {
          const accepted = await handler(it.batch, { partition: it.partition, offset: String(it.offset) });
          if (accepted) await accepted.stored;
          break;
        } catch {
          this.handlerErrors++;
          await new Promise((r) => setTimeout(r, this.retryMs));
        }
      }
      this.committed.set(it.partition, it.offset + 1);
    }
  }

  failed(): Promise<Error> {
    return new Promise<Error>(() => undefined);
  }

  /** Resolves when every item was handled (or the source was closed). */
  async done(): Promise<void> {
    await Promise.all(this.loops);
  }

  async close(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}
