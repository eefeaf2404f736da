CREATE DATABASE IF NOT EXISTS haystack ON CLUSTER haystack_cluster;

CREATE TABLE IF NOT EXISTS haystack.detector_evidence ON CLUSTER haystack_cluster (
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
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/detector_evidence', '{replica}')
  PARTITION BY toYYYYMM(day)
  ORDER BY (day, class_id, line, domain, hour, source, src_partition, src_offset)
  TTL day + INTERVAL 35 DAY;

ALTER TABLE haystack.detector_evidence ON CLUSTER haystack_cluster MODIFY TTL day + INTERVAL 35 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE TABLE IF NOT EXISTS haystack.detector_detections ON CLUSTER haystack_cluster (
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
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/detector_detections', '{replica}')
  PARTITION BY toYYYYMM(day)
  ORDER BY (day, window, class_id, window_start, via, line)
  TTL day + INTERVAL 400 DAY;

ALTER TABLE haystack.detector_detections ON CLUSTER haystack_cluster MODIFY TTL day + INTERVAL 400 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE TABLE IF NOT EXISTS haystack.detector_line_days ON CLUSTER haystack_cluster (
  day Date,
  line String,
  first_seen DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/detector_line_days', '{replica}')
  PARTITION BY toYYYYMM(day)
  ORDER BY (day, line)
  TTL day + INTERVAL 400 DAY;

ALTER TABLE haystack.detector_line_days ON CLUSTER haystack_cluster MODIFY TTL day + INTERVAL 400 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE TABLE IF NOT EXISTS haystack.detector_flow_quality ON CLUSTER haystack_cluster (
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
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/detector_flow_quality', '{replica}')
  PARTITION BY toYYYYMM(day)
  ORDER BY (day, exporter, version, observation_domain, source, src_partition, src_offset)
  TTL day + INTERVAL 400 DAY;

ALTER TABLE haystack.detector_flow_quality ON CLUSTER haystack_cluster ADD COLUMN IF NOT EXISTS src_offset_last UInt64 DEFAULT src_offset;

ALTER TABLE haystack.detector_flow_quality ON CLUSTER haystack_cluster MODIFY TTL day + INTERVAL 400 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE TABLE IF NOT EXISTS haystack.detector_undecodable ON CLUSTER haystack_cluster (
  day Date,
  received_at DateTime64(3, 'UTC'),
  source LowCardinality(String),
  src_partition UInt32,
  src_offset UInt64,
  bytes UInt32,
  reason String
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/detector_undecodable', '{replica}')
  ORDER BY (source, src_partition, src_offset)
  TTL day + INTERVAL 400 DAY;

ALTER TABLE haystack.detector_undecodable ON CLUSTER haystack_cluster MODIFY TTL day + INTERVAL 400 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE TABLE IF NOT EXISTS haystack.detector_ingest_health ON CLUSTER haystack_cluster (
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
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/detector_ingest_health', '{replica}')
  PARTITION BY toYYYYMM(day)
  ORDER BY (day, exporter, version, observation_domain, snapshot_id)
  TTL day + INTERVAL 400 DAY;

ALTER TABLE haystack.detector_ingest_health ON CLUSTER haystack_cluster ADD COLUMN IF NOT EXISTS samples_lost UInt64 DEFAULT 0;

ALTER TABLE haystack.detector_ingest_health ON CLUSTER haystack_cluster ADD COLUMN IF NOT EXISTS sample_drops UInt64 DEFAULT 0;

ALTER TABLE haystack.detector_ingest_health ON CLUSTER haystack_cluster MODIFY TTL day + INTERVAL 400 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE TABLE IF NOT EXISTS haystack.detector_ixp_units ON CLUSTER haystack_cluster (
  day Date,
  line String,
  member_asn UInt32,
  member_name String,
  via LowCardinality(String),
  first_seen DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/detector_ixp_units', '{replica}')
  PARTITION BY toYYYYMM(day)
  ORDER BY (day, line)
  TTL day + INTERVAL 400 DAY;

ALTER TABLE haystack.detector_ixp_units ON CLUSTER haystack_cluster MODIFY TTL day + INTERVAL 400 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE TABLE IF NOT EXISTS haystack.detector_backend_traffic ON CLUSTER haystack_cluster (
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
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/detector_backend_traffic', '{replica}')
  PARTITION BY toYYYYMM(day)
  ORDER BY (day, line, backend, source, src_partition, src_offset)
  TTL day + INTERVAL 35 DAY;

ALTER TABLE haystack.detector_backend_traffic ON CLUSTER haystack_cluster MODIFY TTL day + INTERVAL 35 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE TABLE IF NOT EXISTS haystack.detector_classes ON CLUSTER haystack_cluster (
  day Date,
  class_id LowCardinality(String),
  name String,
  level LowCardinality(String),
  parents Array(String),
  detectable UInt8,
  hitlist_day Date
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/detector_classes', '{replica}')
  ORDER BY (day, class_id)
  TTL day + INTERVAL 400 DAY;

ALTER TABLE haystack.detector_classes ON CLUSTER haystack_cluster MODIFY TTL day + INTERVAL 400 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE TABLE IF NOT EXISTS haystack.detector_hitlists ON CLUSTER haystack_cluster (
  day Date,
  hitlist_day Date,
  version UInt64,
  built_at String,
  entries UInt32,
  addresses UInt32,
  classes UInt32
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/detector_hitlists', '{replica}')
  ORDER BY (day, hitlist_day, version, built_at)
  TTL day + INTERVAL 400 DAY;

ALTER TABLE haystack.detector_hitlists ON CLUSTER haystack_cluster MODIFY TTL day + INTERVAL 400 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE TABLE IF NOT EXISTS haystack.detector_evidence_daily ON CLUSTER haystack_cluster (
  day Date,
  class_id LowCardinality(String),
  line String,
  domains AggregateFunction(groupUniqArray, String),
  hours AggregateFunction(groupUniqArray, UInt8),
  first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
  last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
  ) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/haystack/detector_evidence_daily', '{replica}')
  PARTITION BY toYYYYMM(day)
  ORDER BY (day, class_id, line)
  TTL day + INTERVAL 35 DAY;

ALTER TABLE haystack.detector_evidence_daily ON CLUSTER haystack_cluster MODIFY TTL day + INTERVAL 35 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE TABLE IF NOT EXISTS haystack.detector_detected_lines ON CLUSTER haystack_cluster (
  day Date,
  window Enum8('hour' = 1, 'day' = 2),
  slot UInt8,
  class_id LowCardinality(String),
  lines AggregateFunction(uniqExact, String)
  ) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/haystack/detector_detected_lines', '{replica}')
  PARTITION BY toYYYYMM(day)
  ORDER BY (day, window, class_id, slot)
  TTL day + INTERVAL 400 DAY;

ALTER TABLE haystack.detector_detected_lines ON CLUSTER haystack_cluster MODIFY TTL day + INTERVAL 400 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE TABLE IF NOT EXISTS haystack.detector_active_lines ON CLUSTER haystack_cluster (
  day Date,
  lines AggregateFunction(uniqExact, String)
  ) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/haystack/detector_active_lines', '{replica}')
  ORDER BY day
  TTL day + INTERVAL 400 DAY;

ALTER TABLE haystack.detector_active_lines ON CLUSTER haystack_cluster MODIFY TTL day + INTERVAL 400 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE TABLE IF NOT EXISTS haystack.detector_quality_daily ON CLUSTER haystack_cluster (
  day Date,
  exporter String,
  version UInt8,
  observation_domain UInt32,
  sampling_rates SimpleAggregateFunction(groupUniqArrayArray, Array(UInt32))
  ) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/haystack/detector_quality_daily', '{replica}')
  ORDER BY (day, exporter, version, observation_domain)
  TTL day + INTERVAL 400 DAY;

ALTER TABLE haystack.detector_quality_daily ON CLUSTER haystack_cluster MODIFY TTL day + INTERVAL 400 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS haystack.detector_evidence_daily_mv ON CLUSTER haystack_cluster TO haystack.detector_evidence_daily AS
  SELECT day, class_id, line,
  groupUniqArrayState(domain) AS domains,
  groupUniqArrayState(toUInt8(toHour(hour))) AS hours,
  min(first_seen) AS first_seen,
  max(last_seen) AS last_seen
  FROM haystack.detector_evidence GROUP BY day, class_id, line;

CREATE MATERIALIZED VIEW IF NOT EXISTS haystack.detector_detected_lines_mv ON CLUSTER haystack_cluster TO haystack.detector_detected_lines AS
  SELECT day, window, if(window = 'hour', toUInt8(toHour(window_start)), toUInt8(255)) AS slot, class_id,
  uniqExactState(line) AS lines
  FROM haystack.detector_detections GROUP BY day, window, slot, class_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS haystack.detector_active_lines_mv ON CLUSTER haystack_cluster TO haystack.detector_active_lines AS
  SELECT day, uniqExactState(line) AS lines FROM haystack.detector_line_days GROUP BY day;

CREATE MATERIALIZED VIEW IF NOT EXISTS haystack.detector_quality_daily_mv ON CLUSTER haystack_cluster TO haystack.detector_quality_daily AS
  SELECT day, exporter, version, observation_domain,
  groupUniqArrayArray(sampling_rates) AS sampling_rates
  FROM haystack.detector_flow_quality GROUP BY day, exporter, version, observation_domain;

CREATE TABLE IF NOT EXISTS haystack.hitlist_entries ON CLUSTER haystack_cluster (
  day Date,
  address IPv6,
  port UInt16,
  transport LowCardinality(String),
  domain LowCardinality(String),
  class_id LowCardinality(String),
  level LowCardinality(String),
  built_at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/haystack/hitlist_entries', '{replica}') PARTITION BY toYYYYMMDD(day) ORDER BY (day, class_id, domain, address, port, transport);

CREATE TABLE IF NOT EXISTS haystack.hitlist_class_decisions ON CLUSTER haystack_cluster (
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
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/haystack/hitlist_class_decisions', '{replica}') PARTITION BY toYYYYMMDD(day) ORDER BY (day, class_id);

CREATE TABLE IF NOT EXISTS haystack.hitlist_domain_decisions ON CLUSTER haystack_cluster (
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
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/haystack/hitlist_domain_decisions', '{replica}') PARTITION BY toYYYYMMDD(day) ORDER BY (day, domain);

CREATE TABLE IF NOT EXISTS haystack.hitlist_builds ON CLUSTER haystack_cluster (
  day Date,
  built_at DateTime64(3, 'UTC'),
  rules_digest String,
  window_days UInt8,
  entries UInt32,
  addresses UInt32,
  report String
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/haystack/hitlist_builds', '{replica}') PARTITION BY toYYYYMMDD(day) ORDER BY (day, built_at);

CREATE TABLE IF NOT EXISTS haystack.hitlist_backends ON CLUSTER haystack_cluster (
  day Date,
  address IPv6,
  asn UInt32,
  as_org String,
  country LowCardinality(String),
  continent LowCardinality(String),
  provider LowCardinality(String),
  built_at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/haystack/hitlist_backends', '{replica}') PARTITION BY toYYYYMMDD(day) ORDER BY (day, address);

CREATE TABLE IF NOT EXISTS haystack.hitlist_parties ON CLUSTER haystack_cluster (
  day Date,
  domain String,
  class_id LowCardinality(String),
  party LowCardinality(String),
  built_at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/haystack/hitlist_parties', '{replica}') PARTITION BY toYYYYMMDD(day) ORDER BY (day, class_id, domain);

CREATE TABLE IF NOT EXISTS haystack.hitlist_datasets ON CLUSTER haystack_cluster (
  day Date,
  kind LowCardinality(String),
  name String,
  data_date Date,
  licence String,
  attribution String,
  age_days UInt32,
  stale UInt8,
  built_at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/haystack/hitlist_datasets', '{replica}') PARTITION BY toYYYYMMDD(day) ORDER BY (day, kind);

CREATE TABLE IF NOT EXISTS haystack.pdns_tuples ON CLUSTER haystack_cluster (
  day Date,
  name String,
  type LowCardinality(String),
  data String,
  source LowCardinality(String),
  first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
  last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
  count SimpleAggregateFunction(sum, UInt64)
  ) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/haystack/pdns_tuples', '{replica}') PARTITION BY toYYYYMM(day) ORDER BY (day, name, type, data, source)
  TTL day + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS haystack.console_day_counts ON CLUSTER haystack_cluster (
  day Date,
  fingerprint String,
  class_id String,
  lines UInt64,
  computed_at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/console_day_counts', '{replica}', computed_at) ORDER BY (day, class_id);

CREATE TABLE IF NOT EXISTS haystack.console_ttd_days ON CLUSTER haystack_cluster (
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
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/console_ttd_days', '{replica}', computed_at) ORDER BY (day, kind, class_id);

CREATE TABLE IF NOT EXISTS haystack.console_reports ON CLUSTER haystack_cluster (
  day Date,
  fingerprint String,
  data String,
  computed_at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/console_reports', '{replica}', computed_at) ORDER BY day;

CREATE TABLE IF NOT EXISTS haystack.console_lookup_audit ON CLUSTER haystack_cluster (
  at DateTime64(3, 'UTC'),
  who String,
  query String,
  from_day Date,
  to_day Date,
  lines UInt32,
  results UInt32,
  allowed UInt8,
  client String
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/haystack/console_lookup_audit', '{replica}') ORDER BY at;

CREATE TABLE IF NOT EXISTS haystack.replayed_exports ON CLUSTER haystack_cluster (
  export_key String,
  replayed_at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/replayed_exports', '{replica}') ORDER BY export_key
  TTL toDate(replayed_at) + INTERVAL 400 DAY;

ALTER TABLE haystack.replayed_exports ON CLUSTER haystack_cluster MODIFY TTL toDate(replayed_at) + INTERVAL 400 DAY SETTINGS materialize_ttl_after_modify = 0;

CREATE TABLE IF NOT EXISTS haystack.replay_runs ON CLUSTER haystack_cluster (
  capture String,
  file String,
  day Date,
  complete UInt8,
  bytes_read UInt64,
  total_bytes UInt64,
  replayed_at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/haystack/replay_runs', '{replica}', replayed_at) ORDER BY (day, capture)
  TTL toDate(replayed_at) + INTERVAL 400 DAY;

ALTER TABLE haystack.replay_runs ON CLUSTER haystack_cluster MODIFY TTL toDate(replayed_at) + INTERVAL 400 DAY SETTINGS materialize_ttl_after_modify = 0;
