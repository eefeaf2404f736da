/**
 * Every table and view of the store, by one name each. Code outside this package writes
 * `${db}.${TABLES.evidence}`, never the literal: a test fails on a table-name literal anywhere
 * else, so renaming a table is a change here and nowhere else.
 */
export const TABLES = {
  // The detector's facts, keyed by source position (see ddl/detector.ts).
  evidence: 'detector_evidence',
  detections: 'detector_detections',
  lineDays: 'detector_line_days',
  flowQuality: 'detector_flow_quality',
  undecodable: 'detector_undecodable',
  ingestHealth: 'detector_ingest_health',
  classes: 'detector_classes',
  hitlists: 'detector_hitlists',
  ixpUnits: 'detector_ixp_units',
  // Traffic per line and hitlist address (the backend), per batch: where the IoT data goes.
  backendTraffic: 'detector_backend_traffic',
  // The detector's daily aggregates, fed by the views below.
  evidenceDaily: 'detector_evidence_daily',
  detectedLines: 'detector_detected_lines',
  activeLines: 'detector_active_lines',
  qualityDaily: 'detector_quality_daily',
  // The hitlist builder's history.
  hitlistEntries: 'hitlist_entries',
  hitlistClassDecisions: 'hitlist_class_decisions',
  hitlistDomainDecisions: 'hitlist_domain_decisions',
  hitlistBuilds: 'hitlist_builds',
  // Where the built hitlist's backends live (AS, country, provider) and each IoT domain's party, per build day.
  hitlistBackends: 'hitlist_backends',
  hitlistParties: 'hitlist_parties',
  hitlistDatasets: 'hitlist_datasets',
  // Export datagrams a replay stored, by what they say (exporter, domain, sequence, time, CRC).
  replayedExports: 'replayed_exports',
  // Replays per capture and flow day: complete, or interrupted (the day's figures partial).
  replayRuns: 'replay_runs',
  // Passive DNS from the operator's resolvers.
  pdnsTuples: 'pdns_tuples',
  // The console's caches and its lookup audit trail.
  consoleDayCounts: 'console_day_counts',
  consoleTtdDays: 'console_ttd_days',
  consoleReports: 'console_reports',
  consoleLookupAudit: 'console_lookup_audit',
} as const;

/** Materialized views, each feeding one daily aggregate table. */
export const VIEWS = {
  evidenceDaily: 'detector_evidence_daily_mv',
  detectedLines: 'detector_detected_lines_mv',
  activeLines: 'detector_active_lines_mv',
  qualityDaily: 'detector_quality_daily_mv',
} as const;

export type TableName = (typeof TABLES)[keyof typeof TABLES];
export type ViewName = (typeof VIEWS)[keyof typeof VIEWS];
