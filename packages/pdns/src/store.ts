import type { ClickHouseStore } from '@haystack/clickhouse';
import type { PdnsTuple } from './aggregate.js';
import { ensureSchema, TABLES } from '@haystack/store';

/**
 * Passive-DNS tuples in ClickHouse: per (day, name, type, data, source) the earliest and
 * latest sighting and the count, as aggregates (AggregatingMergeTree: min, max, sum), so the
 * windows a collector flushes through the day merge into one row each instead of piling up.
 * `source` is 'live' for what resolvers sent, `file:<content id>` for an imported dnstap file:
 * importing a file again first deletes that file's rows, so it never counts twice. Rows expire
 * with the TTL.
 */
export const LIVE_SOURCE = 'live';
const PDNS_TABLE = TABLES.pdnsTuples;

/** A passive-DNS fact over a day range, as the hitlist build reads it. */
export interface PdnsRow {
  name: string;
  type: 'A' | 'AAAA' | 'CNAME';
  data: string;
  /** Unix ms. */
  first: number;
  last: number;
  count: number;
}

const ts = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

export class PdnsStore {
  private constructor(readonly ch: ClickHouseStore) {}

  static async open(ch: ClickHouseStore, retentionDays: number): Promise<PdnsStore> {
    await ensureSchema(ch, { pdns: { retentionDays } });
    return new PdnsStore(ch);
  }

  async write(tuples: readonly PdnsTuple[], source: string): Promise<number> {
    return this.ch.insert(
      PDNS_TABLE,
      tuples.map((t) => ({ day: t.day, name: t.name, type: t.type, data: t.data, source, first_seen: ts(t.first), last_seen: ts(t.last), count: t.count })),
    );
  }

  /** Delete what `source` wrote (an imported file, before it is imported again). */
  async forget(source: string): Promise<void> {
    await this.ch.command(`ALTER TABLE ${this.ch.database}.${PDNS_TABLE} DELETE WHERE source = {source:String} SETTINGS mutations_sync = 2`, { source });
  }

  /** Tuples of the days from..to (inclusive, YYYY-MM-DD), merged over days and sources. */
  async read(from: string, to: string, onRow: (r: PdnsRow) => void): Promise<number> {
    const rows = await this.ch.query<{ name: string; type: PdnsRow['type']; data: string; first: string; last: string; count: string }>(
      `SELECT name, type, data, toUnixTimestamp64Milli(min(first_seen)) AS first, toUnixTimestamp64Milli(max(last_seen)) AS last, sum(count) AS count
       FROM ${this.ch.database}.${PDNS_TABLE}
       WHERE day >= {from:Date} AND day <= {to:Date}
       GROUP BY name, type, data`,
      { from, to },
    );
    for (const r of rows) onRow({ name: r.name, type: r.type, data: r.data, first: Number(r.first), last: Number(r.last), count: Number(r.count) });
    return rows.length;
  }

  /** Days with tuples, and how many (for `haystack pdns status`). */
  async days(): Promise<{ day: string; tuples: number }[]> {
    const rows = await this.ch.query<{ day: string; tuples: string }>(
      `SELECT toString(day) AS day, count() AS tuples FROM (SELECT day, name, type, data FROM ${this.ch.database}.${PDNS_TABLE} GROUP BY day, name, type, data) GROUP BY day ORDER BY day`,
    );
    return rows.map((r) => ({ day: r.day, tuples: Number(r.tuples) }));
  }
}
