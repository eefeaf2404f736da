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

export const DETECTOR_TABLES = [
  'detector_evidence',
  'detector_detections',
  'detector_line_days',
  'detector_flow_quality',
  'detector_undecodable',
  'detector_ingest_health',
  'detector_classes',
  'detector_hitlists',
  'detector_evidence_daily',
  'detector_detected_lines',
  'detector_active_lines',
  'detector_quality_daily',
  'detector_ixp_units',
] as const;

export const DETECTOR_VIEWS = ['detector_evidence_daily_mv', 'detector_detected_lines_mv', 'detector_active_lines_mv', 'detector_quality_daily_mv'] as const;

const ttl = (col: string, days: number) => `TTL ${col} + INTERVAL ${Math.trunc(days)} DAY`;

/** Tables first, then the views that feed the aggregate tables. */
/**
 * One table's DDL. `addColumns`: columns added after the table first shipped, as
 * "name Type DEFAULT x", so a store created by an earlier version gains them in place.
 */
export interface TableDDL {
  table: string;
  sql: string;
  ttl?: string;
  addColumns?: string[];
}

export function detectorDDL(db: string, r: Retention): TableDDL[] {
  const ev = ttl('day', r.evidenceDays);
  const det = ttl('day', r.detectionDays);
  const q = ttl('day', r.qualityDays);
  return [
    {
      table: 'detector_evidence',
      ttl: ev,
      // Hourly evidence: one row per batch, line, class, domain and hour.
      sql: `CREATE TABLE IF NOT EXISTS ${db}.detector_evidence (
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
      table: 'detector_detections',
      ttl: det,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.detector_detections (
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
      table: 'detector_line_days',
      ttl: q,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.detector_line_days (
        day Date,
        line String,
        first_seen DateTime64(3, 'UTC')
      ) ENGINE = ReplacingMergeTree
      PARTITION BY toYYYYMM(day)
      ORDER BY (day, line)
      ${q}`,
    },
    {
      table: 'detector_flow_quality',
      ttl: q,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.detector_flow_quality (
        day Date,
        exporter String,
        version UInt8,
        observation_domain UInt32,
        source LowCardinality(String),
        src_partition UInt32,
        src_offset UInt64,
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
      table: 'detector_undecodable',
      ttl: q,
      // Keyed by position only: a redelivery on another day is still the same batch.
      sql: `CREATE TABLE IF NOT EXISTS ${db}.detector_undecodable (
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
      table: 'detector_ingest_health',
      ttl: q,
      addColumns: ['samples_lost UInt64 DEFAULT 0', 'sample_drops UInt64 DEFAULT 0'],
      // Ingest health snapshots (deltas) from the flow topic; a snapshot id is unique, so a redelivery collapses.
      sql: `CREATE TABLE IF NOT EXISTS ${db}.detector_ingest_health (
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
      table: 'detector_ixp_units',
      ttl: det,
      // IXP deployment: the member network each detection unit (host) sits behind, and how that
      // was decided (router MAC, the flow's AS, the route table; 'none' = unattributed, asn 0).
      sql: `CREATE TABLE IF NOT EXISTS ${db}.detector_ixp_units (
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
      table: 'detector_classes',
      ttl: det,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.detector_classes (
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
      table: 'detector_hitlists',
      ttl: det,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.detector_hitlists (
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
      table: 'detector_evidence_daily',
      ttl: ev,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.detector_evidence_daily (
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
      table: 'detector_detected_lines',
      ttl: det,
      // slot: the UTC hour of an hourly window, 255 for the daily window.
      sql: `CREATE TABLE IF NOT EXISTS ${db}.detector_detected_lines (
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
      table: 'detector_active_lines',
      ttl: q,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.detector_active_lines (
        day Date,
        lines AggregateFunction(uniqExact, String)
      ) ENGINE = AggregatingMergeTree
      ORDER BY day
      ${q}`,
    },
    {
      table: 'detector_quality_daily',
      ttl: q,
      sql: `CREATE TABLE IF NOT EXISTS ${db}.detector_quality_daily (
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
      table: 'detector_evidence_daily_mv',
      sql: `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.detector_evidence_daily_mv TO ${db}.detector_evidence_daily AS
        SELECT day, class_id, line,
          groupUniqArrayState(domain) AS domains,
          groupUniqArrayState(toUInt8(toHour(hour))) AS hours,
          min(first_seen) AS first_seen,
          max(last_seen) AS last_seen
        FROM ${db}.detector_evidence GROUP BY day, class_id, line`,
    },
    {
      table: 'detector_detected_lines_mv',
      sql: `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.detector_detected_lines_mv TO ${db}.detector_detected_lines AS
        SELECT day, window, if(window = 'hour', toUInt8(toHour(window_start)), toUInt8(255)) AS slot, class_id,
          uniqExactState(line) AS lines
        FROM ${db}.detector_detections GROUP BY day, window, slot, class_id`,
    },
    {
      table: 'detector_active_lines_mv',
      sql: `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.detector_active_lines_mv TO ${db}.detector_active_lines AS
        SELECT day, uniqExactState(line) AS lines FROM ${db}.detector_line_days GROUP BY day`,
    },
    {
      table: 'detector_quality_daily_mv',
      sql: `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.detector_quality_daily_mv TO ${db}.detector_quality_daily AS
        SELECT day, exporter, version, observation_domain,
          groupUniqArrayArray(sampling_rates) AS sampling_rates
        FROM ${db}.detector_flow_quality GROUP BY day, exporter, version, observation_domain`,
    },
  ];
}
