import type { Registry } from '@haystack/common';
import type { DetectorStats } from './detector.js';

interface Sample {
  value: number;
  labels?: Record<string, string>;
}

/**
 * The detector's Prometheus metrics, read from its own counters at scrape time (the hot path
 * counts in plain numbers; nothing per flow goes through prom-client). Registered as
 * prom-client metric objects on the given registry, served by `serveMetrics` at /metrics.
 */
const METRICS: { name: string; help: string; type: 'counter' | 'gauge'; values: (s: DetectorStats) => Sample[] }[] = [
  {
    name: 'haystack_detector_batches_total',
    help: 'Flow batches handled and stored (undecodable ones included).',
    type: 'counter',
    values: (s) => [{ value: s.batches }],
  },
  { name: 'haystack_detector_flows_total', help: 'Flow records of stored batches.', type: 'counter', values: (s) => [{ value: s.flows }] },
  {
    name: 'haystack_detector_flows_taken_in_total',
    help: 'Flow records processed, stored or on their way to storage (minus flows_total: the storage backlog).',
    type: 'counter',
    values: (s) => [{ value: s.flowsTakenIn }],
  },
  {
    name: 'haystack_detector_flows_matched_total',
    help: 'Flows matching a hitlist entry (non-subscriber end, port, protocol).',
    type: 'counter',
    values: (s) => [{ value: s.matched }],
  },
  {
    name: 'haystack_detector_flows_no_hitlist_total',
    help: 'Flows whose day had no hitlist: counted, not matched.',
    type: 'counter',
    values: (s) => [{ value: s.noHitlist }],
  },
  {
    name: 'haystack_detector_flows_unknown_sampling_total',
    help: 'Flows with sampling rate 0 (unknown).',
    type: 'counter',
    values: (s) => [{ value: s.unknownSampling }],
  },
  {
    name: 'haystack_detector_flows_no_side_total',
    help: 'Flows without a subscriber side (both ends looked up).',
    type: 'counter',
    values: (s) => [{ value: s.noSide }],
  },
  {
    name: 'haystack_detector_bad_records_total',
    help: 'Flow records without a usable start time (counted, skipped).',
    type: 'counter',
    values: (s) => [{ value: s.badRecords }],
  },
  {
    name: 'haystack_detector_undecodable_batches_total',
    help: 'Batches that are not flow batches (bad magic, CRC, size, version): counted and skipped.',
    type: 'counter',
    values: (s) => [{ value: s.undecodable }],
  },
  {
    name: 'haystack_detector_detections_total',
    help: "Detections by a class's own rule, per window (implied manufacturer/platform rows not included).",
    type: 'counter',
    values: (s) => [
      { value: s.detections.hour, labels: { window: 'hour' } },
      { value: s.detections.day, labels: { window: 'day' } },
    ],
  },
  {
    name: 'haystack_detector_implied_detections_total',
    help: 'Manufacturer/platform rows implied by a product detection.',
    type: 'counter',
    values: (s) => [{ value: s.impliedDetections }],
  },
  {
    name: 'haystack_detector_evidence_rows_total',
    help: 'Evidence rows written (line, class, domain, hour per group of batches).',
    type: 'counter',
    values: (s) => [{ value: s.evidenceRows }],
  },
  {
    name: 'haystack_detector_batch_groups_total',
    help: 'Groups of consecutive batches of a partition stored together (batches_total / this: batches per group).',
    type: 'counter',
    values: (s) => [{ value: s.groups }],
  },
  {
    name: 'haystack_detector_batch_groups_abandoned_total',
    help: 'Open groups handed back unstored (a failed insert of their partition, a rebalance, a redelivery); their batches come again.',
    type: 'counter',
    values: (s) => [{ value: s.groupsAbandoned }],
  },
  {
    name: 'haystack_detector_held_batches',
    help: 'Batches taken in and held in open groups (stored with the rest of their group).',
    type: 'gauge',
    values: (s) => [{ value: s.heldBatches }],
  },
  { name: 'haystack_detector_new_lines_total', help: 'Lines first seen on a day by this process.', type: 'counter', values: (s) => [{ value: s.newLines }] },
  { name: 'haystack_detector_inserts_total', help: 'Successful grouped inserts into ClickHouse.', type: 'counter', values: (s) => [{ value: s.inserts }] },
  {
    name: 'haystack_detector_insert_retries_total',
    help: 'Insert attempts retried after a failure.',
    type: 'counter',
    values: (s) => [{ value: s.insertRetries }],
  },
  {
    name: 'haystack_detector_insert_failures_total',
    help: 'Inserts that failed every attempt (their batches were handed back to the source).',
    type: 'counter',
    values: (s) => [{ value: s.insertFailures }],
  },
  {
    name: 'haystack_detector_handler_failures_total',
    help: 'Batch attempts that failed and will be delivered again (storage or hitlist store away).',
    type: 'counter',
    values: (s) => [{ value: s.handlerFailures }],
  },
  {
    name: 'haystack_detector_state_rebuilds_total',
    help: 'Partition-days whose evidence was rebuilt from storage.',
    type: 'counter',
    values: (s) => [{ value: s.stateLoads }],
  },
  { name: 'haystack_detector_health_snapshots_total', help: 'Ingest health snapshots stored.', type: 'counter', values: (s) => [{ value: s.healthSnapshots }] },
  {
    name: 'haystack_detector_hitlist_swaps_total',
    help: 'Hitlists replaced by a newer version of their day.',
    type: 'counter',
    values: (s) => [{ value: s.hitlistSwaps }],
  },
  {
    name: 'haystack_detector_hitlist_refusals_total',
    help: 'Hitlists refused (unknown format, broken references).',
    type: 'counter',
    values: (s) => [{ value: s.hitlistRefusals }],
  },
  { name: 'haystack_detector_hitlist_days', help: 'Days with a hitlist in memory.', type: 'gauge', values: (s) => [{ value: s.hitlistDays.length }] },
  { name: 'haystack_detector_partitions', help: 'Partitions this detector has handled batches of.', type: 'gauge', values: (s) => [{ value: s.partitions }] },
];

export function registerDetectorMetrics(reg: Registry, stats: () => DetectorStats): void {
  for (const m of METRICS) {
    const metric = {
      name: m.name,
      help: m.help,
      type: m.type,
      aggregator: 'sum',
      async get() {
        return { name: m.name, help: m.help, type: m.type, aggregator: 'sum', values: m.values(stats()) };
      },
      reset() {},
    };
    reg.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  }
}

/**
 * With Kafka: per partition this detector consumes, flow batches behind the partition's end as
 * of its last fetch (KafkaFlowSource.lag) — the consumer group's lag without a Kafka exporter.
 */
export function registerConsumerLagMetric(reg: Registry, lag: () => { partition: number; batches: number }[]): void {
  const name = 'haystack_detector_kafka_lag_batches';
  const help = "Flow batches behind the end of each partition this detector consumes, as of its last fetch (the consumer group's lag, in Kafka messages).";
  const metric = {
    name,
    help,
    type: 'gauge',
    aggregator: 'sum',
    async get() {
      return { name, help, type: 'gauge', aggregator: 'sum', values: lag().map((l) => ({ value: l.batches, labels: { partition: String(l.partition) } })) };
    },
    reset() {},
  };
  reg.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
}
