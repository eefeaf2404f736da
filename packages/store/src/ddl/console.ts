import type { TableDDL } from '../schema.js';
import { TABLES } from '../tables.js';

/**
 * The console's own tables: caches of figures derived from the detector's tables (each row
 * carries the fingerprint of what it was computed from, so a changed day is recomputed), and the
 * audit trail every per-line lookup (and every refused attempt) is written to before it answers.
 */
export function consoleDDL(db: string): TableDDL[] {
  return [
    {
      table: TABLES.consoleDayCounts,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.consoleDayCounts} (
    day Date,
    fingerprint String,
    class_id String,
    lines UInt64,
    computed_at DateTime64(3, 'UTC')
  ) ENGINE = ReplacingMergeTree(computed_at) ORDER BY (day, class_id)`,
    },
    {
      // Time to detection per day and class: count, a t-digest of the delays (mergeable over days), max, histogram; 'daily' rows: lines only the daily window caught.
      table: TABLES.consoleTtdDays,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.consoleTtdDays} (
    day Date,
    fingerprint String,
    kind LowCardinality(String),
    class_id String,
    n UInt64,
    q AggregateFunction(quantilesTDigest(0.25, 0.5, 0.75, 0.9), Float64),
    mx Float64,
    hist_buckets Array(UInt8),
    hist_counts Array(UInt64),
    computed_at DateTime64(3, 'UTC')
  ) ENGINE = ReplacingMergeTree(computed_at) ORDER BY (day, kind, class_id)`,
    },
    {
      table: TABLES.consoleReports,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.consoleReports} (
    day Date,
    fingerprint String,
    data String,
    computed_at DateTime64(3, 'UTC')
  ) ENGINE = ReplacingMergeTree(computed_at) ORDER BY day`,
    },
    {
      table: TABLES.consoleLookupAudit,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.consoleLookupAudit} (
    at DateTime64(3, 'UTC'),
    who String,
    query String,
    from_day Date,
    to_day Date,
    lines UInt32,
    results UInt32,
    allowed UInt8,
    client String
  ) ENGINE = MergeTree ORDER BY at`,
    },
  ];
}
