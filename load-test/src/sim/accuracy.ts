/**
 * Accuracy benchmark (docs/method.md, step 7: choose the rule threshold by measurement against
 * ground truth). A simulated ISP goes through the real pipeline — its export capture through
 * ingest (decoder, publisher) onto in-process buses, the hitlists built by the hitlist
 * service from its passive DNS and certificates, the detector — once per sampling rate, with
 * one detector per rule threshold fed the same batches. Against truth.csv it reports, per
 * detection level and class: recall within 1, 6 and 24 hours of a device's first activity,
 * and false positives (detections of classes a line does not host).
 *
 *   node load-test/dist/sim/accuracy.js [--lines N] [--days N] [--samplings 100,1000,10000]
 *        [--thresholds 1,2,3] [--seed N] [--out DIR] [--quick]
 *
 * Writes DIR/accuracy.json, DIR/accuracy.md and SVG plots; figures: load-test/RESULTS-SIM.md.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { configSchema, createLogger, type HaystackConfig } from '@haystack/common';
import type { DetectorStats, DetectorStorage, StoredDayState } from '@haystack/detector';
import type { DetectionRow, DetectorRows } from '@haystack/store';
import { addDays, buildHitlist, CertFileInput, PdnsFileInput } from '@haystack/hitlist';
import { loadRules, type Dictionary } from '@haystack/rules';
import { MemoryHitlistStore, type ClassKind } from '@haystack/hitlist-contract';
import { assemblePipeline } from '@haystack/pipeline';
import type { FlowSink } from '@haystack/transport';
import { DASHES, PALETTE, lineChart, scatterChart, type Series } from './plot.js';
import { buildWorld, simulate, type TruthRow } from '@haystack/simulator';
import { SHIPPED_RULES_DIR as repoRules } from '@haystack/rules';

// ---- the detector's storage, in memory ------------------------------------------------

/**
 * Keeps what accuracy needs: the first detection per (window, line, class) and row counts.
 * Hour-window detections repeat every hour a line qualifies; holding every row of a
 * multi-day run would cost gigabytes.
 */
export class FirstDetections implements DetectorStorage {
  /** `${window}\t${line}\t${class}` → first detection. */
  readonly first = new Map<string, { at: number; level: string; via: string; domains: number }>();
  rows = { detections: 0, evidence: 0, lineDays: 0, quality: 0 };

  async ensureSchema(): Promise<void> {}

  async insert(rows: DetectorRows, done: Set<keyof DetectorRows> = new Set()): Promise<void> {
    if (!done.has('detections')) {
      for (const d of rows.detections) this.add(d);
      this.rows.detections += rows.detections.length;
      done.add('detections');
    }
    this.rows.evidence += rows.evidence.length;
    this.rows.lineDays += rows.lineDays.length;
    this.rows.quality += rows.quality.length;
    for (const k of ['evidence', 'lineDays', 'quality', 'undecodable'] as const) done.add(k);
  }

  add(d: DetectionRow): void {
    const k = `${d.window}\t${d.line}\t${d.class_id}`;
    const at = Date.parse(`${d.detected_at.replace(' ', 'T')}Z`);
    const cur = this.first.get(k);
    if (!cur || at < cur.at) this.first.set(k, { at, level: d.level, via: d.via, domains: d.domains });
  }

  async loadDayState(): Promise<StoredDayState> {
    return { evidence: [], detections: [] };
  }
}

/** Publishes every batch to several buses (one per detector under test), each its own copy. */
class FanOutSink implements FlowSink {
  readonly partitions: number;
  constructor(private readonly sinks: FlowSink[]) {
    this.partitions = sinks[0]!.partitions;
  }
  async publish(partition: number, batch: Buffer): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.publish(partition, Buffer.from(batch))));
  }
  async close(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close()));
  }
}

// ---- metrics ---------------------------------------------------------------------------

export type WindowChoice = 'hour' | 'day' | 'any';
export const HORIZONS = [1, 6, 24];

export interface LevelMetrics {
  level: ClassKind;
  /** Truth rows at this level (line identity, class). */
  positives: number;
  /** Of those, rows whose class the hitlist can detect. */
  detectable: number;
  /** Recall within h hours of first activity, over detectable rows observed for at least h hours. */
  recall: { hours: number; eligible: number; detected: number; recall: number }[];
  /** Detectable rows detected at any time of the run. */
  detectedEver: number;
  falsePositives: number;
  /** Of which a recorded stray contact of the class's domains explains. */
  falsePositivesStray: number;
  negatives: number;
  fpRate: number;
  precision: number;
}

export interface ClassMetrics {
  class: string;
  level: ClassKind;
  detectable: boolean;
  positives: number;
  recall24: number | null;
  detectedEver: number;
  falsePositives: number;
}

export interface MetricsInput {
  truth: readonly TruthRow[];
  /** First detection per `${window}\t${line}\t${class}` (FirstDetections.first). */
  first: ReadonlyMap<string, { at: number }>;
  /** Classes the hitlist has rules for, with their level. */
  detectable: ReadonlyMap<string, ClassKind>;
  /** Distinct line identities (IPv4 lines + IPv6 prefixes of dual-stack lines). */
  lineIdentities: number;
  endMs: number;
  /** `${line}\t${class}` pairs a stray contact explains. */
  strayPairs?: ReadonlySet<string>;
}

export function computeMetrics(inp: MetricsInput, window: WindowChoice): { levels: LevelMetrics[]; classes: ClassMetrics[] } {
  const H = 3_600_000;
  // First detection per (line, class) in the chosen window(s).
  const det = new Map<string, number>();
  for (const [k, v] of inp.first) {
    const tab = k.indexOf('\t');
    const w = k.slice(0, tab);
    if (window !== 'any' && w !== window) continue;
    const lc = k.slice(tab + 1);
    const cur = det.get(lc);
    if (cur === undefined || v.at < cur) det.set(lc, v.at);
  }
  const truth = new Map<string, TruthRow>();
  for (const r of inp.truth) truth.set(`${r.line}\t${r.class}`, r);
  const levels: ClassKind[] = ['product', 'manufacturer', 'platform'];
  const classes = new Map<string, ClassMetrics & { eligible24: number; detected24: number }>();
  const cm = (id: string, level: ClassKind) => {
    let c = classes.get(id);
    if (!c)
      classes.set(
        id,
        (c = {
          class: id,
          level,
          detectable: inp.detectable.has(id),
          positives: 0,
          recall24: null,
          detectedEver: 0,
          falsePositives: 0,
          eligible24: 0,
          detected24: 0,
        }),
      );
    return c;
  };
  const out: LevelMetrics[] = levels.map((level) => ({
    level,
    positives: 0,
    detectable: 0,
    recall: HORIZONS.map((hours) => ({ hours, eligible: 0, detected: 0, recall: 0 })),
    detectedEver: 0,
    falsePositives: 0,
    falsePositivesStray: 0,
    negatives: 0,
    fpRate: 0,
    precision: 0,
  }));
  const L = (lv: string) => out[levels.indexOf(lv as ClassKind)]!;
  for (const r of inp.truth) {
    const m = L(r.level);
    const c = cm(r.class, r.level);
    m.positives++;
    c.positives++;
    if (!inp.detectable.has(r.class)) continue;
    m.detectable++;
    const at = det.get(`${r.line}\t${r.class}`);
    if (at !== undefined) {
      m.detectedEver++;
      c.detectedEver++;
    }
    m.recall.forEach((x) => {
      if (r.firstActiveMs + x.hours * H > inp.endMs) return;
      x.eligible++;
      if (at !== undefined && at - r.firstActiveMs <= x.hours * H) x.detected++;
    });
    if (r.firstActiveMs + 24 * H <= inp.endMs) {
      c.eligible24++;
      if (at !== undefined && at - r.firstActiveMs <= 24 * H) c.detected24++;
    }
  }
  for (const lc of det.keys()) {
    if (truth.has(lc)) continue;
    const cls = lc.slice(lc.indexOf('\t') + 1);
    const level = inp.detectable.get(cls);
    if (!level) continue;
    const m = L(level);
    m.falsePositives++;
    if (inp.strayPairs?.has(lc)) m.falsePositivesStray++;
    cm(cls, level).falsePositives++;
  }
  for (const m of out) {
    const classesAt = [...inp.detectable.values()].filter((l) => l === m.level).length;
    m.negatives = inp.lineIdentities * classesAt - m.detectable;
    m.fpRate = m.negatives > 0 ? m.falsePositives / m.negatives : 0;
    m.precision = m.detectedEver + m.falsePositives > 0 ? m.detectedEver / (m.detectedEver + m.falsePositives) : 0;
    for (const x of m.recall) x.recall = x.eligible > 0 ? x.detected / x.eligible : 0;
  }
  const cls = [...classes.values()]
    .map(({ eligible24, detected24, ...c }) => ({ ...c, recall24: c.detectable && eligible24 > 0 ? detected24 / eligible24 : null }))
    .sort((a, b) => levels.indexOf(a.level) - levels.indexOf(b.level) || (a.class < b.class ? -1 : 1));
  return { levels: out, classes: cls };
}

// ---- the run ---------------------------------------------------------------------------

export interface AccuracyOptions {
  lines: number;
  days: number;
  samplings: number[];
  thresholds: number[];
  seed: number;
  out: string;
  rulesDir: string;
  /**
   * The dictionary the hitlist and the detector use, when it is not the one the world is built
   * from: the same traffic judged by two dictionaries (what a dictionary change alone does).
   */
  hitlistRulesDir?: string;
  exporters: number;
}

export interface RunResult {
  sampling: number;
  threshold: number;
  records: number;
  detector: DetectorStats;
  storedRows: FirstDetections['rows'];
  metrics: Record<WindowChoice, ReturnType<typeof computeMetrics>>;
}

function pipelineConfig(o: AccuracyOptions, extra: Record<string, unknown>, stateDir: string): HaystackConfig {
  return configSchema.parse({
    log: { level: 'silent' },
    stateDir,
    metrics: { listen: null },
    ingest: { subscriberPrefixes: ['100.64.0.0/10', '2001:db8::/32'], ipv6LinePrefixLength: 56, templates: { persist: 'none' } },
    detector: { rawLineIds: true, rulesDir: o.hitlistRulesDir ?? o.rulesDir, windows: ['hour', 'day'], maxHitlistDays: 8, flush: { maxDelayMs: 0 }, ...extra },
  });
}

export async function runAccuracy(
  o: AccuracyOptions,
  progress: (msg: string) => void = () => {},
): Promise<{ results: RunResult[]; hitlistReport: object; world: object }> {
  const dict: Dictionary = loadRules(o.rulesDir);
  const hitlistDict: Dictionary = o.hitlistRulesDir ? loadRules(o.hitlistRulesDir) : dict;
  mkdirSync(o.out, { recursive: true });
  const startDay = '2026-11-20';
  const simOpts = { lines: o.lines, days: o.days, startDay, seed: o.seed, rulesDir: o.rulesDir, exporters: o.exporters, protocol: 'mixed' as const };
  const log = createLogger({ level: 'silent' });

  // The world does not depend on the sampling rate: one truth, one DNS, one set of hitlists.
  const world = buildWorld({ ...simOpts, sampling: [o.samplings[0]!] }, dict);
  const lineIdentities = world.pop.lines.count + world.pop.lines.has6.reduce((a, b) => a + b, 0);
  const results: RunResult[] = [];
  const store = new MemoryHitlistStore();
  const detectable = new Map<string, ClassKind>();
  const evidenceCount = new Map<string, number>();
  let hitlistReport: object = {};
  try {
    for (const [si, N] of o.samplings.entries()) {
      const dir = join(o.out, `sim-1-${N}`);
      progress(`simulating 1:${N} into ${dir}`);
      const sum = await simulate({ ...simOpts, sampling: [N] }, { dir }, dict);
      if (si === 0) {
        for (let d = 0; d < o.days; d++) {
          const day = addDays(startDay, d);
          progress(`building the hitlist of ${day}`);
          const r = await buildHitlist({
            day,
            rules: hitlistDict,
            pdns: [new PdnsFileInput(join(dir, 'pdns.jsonl'))],
            certs: [new CertFileInput(join(dir, 'certs.jsonl'))],
            tmpDir: o.out,
            now: new Date(0),
          });
          await store.publish(r.hitlist);
          for (const rule of r.classification.rules) {
            detectable.set(rule.class, rule.level);
            evidenceCount.set(rule.class, Math.max(evidenceCount.get(rule.class) ?? 0, rule.evidence.length));
          }
          if (d === 0) hitlistReport = { day, levels: r.report.levels, classes: r.report.classes, domains: r.report.domains, entries: r.report.entries };
        }
      }
      const strayPairs = new Set<string>();
      for (const line of readFileSync(join(dir, 'strays.csv'), 'utf8').trim().split('\n').slice(1)) {
        const [lineId, , kind] = line.split(',');
        const k = world.kinds.find((x) => x.id === kind);
        for (const t of k?.truth ?? []) strayPairs.add(`${lineId}\t${t.class}`);
      }

      // One detector-only pipeline per threshold, each on its own in-process bus, all fed by one
      // ingest-only pipeline replaying the exports (a fan-out sink copies every batch to each bus).
      const storages = o.thresholds.map(() => new FirstDetections());
      const stateDir = join(o.out, `state-${N}`);
      const members = o.thresholds.map((t, i) => {
        // A class with fewer evidence domains than t keeps its own count: a threshold it can never reach would only hide it.
        const classThresholds = Object.fromEntries([...evidenceCount].map(([c, n]) => [c, { hourly: Math.min(t, n), daily: Math.min(t, n) }]));
        return assemblePipeline({
          config: pipelineConfig(o, { classThresholds }, stateDir),
          log,
          detect: true,
          embedded: true,
          metrics: false,
          hitlists: store,
          detectorStorage: storages[i]!,
        });
      });
      for (const m of members) await m.start();
      const feeder = assemblePipeline({
        config: pipelineConfig(o, {}, stateDir),
        log,
        ingest: 'replay',
        ingestHealth: false,
        metrics: false,
        sink: new FanOutSink(members.map((m) => m.sink ?? m.transport!.bus!.sink)),
      });
      await feeder.start();
      progress(`replaying ${sum.records} records through ingest into ${members.length} detectors`);
      await feeder.replay(join(dir, 'exports.pcap'));
      await feeder.stop();
      for (const m of members) await m.stop(); // each bus drains into its detector first
      const dets = members.map((m) => m.detector!);
      o.thresholds.forEach((t, i) => {
        const inp: MetricsInput = { truth: world.truth, first: storages[i]!.first, detectable, lineIdentities, endMs: world.endMs, strayPairs };
        results.push({
          sampling: N,
          threshold: t,
          records: sum.records,
          detector: dets[i]!.stats(),
          storedRows: storages[i]!.rows,
          metrics: { hour: computeMetrics(inp, 'hour'), day: computeMetrics(inp, 'day'), any: computeMetrics(inp, 'any') },
        });
      });
      rmSync(join(dir, 'exports.pcap'), { force: true });
      rmSync(stateDir, { recursive: true, force: true });
    }
  } finally {
    await store.close();
  }
  const worldInfo = {
    lines: world.pop.lines.count,
    lineIdentities,
    devices: world.pop.devices.count,
    days: o.days,
    startDay,
    seed: o.seed,
    exporters: o.exporters,
    truthRows: world.truth.length,
    detectableClasses: Object.fromEntries(detectable),
  };
  return { results, hitlistReport, world: worldInfo };
}

// ---- reporting -------------------------------------------------------------------------

const pct = (x: number, d = 1) => `${(x * 100).toFixed(d)}%`;

export function renderMarkdown(res: Awaited<ReturnType<typeof runAccuracy>>): string {
  const out: string[] = [];
  const w = res.world as { lines: number; lineIdentities: number; devices: number; days: number; truthRows: number };
  out.push(`World: ${w.lines} lines (${w.lineIdentities} line identities with IPv6), ${w.devices} devices, ${w.days} days, ${w.truthRows} truth rows.`, '');
  for (const win of ['any', 'hour', 'day'] as const) {
    out.push(`### Detections in ${win === 'any' ? 'either window (hour or day)' : `the ${win} window`}`, '');
    out.push('| sampling | threshold | level | detectable / truth rows | recall ≤1 h | ≤6 h | ≤24 h | ever | false positives (stray) | FP rate | precision |');
    out.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of res.results) {
      for (const m of r.metrics[win].levels) {
        const rc = m.recall.map((x) => (x.eligible ? pct(x.recall) : '–'));
        out.push(
          `| 1:${r.sampling} | ${r.threshold} | ${m.level} | ${m.detectable} / ${m.positives} | ${rc.join(' | ')} | ${m.detectable ? pct(m.detectedEver / m.detectable) : '–'} | ${m.falsePositives} (${m.falsePositivesStray}) | ${pct(m.fpRate, 3)} | ${m.detectedEver + m.falsePositives ? pct(m.precision) : '–'} |`,
        );
      }
    }
    out.push('');
  }
  // Per class at threshold 1, either window.
  const base = res.results.filter((r) => r.threshold === Math.min(...res.results.map((x) => x.threshold)));
  if (base.length) {
    out.push(`### Per class (threshold ${base[0]!.threshold}, either window): recall within 24 h / false positives`, '');
    out.push(`| class | level | truth rows | ${base.map((r) => `1:${r.sampling}`).join(' | ')} |`);
    out.push(`|---|---|---:|${base.map(() => '---:').join('|')}|`);
    for (const c of base[0]!.metrics.any.classes) {
      const cells = base.map((r) => {
        const x = r.metrics.any.classes.find((y) => y.class === c.class)!;
        return x.detectable ? `${x.recall24 === null ? '–' : pct(x.recall24, 0)} / ${x.falsePositives}` : 'not detectable';
      });
      out.push(`| ${c.class} | ${c.level} | ${c.positives} | ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

export function renderPlots(res: Awaited<ReturnType<typeof runAccuracy>>, dir: string): string[] {
  const files: string[] = [];
  const samplings = [...new Set(res.results.map((r) => r.sampling))];
  const thresholds = [...new Set(res.results.map((r) => r.threshold))];
  for (const level of ['product', 'manufacturer', 'platform'] as const) {
    const series: Series[] = [];
    for (const [si, N] of samplings.entries())
      for (const [ti, t] of thresholds.entries()) {
        const r = res.results.find((x) => x.sampling === N && x.threshold === t)!;
        const m = r.metrics.any.levels.find((x) => x.level === level)!;
        series.push({
          name: `1:${N}, threshold ${t}`,
          color: PALETTE[si % PALETTE.length]!,
          dash: DASHES[ti % DASHES.length],
          points: m.recall.filter((x) => x.eligible > 0).map((x) => [x.hours, x.recall]),
        });
      }
    const f = `recall-${level}.svg`;
    writeFileSync(
      join(dir, f),
      lineChart(
        {
          title: `Recall at ${level} level (hour or day window)`,
          xLabel: 'hours since the device was first active',
          yLabel: 'share of lines detected',
          xTicks: HORIZONS,
          xTickLabels: HORIZONS.map((h) => `${h} h`),
          yMax: 1,
          yPercent: true,
        },
        series,
      ),
    );
    files.push(f);
  }
  const pts: Series[] = samplings.map((N, si) => {
    const rs = res.results.filter((r) => r.sampling === N);
    const all = rs.map((r) => {
      const ls = r.metrics.any.levels;
      const det = ls.reduce((a, m) => a + (m.recall.find((x) => x.hours === 24)?.detected ?? 0), 0);
      const el = ls.reduce((a, m) => a + (m.recall.find((x) => x.hours === 24)?.eligible ?? 0), 0);
      const fp = ls.reduce((a, m) => a + m.falsePositives, 0);
      const neg = ls.reduce((a, m) => a + m.negatives, 0);
      return [neg ? fp / neg : 0, el ? det / el : 0] as [number, number];
    });
    return { name: `1:${N}`, color: PALETTE[si % PALETTE.length]!, points: all, labels: rs.map((r) => `t=${r.threshold}`) };
  });
  writeFileSync(
    join(dir, 'recall-vs-fp.svg'),
    lineChart(
      {
        title: 'Recall within 24 h vs false-positive rate (all levels)',
        xLabel: 'false-positive rate (false line-class pairs / negative pairs)',
        yLabel: 'recall within 24 h',
        yMax: 1,
        yPercent: true,
        xPercent: true,
      },
      pts,
    ),
  );
  files.push('recall-vs-fp.svg');
  const fpSeries: Series[] = thresholds.map((t, ti) => ({
    name: `threshold ${t}`,
    color: PALETTE[ti % PALETTE.length]!,
    points: samplings.map((N) => {
      const r = res.results.find((x) => x.sampling === N && x.threshold === t)!;
      return [N, r.metrics.any.levels.reduce((a, m) => a + m.falsePositives, 0) / Math.max(1, (res.world as { lines: number }).lines)] as [number, number];
    }),
  }));
  writeFileSync(
    join(dir, 'false-positives.svg'),
    scatterChart(
      {
        title: 'False positives per line (all levels)',
        xLabel: 'sampling 1:N',
        yLabel: 'false line-class detections per line',
        xTicks: samplings,
        xTickLabels: samplings.map((n) => `1:${n}`),
      },
      fpSeries,
    ),
  );
  files.push('false-positives.svg');
  return files;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      lines: { type: 'string' },
      days: { type: 'string', default: '2' },
      samplings: { type: 'string', default: '100,1000,10000' },
      thresholds: { type: 'string', default: '1,2,3' },
      seed: { type: 'string', default: '1' },
      exporters: { type: 'string', default: '3' },
      out: { type: 'string', default: 'load-test/.cache/accuracy' },
      rules: { type: 'string', default: repoRules },
      'hitlist-rules': { type: 'string' },
      quick: { type: 'boolean', default: false },
    },
  });
  const o: AccuracyOptions = {
    lines: Number(values.lines ?? (values.quick ? 1000 : 10000)),
    days: Number(values.days),
    samplings: values.samplings!.split(',').map(Number),
    thresholds: values.thresholds!.split(',').map(Number),
    seed: Number(values.seed),
    exporters: Number(values.exporters),
    out: resolve(values.out!),
    rulesDir: resolve(values.rules!),
    hitlistRulesDir: values['hitlist-rules'] ? resolve(values['hitlist-rules']) : undefined,
  };
  const t0 = performance.now();
  const res = await runAccuracy(o, (m) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${m}\n`));
  writeFileSync(join(o.out, 'accuracy.json'), JSON.stringify(res, null, 2) + '\n');
  const md = renderMarkdown(res);
  writeFileSync(join(o.out, 'accuracy.md'), md + '\n');
  const plots = renderPlots(res, o.out);
  process.stdout.write(
    `${md}\n\nwrote ${join(o.out, 'accuracy.json')}, accuracy.md, ${plots.join(', ')} in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
