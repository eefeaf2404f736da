// Summarises a V8 .cpuprofile (node --cpu-prof, e.g. from `bench-collector --profile`): self time
// per function as a share of the busy (non-idle) time, and optionally the hottest source lines
// of one function.
//
//   node load-test/dist/profile-top.js FILE.cpuprofile [--top 25] [--lines functionName]
import { readFileSync } from 'node:fs';
import { arg, table } from './stats.js';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  positionTicks?: { line: number; ticks: number }[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
const usage = 'usage: profile-top FILE.cpuprofile [--top N] [--lines fn]\n';
if (!file || file === '--help' || file === '-h') {
  process.stdout.write(usage);
  process.exit(file ? 0 : 2);
}
let p: Profile;
try {
  p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
} catch (e) {
  process.stderr.write(`profile-top: cannot read ${file}: ${(e as Error).message}\n${usage}`);
  process.exit(2);
}
const time = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) time.set(p.samples[i]!, (time.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
const self = new Map<string, number>();
let busy = 0;
let idle = 0;
for (const n of p.nodes) {
  const t = time.get(n.id) ?? 0;
  const cf = n.callFrame;
  if (cf.functionName === '(idle)') {
    idle += t;
    continue;
  }
  busy += t;
  const where = cf.url ? `${cf.url.replace(/^file:\/\/.*?\/(packages|services|load-test)\//, '$1/')}:${cf.lineNumber + 1}` : '';
  const key = `${cf.functionName || '(anonymous)'}|${where}`;
  self.set(key, (self.get(key) ?? 0) + t);
}
const top = Number(arg('--top', '25'));
process.stdout.write(`${file}: busy ${(busy / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s\n\n`);
process.stdout.write(
  table(
    ['self % of busy', 'function', 'where'],
    [...self]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, t]) => [((t / busy) * 100).toFixed(1), k.split('|')[0]!, k.split('|')[1]!]),
  ) + '\n',
);
const fn = arg('--lines');
if (fn) {
  const lines = new Map<string, number>();
  let total = 0;
  for (const n of p.nodes)
    if (n.callFrame.functionName === fn)
      for (const t of n.positionTicks ?? []) {
        const k = `${n.callFrame.url}:${t.line}`;
        lines.set(k, (lines.get(k) ?? 0) + t.ticks);
        total += t.ticks;
      }
  const src = new Map<string, string[]>();
  const text = (k: string) => {
    const i = k.lastIndexOf(':');
    const url = k.slice(0, i);
    if (!src.has(url)) {
      try {
        src.set(url, readFileSync(new URL(url), 'utf8').split('\n'));
      } catch {
        src.set(url, []);
      }
    }
    return (src.get(url)![Number(k.slice(i + 1)) - 1] ?? '').trim().slice(0, 100);
  };
  process.stdout.write(
    `\nhottest lines of ${fn} (ticks include code inlined into it, shown at the line of the inlined callee's file when V8 reports it so):\n\n`,
  );
  process.stdout.write(
    table(
      ['% of its ticks', 'line', 'source'],
      [...lines]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 15)
        .map(([k, t]) => [((t / total) * 100).toFixed(1), k.replace(/^file:\/\/.*?\/(packages|services|load-test)\//, '$1/'), text(k)]),
    ) + '\n',
  );
}
