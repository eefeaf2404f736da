import type { ClickHouseStore } from '@haystack/clickhouse';
import { ensureSchema, TABLES, type DetectorRows, type Retention, type Window } from '@haystack/store';

/** What a partition's state for one day looks like in storage (to rebuild it after a restart). */
export interface StoredDayState {
  /** Distinct (line, class, domain, hour) evidence, with the first time each was seen. */
  evidence: { line: string; class_id: string; level: string; domain: string; hour_ms: number; first_ms: number; hitlist_day: string }[];
  /** Direct detections (the class's own rule fired) already stored. */
  detections: { window: Window; window_start_ms: number; class_id: string; line: string }[];
}

/**
 * The detector's storage boundary: the schema, idempotent inserts (see @haystack/store ddl/detector.ts) and the
 * read that rebuilds a partition's evidence for a day. Tests wrap it to inject failures.
 */
export interface DetectorStorage {
  ensureSchema(): Promise<void>;
  /**
   * Insert every row; resolves only when all are stored. Tables are written in a fixed
   * order (detections first), and `done` marks tables already written by an earlier attempt
   * of the same rows so a retry does not write them again.
   */
  insert(rows: DetectorRows, done?: Set<keyof DetectorRows>): Promise<void>;
  loadDayState(source: string, partition: number, day: string): Promise<StoredDayState>;
}

const TABLE_OF: Record<keyof DetectorRows, string> = {
  detections: TABLES.detections,
  evidence: TABLES.evidence,
  lineDays: TABLES.lineDays,
  quality: TABLES.flowQuality,
  undecodable: TABLES.undecodable,
  health: TABLES.ingestHealth,
  classes: TABLES.classes,
  hitlists: TABLES.hitlists,
  ixpUnits: TABLES.ixpUnits,
  backendTraffic: TABLES.backendTraffic,
};
/** Detections before their evidence: stored evidence without its detection is re-derived on load anyway, this keeps the window small. */
const ORDER: (keyof DetectorRows)[] = [
  'detections',
  'evidence',
  'lineDays',
  'quality',
  'undecodable',
  'health',
  'classes',
  'hitlists',
  'ixpUnits',
  'backendTraffic',
];

export class ClickHouseDetectorStorage implements DetectorStorage {
  constructor(
    readonly ch: ClickHouseStore,
    private readonly retention: Retention,
  ) {}

  ensureSchema(): Promise<void> {
    return ensureSchema(this.ch, { detector: this.retention });
  }

  async insert(rows: DetectorRows, done: Set<keyof DetectorRows> = new Set()): Promise<void> {
    for (const k of ORDER) {
      if (done.has(k)) continue;
      const r = rows[k] as unknown as Record<string, unknown>[];
      if (r.length > 0) await this.ch.insert(TABLE_OF[k], r, { batchRows: 1_000_000 });
      done.add(k);
    }
  }

  async loadDayState(source: string, partition: number, day: string): Promise<StoredDayState> {
    const db = this.ch.database;
    const p = { day, source, partition };
    const evidence = await this.ch.query<{
      line: string;
      class_id: string;
      level: string;
      domain: string;
      hour_s: string | number;
      first_ms: string | number;
      hitlist_day: string;
    }>(
      `SELECT line, class_id, any(level) AS level, domain, toUnixTimestamp(hour) AS hour_s,
              toUnixTimestamp64Milli(min(first_seen)) AS first_ms, toString(any(hitlist_day)) AS hitlist_day
       FROM ${db}.${TABLES.evidence}
       WHERE day = {day:Date} AND source = {source:String} AND src_partition = {partition:UInt32}
       GROUP BY line, class_id, domain, hour_s`,
      p,
    );
    const detections = await this.ch.query<{ window: Window; ws: string | number; class_id: string; line: string }>(
      `SELECT DISTINCT toString(window) AS window, toUnixTimestamp(window_start) AS ws, class_id, line
       FROM ${db}.${TABLES.detections}
       WHERE day = {day:Date} AND source = {source:String} AND src_partition = {partition:UInt32} AND via = class_id`,
      p,
    );
    return {
      evidence: evidence.map((r) => ({
        line: r.line,
        class_id: r.class_id,
        level: r.level,
        domain: r.domain,
        hour_ms: Number(r.hour_s) * 1000,
        first_ms: Number(r.first_ms),
        hitlist_day: r.hitlist_day,
      })),
      detections: detections.map((r) => ({ window: r.window, window_start_ms: Number(r.ws) * 1000, class_id: r.class_id, line: r.line })),
    };
  }
}
