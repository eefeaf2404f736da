import type { TableDDL } from '../schema.js';
import { TABLES } from '../tables.js';

/**
 * Passive DNS from the operator's resolvers: one row per day, name, type, answer and source,
 * aggregated as it arrives. `source` is 'live' for what resolvers sent, `file:<content id>` for an
 * imported dnstap file (imported again: its rows are deleted first). Rows expire with the TTL.
 */
export function pdnsDDL(db: string, retentionDays: number): TableDDL[] {
  const ttl = `TTL day + INTERVAL ${Math.floor(retentionDays)} DAY`;
  return [
    {
      // The TTL is set when the table is created, never changed on open: the hitlist build reads
      // this table with its own defaults and must not reset the collector's retention.
      table: TABLES.pdnsTuples,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.pdnsTuples} (
    day Date,
    name String,
    type LowCardinality(String),
    data String,
    source LowCardinality(String),
    first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    count SimpleAggregateFunction(sum, UInt64)
  ) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(day) ORDER BY (day, name, type, data, source)
  ${ttl}`,
    },
  ];
}
