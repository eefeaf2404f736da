/**
 * Generator speed: flow records per second the simulated ISP produces, encoded as export
 * datagrams, into a null sink (the generator alone) and into a pcap file (what
 * `haystack simulate` does). Each scenario builds its world once and generates it
 * `--repeat` times; the median is the figure (load-test/RESULTS-SIM.md). Besides wall-clock
 * records/s it reports records per CPU second of this process (user + system, so GC and
 * file-writing threads count): on a machine shared with other jobs that figure still says
 * what one core does, where wall-clock time says how much of a core we were given.
 *
 *   node load-test/dist/sim/bench-generator.js [--repeat N] [--quick] [--json FILE]
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadRules } from '@haystack/rules';
import { NullSink, PcapSink, buildWorld, generate, type PacketSink, type SimOptions } from '@haystack/simulator';
import { SHIPPED_RULES_DIR as rulesDir } from '@haystack/rules';
import { exitOnHelp } from '../stats.js';

exitOnHelp(import.meta.url);

interface Scenario {
  name: string;
  sink: 'null' | 'pcap';
  o: Partial<SimOptions>;
}

const { values } = parseArgs({ options: { repeat: { type: 'string', default: '3' }, quick: { type: 'boolean', default: false }, json: { type: 'string' } } });
const repeat = Number(values.repeat);
const scale = values.quick ? 0.1 : 1;
const L = Math.round(20_000 * scale);

const scenarios: Scenario[] = [
  { name: `${L} lines, 1 day, 1:1000 random`, sink: 'null', o: { lines: L, sampling: [1000] } },
  { name: `${L} lines, 1 day, 1:1000 deterministic`, sink: 'null', o: { lines: L, sampling: [1000], samplingMode: 'deterministic' } },
  { name: `${L} lines, 1 day, 1:100 random`, sink: 'null', o: { lines: L, sampling: [100] } },
  { name: `${Math.round(L / 10)} lines, 6 hours, 1:1 (every packet)`, sink: 'null', o: { lines: Math.round(L / 10), hours: 6, sampling: [1] } },
  { name: `${L} lines, 1 day, 1:1000 random → pcap`, sink: 'pcap', o: { lines: L, sampling: [1000] } },
  { name: `${L} lines, 1 day, 1:100 random → pcap`, sink: 'pcap', o: { lines: L, sampling: [100] } },
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const dict = loadRules(rulesDir);
const tmp = mkdtempSync(join(tmpdir(), 'haystack-bench-sim-'));
const results: object[] = [];
const load0 = loadavg()[0]!;
try {
  for (const sc of scenarios) {
    const tw = performance.now();
    const world = buildWorld({ ...sc.o, seed: 1, rulesDir }, dict);
    const worldS = (performance.now() - tw) / 1000;
    const rates: number[] = [];
    const cpuRates: number[] = [];
    let records = 0;
    let bytes = 0;
    for (let i = 0; i < repeat; i++) {
      // A fresh world each time: generation consumes the flow-cache state.
      const w = i === 0 ? world : buildWorld({ ...sc.o, seed: 1, rulesDir }, dict);
      const path = join(tmp, 'exports.pcap');
      const sink: PacketSink = sc.sink === 'null' ? new NullSink() : await PcapSink.create(path);
      const t = performance.now();
      const c0 = process.cpuUsage();
      const r = await generate(w, sink);
      await sink.close();
      const s = (performance.now() - t) / 1000;
      const cu = process.cpuUsage(c0);
      const cpu = (cu.user + cu.system) / 1e6;
      records = r.exporters.reduce((a, e) => a + e.records, 0);
      bytes = sc.sink === 'pcap' ? statSync(path).size : r.exporters.reduce((a, e) => a + e.bytes, 0);
      rates.push(records / s);
      cpuRates.push(records / cpu);
    }
    const res = {
      scenario: sc.name,
      sink: sc.sink,
      records,
      bytes,
      worldSeconds: Number(worldS.toFixed(2)),
      recordsPerSecond: Math.round(median(rates)),
      min: Math.round(Math.min(...rates)),
      max: Math.round(Math.max(...rates)),
      recordsPerCpuSecond: Math.round(median(cpuRates)),
      runs: repeat,
    };
    results.push(res);
    process.stdout.write(`${JSON.stringify(res)}\n`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const meta = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, loadavgBefore: load0, loadavgAfter: loadavg()[0] };
process.stdout.write(
  `${JSON.stringify(meta)}\n\n| scenario | sink | records | median records/s | min–max | median records per CPU s | world build s |\n|---|---|---:|---:|---:|---:|---:|\n`,
);
for (const r of results as {
  scenario: string;
  sink: string;
  records: number;
  recordsPerSecond: number;
  min: number;
  max: number;
  recordsPerCpuSecond: number;
  worldSeconds: number;
}[])
  process.stdout.write(
    `| ${r.scenario} | ${r.sink} | ${r.records.toLocaleString('en')} | ${r.recordsPerSecond.toLocaleString('en')} | ${r.min.toLocaleString('en')}–${r.max.toLocaleString('en')} | ${r.recordsPerCpuSecond.toLocaleString('en')} | ${r.worldSeconds} |\n`,
  );
if (values.json) writeFileSync(values.json, JSON.stringify({ meta, results }, null, 2) + '\n');
