/**
 * How much a deployment needs, from the project's own measured per-unit figures (each cites the
 * benchmark it comes from; docs/sizing.md explains them). Planning figures, not promises: the
 * traffic per line is the simulator's unless the operator gives their own measurement.
 */
export interface SizingInput {
  lines: number;
  exporters: number;
  /** 1:N packet sampling at the routers. */
  sampling: number;
  /** Days of evidence kept (detector.retention.evidenceDays). */
  evidenceDays: number;
  /** Days of detections and quality kept (detector.retention.detectionDays). */
  detectionDays: number;
  /** Sampled flow records per line and day at `sampling`; null: the simulator's figure scaled to the rate. */
  flowsPerLineDay: number | null;
}

/** The measured per-unit figures, with where each comes from. */
export const UNITS = {
  /**
   * Sampled flows per line and day of the simulated ISP at 1:100 and 1:1000 (`haystack simulate
   * --lines 1500 --days 1 --sampling 100|1000`: 2,035,614 and 411,860 records, docs/sizing.md).
   * Between and beyond, a power law through both: a long flow keeps a sampled packet at sparser
   * rates, so flows fall by 4.9× for 10× sparser sampling, not 10×.
   */
  flowsPerLineDayAt100: 2_035_614 / 1_500,
  flowsPerLineDayAt1000: 411_860 / 1_500,
  /** Busiest hour over the day's mean: the simulator's diurnal profile peaks at about twice the mean (packages/simulator, WEB_DIURNAL). */
  peakFactor: 2,
  /** Bytes per flow record on the brokers: 136 (packages/flow-core RECORD_SIZE), lz4 (the default kafka.compression) to 65 % (load-test/RESULTS.md, Kafka clients). */
  kafkaBytesPerFlow: 88,
  /** Collector records per CPU-second publishing to Kafka with lz4: 152 % CPU at 1.6M NetFlow v9 records/s (load-test/RESULTS.md, workers with Kafka). */
  collectorFlowsPerCore: 1_000_000,
  /** CPU per flow end to end, ingest + Kafka + detector + ClickHouse inserts: 10.6 CPU s for 1.88M flows at 16 partitions (RESULTS.md, e2e). */
  cpuSecondsPerFlow: 10.6 / 1_881_008,
  /** Flows per partition per second the e2e run sustained (292k flows/s over 16 partitions, 2 cores): a partition count that spreads load. */
  flowsPerPartition: 20_000,
  /** Evidence rows per flow (0.18 at 16 partitions, 0.46 at 1: fewer lines per batch, fewer rows; RESULTS.md e2e). */
  evidenceRowsPerFlow: 0.25,
  /** Backend-traffic rows per flow (demo at 1:100: 146,903 rows for 568,002 flows; services/detector/BENCHMARK.md). */
  backendRowsPerFlow: 0.26,
  /** Detection rows per line and day (hour and day windows, implied levels; the demo: 12,049 for 400 lines). */
  detectionRowsPerLineDay: 30,
  /** Compressed bytes per row in ClickHouse (system.parts of the demo store): evidence 26, backend traffic 9.5, detections 10.3. */
  bytesPerEvidenceRow: 26,
  bytesPerBackendRow: 9.5,
  bytesPerDetectionRow: 10.3,
  /** Bytes per line-day of the active-line and quality tables (line days 45 B per row, 1.3 rows per line). */
  bytesPerLineDayOther: 60,
} as const;

export interface Sizing {
  input: SizingInput;
  flowsPerDay: number;
  meanFlowsPerSecond: number;
  peakFlowsPerSecond: number;
  perExporterPeak: number;
  kafka: { partitions: number; bytesPerDay: number; retentionHours: number; diskForRetention: number };
  cores: { ingest: number; pipeline: number };
  clickhouse: { rowsPerDay: number; bytesPerDay: number; diskForRetention: number };
}

/** A deployment's needs; Kafka retention is sized for 24 hours of batches (a detector down for a day loses nothing). */
export function sizing(i: SizingInput): Sizing {
  const alpha = Math.log10(UNITS.flowsPerLineDayAt100 / UNITS.flowsPerLineDayAt1000);
  const perLine = i.flowsPerLineDay ?? UNITS.flowsPerLineDayAt100 * (100 / i.sampling) ** alpha;
  const flowsPerDay = i.lines * perLine;
  const mean = flowsPerDay / 86_400;
  const peak = mean * UNITS.peakFactor;
  const evidence = flowsPerDay * UNITS.evidenceRowsPerFlow;
  const backend = flowsPerDay * UNITS.backendRowsPerFlow;
  const detections = i.lines * UNITS.detectionRowsPerLineDay;
  const evidenceBytes = evidence * UNITS.bytesPerEvidenceRow + backend * UNITS.bytesPerBackendRow;
  const longBytes = detections * UNITS.bytesPerDetectionRow + i.lines * UNITS.bytesPerLineDayOther;
  const kafkaDay = flowsPerDay * UNITS.kafkaBytesPerFlow;
  return {
    input: i,
    flowsPerDay,
    meanFlowsPerSecond: mean,
    peakFlowsPerSecond: peak,
    perExporterPeak: peak / Math.max(1, i.exporters),
    kafka: { partitions: Math.max(16, Math.ceil(peak / UNITS.flowsPerPartition)), bytesPerDay: kafkaDay, retentionHours: 24, diskForRetention: kafkaDay },
    cores: {
      ingest: Math.max(1, Math.ceil((peak / UNITS.collectorFlowsPerCore) * 1.5)),
      // With half the CPU spare at the peak.
      pipeline: Math.max(2, Math.ceil(peak * UNITS.cpuSecondsPerFlow * 2)),
    },
    clickhouse: {
      rowsPerDay: evidence + backend + detections,
      bytesPerDay: evidenceBytes + longBytes,
      diskForRetention: evidenceBytes * i.evidenceDays + longBytes * i.detectionDays,
    },
  };
}

const si = (n: number, unit = '') => {
  const abs = Math.abs(n);
  const [d, s] = abs >= 1e12 ? [1e12, ' T'] : abs >= 1e9 ? [1e9, ' G'] : abs >= 1e6 ? [1e6, ' M'] : abs >= 1e3 ? [1e3, ' k'] : [1, ' '];
  const v = n / d;
  return `${v >= 100 ? Math.round(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}${s}${unit}`.replace(/ $/, '');
};

export function renderSizing(s: Sizing): string {
  const i = s.input;
  const rows: [string, string][] = [
    ['subscriber lines', si(i.lines)],
    ['exporters', String(i.exporters)],
    ['sampling', `1:${i.sampling}`],
    [
      'sampled flows per line and day',
      `${si(s.flowsPerDay / i.lines)}${i.flowsPerLineDay === null ? ' (the simulated ISP at this rate: give --flows-per-line-day measured on your exporters)' : ''}`,
    ],
    ['flows per day', si(s.flowsPerDay)],
    ['flows/s, mean / busiest hour', `${si(s.meanFlowsPerSecond)} / ${si(s.peakFlowsPerSecond)} (per exporter ${si(s.perExporterPeak)})`],
    ['collector cores', `${s.cores.ingest} (ingest.workers; 1 M records/s per core publishing lz4 to Kafka, with 50 % headroom)`],
    ['pipeline cores (ingest + Kafka + detector + ClickHouse inserts)', `${s.cores.pipeline} (5.6 µs CPU per flow end to end, half spare at the peak)`],
    ['Kafka partitions of the flow topic', `${s.kafka.partitions} (at least 16: fewer lines per batch, fewer rows)`],
    ['Kafka bytes per day (lz4 batches)', `${si(s.kafka.bytesPerDay, 'B')}; 24 h retention: ${si(s.kafka.diskForRetention, 'B')} per replica`],
    ['ClickHouse rows per day', si(s.clickhouse.rowsPerDay)],
    ['ClickHouse disk per day (compressed)', si(s.clickhouse.bytesPerDay, 'B')],
    [
      `ClickHouse disk for the retention (${i.evidenceDays} days evidence, ${i.detectionDays} days detections)`,
      `${si(s.clickhouse.diskForRetention, 'B')} per replica`,
    ],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}
