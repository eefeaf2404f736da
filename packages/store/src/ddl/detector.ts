import type { TableDDL } from '../schema.js';
import { TABLES, VIEWS } from '../tables.js';

/**
 * The detector's ClickHouse schema (one code path for chdb and a server).
 *
 * Idempotency: a batch redelivered after a crash (its offset was not committed, its rows may
 * already be stored) must not count twice. Each base table is a ReplacingMergeTree whose
 * sorting key identifies the fact: the source position (source, partition, offset) of the
 * batch for facts that are summed (evidence, flow quality, undecodable batches), the window,
 * class and line for detections, day and line for active lines. A redelivery writes the same
 * keys, and the report reads base tables with FINAL, so duplicates collapse even before a
 * background merge. This works however batches are grouped into inserts (a token per insert
 * would not: after a restart batches are grouped differently).
 *
 * The daily aggregates are materialized views into AggregatingMergeTree tables holding only
 * duplicate-insensitive aggregates (uniqExact, min, max, groupUniqArray), so a duplicate row
 * seen by a view before it collapses cannot inflate them. Sums (packets, bytes, flows,
 * records) are read from the base tables with FINAL.
 *
 * TTLs (detector.retention): evidence tables evidenceDays, detections detectionDays, quality,
 * active lines and undecodable batches qualityDays.
 */
export interface Retention {
  evidenceDays: number;
  detectionDays: number;
  qualityDays: number;
}

const ttl = (col: string, days: number) => `TTL ${col} + INTERVAL ${Math.trunc(days)} DAY`;

/** Tables first, then the views that feed the aggregate tables. */
export function detectorDDL(db: string, r: Retention): TableDDL[] {
  const ev = ttl('day', r.evidenceDays);
  const det = ttl('day', r.detectionDays);
  const q = ttl('day', r.qualityDays);
  return [
    {
      table: TABLES.evidence,
      ttl: ev,
      // Hourly evidence: one row per batch, line, class, domain and hour.
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.evidence} (
        day Date,
        hour DateTime('UTC'),
        line String,
        class_id LowCardinality(String),
        level LowCardinality(String),
        domain LowCardinality(String),
        hitlist_day Date,
        source LowCardinality(String),
        src_partition UInt32,
        src_offset UInt64,
        flows UInt32,
        sampled_packets UInt64,
        sampled_bytes UInt64,
        est_packets UInt64,
        est_bytes UInt64,
        unknown_rate_flows UInt32,
        first_seen DateTime64(3, 'UTC'),
        last_seen DateTime64(3, 'UTC')
      ) ENGINE = ReplacingMergeTree
      PARTITION BY toYYYYMM(day)
      ORDER BY (day, class_id, line, domain, hour, source, src_partition, src_offset)
      ${ev}`,
    },
    {
      table: TABLES.detections,
      ttl: det,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.detections} (
        day Date,
        window Enum8('hour' = 1, 'day' = 2),
        window_start DateTime('UTC'),
        class_id LowCardinality(String),
        level LowCardinality(String),
        via LowCardinality(String),
        line String,
        domains UInt16,
        detected_at DateTime64(3, 'UTC'),
        hitlist_day Date,
        source LowCardinality(String),
        src_partition UInt32,
        src_offset UInt64
      ) ENGINE = ReplacingMergeTree
      PARTITION BY toYYYYMM(day)
      ORDER BY (day, window, class_id, window_start, via, line)
      ${det}`,
    },
    {
      table: TABLES.lineDays,
      ttl: q,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.lineDays} (
        day Date,
        line String,
        first_seen DateTime64(3, 'UTC')
      ) ENGINE = ReplacingMergeTree
      PARTITION BY toYYYYMM(day)
      ORDER BY (day, line)
      ${q}`,
    },
    {
      table: TABLES.flowQuality,
      ttl: q,
      // src_offset is the first batch of the rows' group (services/detector batch-groups.ts), src_offset_last its last.
      addColumns: ['src_offset_last UInt64 DEFAULT src_offset'],
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.flowQuality} (
        day Date,
        exporter String,
        version UInt8,
        observation_domain UInt32,
        source LowCardinality(String),
        src_partition UInt32,
        src_offset UInt64,
        src_offset_last UInt64 DEFAULT src_offset,
        records UInt32,
        matched UInt32,
        unknown_rate UInt32,
        no_hitlist UInt32,
        no_side UInt32,
        bad_records UInt32,
        sampling_rates Array(UInt32)
      ) ENGINE = ReplacingMergeTree
      PARTITION BY toYYYYMM(day)
      ORDER BY (day, exporter, version, observation_domain, source, src_partition, src_offset)
      ${q}`,
    },
    {
      table: TABLES.undecodable,
      ttl: q,
      // Keyed by position only: a redelivery on another day is still the same batch.
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.undecodable} (
        day Date,
        received_at DateTime64(3, 'UTC'),
        source LowCardinality(String),
        src_partition UInt32,
        src_offset UInt64,
        bytes UInt32,
        reason String
      ) ENGINE = ReplacingMergeTree
      ORDER BY (source, src_partition, src_offset)
      ${q}`,
    },
    {
      table: TABLES.ingestHealth,
      ttl: q,
      addColumns: ['samples_lost UInt64 DEFAULT 0', 'sample_drops UInt64 DEFAULT 0'],
      // Ingest health snapshots (deltas) from the flow topic; a snapshot id is unique, so a redelivery collapses.
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.ingestHealth} (
        day Date,
        at DateTime64(3, 'UTC'),
        snapshot_id String,
        collector String,
        exporter String,
        version UInt8,
        observation_domain UInt32,
        packets UInt64,
        records UInt64,
        sequence_gaps UInt64,
        lost UInt64,
        malformed UInt64,
        missing_template_sets UInt64,
        held_dropped_sets UInt64,
        unknown_rate_records UInt64,
        sampling_rate UInt32,
        samples_lost UInt64 DEFAULT 0,
        sample_drops UInt64 DEFAULT 0
      ) ENGINE = ReplacingMergeTree
      PARTITION BY toYYYYMM(day)
      ORDER BY (day, exporter, version, observation_domain, snapshot_id)
      ${q}`,
    },
    {
      table: TABLES.ixpUnits,
      ttl: det,
      // IXP deployment: the member network each detection unit (host) sits behind, and how that
      // was decided (router MAC, the flow's AS, the route table; 'none' = unattributed, asn 0).
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.ixpUnits} (
        day Date,
        line String,
        member_asn UInt32,
        member_name String,
        via LowCardinality(String),
        first_seen DateTime64(3, 'UTC')
      ) ENGINE = ReplacingMergeTree
      PARTITION BY toYYYYMM(day)
      ORDER BY (day, line)
      ${det}`,
    },
    {
      table: TABLES.backendTraffic,
      ttl: ev,
      // Where the IoT data goes: per batch, line and hitlist address, the renormalised traffic;
      // joined at report time with the hitlist that served it (its classes, its backends' place).
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.backendTraffic} (
        day Date,
        line String,
        backend IPv6,
        hitlist_day Date,
        source LowCardinality(String),
        src_partition UInt32,
        src_offset UInt64,
        flows UInt32,
        est_packets UInt64,
        est_bytes UInt64,
        unknown_rate_flows UInt32
      ) ENGINE = ReplacingMergeTree
      PARTITION BY toYYYYMM(day)
      ORDER BY (day, line, backend, source, src_partition, src_offset)
      ${ev}`,
    },
    {
      table: TABLES.classes,
      ttl: det,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.classes} (
        day Date,
        class_id LowCardinality(String),
        name String,
        level LowCardinality(String),
        parents Array(String),
        detectable UInt8,
        hitlist_day Date
      ) ENGINE = ReplacingMergeTree
      ORDER BY (day, class_id)
      ${det}`,
    },
    {
      table: TABLES.hitlists,
      ttl: det,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.hitlists} (
        day Date,
        hitlist_day Date,
        version UInt64,
        built_at String,
        entries UInt32,
        addresses UInt32,
        classes UInt32
      ) ENGINE = ReplacingMergeTree
      ORDER BY (day, hitlist_day, version, built_at)
      ${det}`,
    },
    {
      table: TABLES.evidenceDaily,
      ttl: ev,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.evidenceDaily} (
        day Date,
        class_id LowCardinality(String),
        line String,
        domains AggregateFunction(groupUniqArray, String),
        hours AggregateFunction(groupUniqArray, UInt8),
        first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
        last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
      ) ENGINE = AggregatingMergeTree
      PARTITION BY toYYYYMM(day)
      ORDER BY (day, class_id, line)
      ${ev}`,
    },
    {
      table: TABLES.detectedLines,
      ttl: det,
      // slot: the UTC hour of an hourly window, 255 for the daily window.
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.detectedLines} (
        day Date,
        window Enum8('hour' = 1, 'day' = 2),
        slot UInt8,
        class_id LowCardinality(String),
        lines AggregateFunction(uniqExact, String)
      ) ENGINE = AggregatingMergeTree
      PARTITION BY toYYYYMM(day)
      ORDER BY (day, window, class_id, slot)
      ${det}`,
    },
    {
      table: TABLES.activeLines,
      ttl: q,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.activeLines} (
        day Date,
        lines AggregateFunction(uniqExact, String)
      ) ENGINE = AggregatingMergeTree
      ORDER BY day
      ${q}`,
    },
    {
      table: TABLES.qualityDaily,
      ttl: q,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${TABLES.qualityDaily} (
        day Date,
        exporter String,
        version UInt8,
        observation_domain UInt32,
        sampling_rates SimpleAggregateFunction(groupUniqArrayArray, Array(UInt32))
      ) ENGINE = AggregatingMergeTree
      ORDER BY (day, exporter, version, observation_domain)
      ${q}`,
    },
    {
      table: VIEWS.evidenceDaily,
      sql: `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${VIEWS.evidenceDaily} TO ${db}.${TABLES.evidenceDaily} AS
        SELECT day, class_id, line,
          groupUniqArrayState(domain) AS domains,
          groupUniqArrayState(toUInt8(toHour(hour))) AS hours,
          min(first_seen) AS first_seen,
          max(last_seen) AS last_seen
        FROM ${db}.${TABLES.evidence} GROUP BY day, class_id, line`,
    },
    {
      table: VIEWS.detectedLines,
      sql: `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${VIEWS.detectedLines} TO ${db}.${TABLES.detectedLines} AS
        SELECT day, window, if(window = 'hour', toUInt8(toHour(window_start)), toUInt8(255)) AS slot, class_id,
          uniqExactState(line) AS lines
        FROM ${db}.${TABLES.detections} GROUP BY day, window, slot, class_id`,
    },
    {
      table: VIEWS.activeLines,
      sql: `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${VIEWS.activeLines} TO ${db}.${TABLES.activeLines} AS
        SELECT day, uniqExactState(line) AS lines FROM ${db}.${TABLES.lineDays} GROUP BY day`,
    },
    {
      table: VIEWS.qualityDaily,
      sql: `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${VIEWS.qualityDaily} TO ${db}.${TABLES.qualityDaily} AS
        SELECT day, exporter, version, observation_domain,
          groupUniqArrayArray(sampling_rates) AS sampling_rates
        FROM ${db}.${TABLES.flowQuality} GROUP BY day, exporter, version, observation_domain`,
    },
  ];
}
