import type { TableDDL } from '../schema.js';
import { TABLES } from '../tables.js';

/**
 * The export datagrams replays have stored, one row per datagram keyed by what it says (see
 * @haystack/ingest exportKey): a replay skips those, so the same exports count once however
 * they are packed or cut. Kept as long as the detector's quality rows.
 */
export function replayDDL(db: string, retentionDays: number): TableDDL[] {
  const ttl = `TTL toDate(replayed_at) + INTERVAL ${Math.trunc(retentionDays)} DAY`;
  return [
    {
      table: TABLES.replayedExports,
      ttl,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.replayedExports} (
    export_key String,
    replayed_at DateTime64(3, 'UTC')
  ) ENGINE = ReplacingMergeTree ORDER BY export_key
  ${ttl}`,
    },
    {
      table: TABLES.replayRuns,
      ttl,
      // The latest run of a capture per flow day wins (version: replayed_at).
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.replayRuns} (
    capture String,
    file String,
    day Date,
    complete UInt8,
    bytes_read UInt64,
    total_bytes UInt64,
    replayed_at DateTime64(3, 'UTC')
  ) ENGINE = ReplacingMergeTree(replayed_at) ORDER BY (day, capture)
  ${ttl}`,
    },
  ];
}
