import type { TableDDL } from '../schema.js';
import { TABLES } from '../tables.js';

/**
 * The hitlist builder's history: per day the entries (one row per address, port, transport, domain
 * and class), the classification decisions with their reasons, and one row per build. Partitioned
 * by day, so rebuilding a day replaces it (DROP PARTITION, then insert).
 */
export function hitlistDDL(db: string): TableDDL[] {
  return [
    {
      table: TABLES.hitlistEntries,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.hitlistEntries} (
    day Date,
    address IPv6,
    port UInt16,
    transport LowCardinality(String),
    domain LowCardinality(String),
    class_id LowCardinality(String),
    level LowCardinality(String),
    built_at DateTime64(3, 'UTC')
  ) ENGINE = MergeTree PARTITION BY toYYYYMMDD(day) ORDER BY (day, class_id, domain, address, port, transport)`,
    },
    {
      table: TABLES.hitlistClassDecisions,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.hitlistClassDecisions} (
    day Date,
    class_id LowCardinality(String),
    kind LowCardinality(String),
    status LowCardinality(String),
    level LowCardinality(String),
    detected_as LowCardinality(String),
    evidence Array(String),
    primary_domains UInt16,
    dedicated_primary UInt16,
    addresses UInt32,
    reason String,
    built_at DateTime64(3, 'UTC')
  ) ENGINE = MergeTree PARTITION BY toYYYYMMDD(day) ORDER BY (day, class_id)`,
    },
    {
      table: TABLES.hitlistDomainDecisions,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.hitlistDomainDecisions} (
    day Date,
    domain String,
    role LowCardinality(String),
    status LowCardinality(String),
    via LowCardinality(String),
    used_by Array(String),
    evidence_for Array(String),
    addresses UInt32,
    reason String,
    built_at DateTime64(3, 'UTC')
  ) ENGINE = MergeTree PARTITION BY toYYYYMMDD(day) ORDER BY (day, domain)`,
    },
    {
      table: TABLES.hitlistBuilds,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.hitlistBuilds} (
    day Date,
    built_at DateTime64(3, 'UTC'),
    rules_digest String,
    window_days UInt8,
    entries UInt32,
    addresses UInt32,
    report String
  ) ENGINE = MergeTree PARTITION BY toYYYYMMDD(day) ORDER BY (day, built_at)`,
    },
    {
      table: TABLES.hitlistBackends,
      // One row per hitlist address: where it lives (0 / '' where no dataset knows).
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.hitlistBackends} (
    day Date,
    address IPv6,
    asn UInt32,
    as_org String,
    country LowCardinality(String),
    continent LowCardinality(String),
    provider LowCardinality(String),
    built_at DateTime64(3, 'UTC')
  ) ENGINE = MergeTree PARTITION BY toYYYYMMDD(day) ORDER BY (day, address)`,
    },
    {
      table: TABLES.hitlistParties,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.hitlistParties} (
    day Date,
    domain String,
    class_id LowCardinality(String),
    party LowCardinality(String),
    built_at DateTime64(3, 'UTC')
  ) ENGINE = MergeTree PARTITION BY toYYYYMMDD(day) ORDER BY (day, class_id, domain)`,
    },
    {
      table: TABLES.hitlistDatasets,
      // The datasets a build's backends came from: named and dated wherever their figures are shown.
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.hitlistDatasets} (
    day Date,
    kind LowCardinality(String),
    name String,
    data_date Date,
    licence String,
    attribution String,
    age_days UInt32,
    stale UInt8,
    built_at DateTime64(3, 'UTC')
  ) ENGINE = MergeTree PARTITION BY toYYYYMMDD(day) ORDER BY (day, kind)`,
    },
  ];
}
