// Diagnostics preload for a Haystack collector under load: `node --import <this> ...`.
// Records event-loop delay (how long the loop was away from a 1 ms timer: time spent in
// datagram callbacks, GC pauses, or the process not being scheduled) and, on exit, appends one
// JSON line to $HAYSTACK_BENCH_DIAG (default: stderr).
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
const gc = { count: 0, totalMs: 0, maxMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.count++;
    gc.totalMs += e.duration;
    gc.maxMs = Math.max(gc.maxMs, e.duration);
  }
}).observe({ entryTypes: ['gc'] });
const t0 = Date.now();
// Stalls: a 5 ms interval timer that fires late by more than 15 ms, with when it happened.
const stalls: { atMs: number; lateMs: number }[] = [];
let expect = performance.now() + 5;
const tick = setInterval(() => {
  const now = performance.now();
  const late = now - expect;
  if (late > 15 && stalls.length < 200) stalls.push({ atMs: Math.round(now), lateMs: Math.round(late) });
  expect = now + 5;
}, 5);
tick.unref();
// Start the histogram after start-up (module loading, config) so it shows the collector at work.
setTimeout(() => h.reset(), Number(process.env.HAYSTACK_BENCH_DIAG_RESET_MS ?? 1000)).unref();
const stealAt = () => {
  try {
    const cpu = (process.env.HAYSTACK_BENCH_CPU ?? '').trim();
    const line = require_proc_stat()
      .split('\n')
      .find((l) => l.startsWith(cpu ? `cpu${cpu} ` : 'cpu '));
    return line ? Number(line.trim().split(/\s+/)[8]) : NaN;
  } catch {
    return NaN;
  }
};
import { readFileSync } from 'node:fs';
function require_proc_stat(): string {
  return readFileSync('/proc/stat', 'utf8');
}
const steal0 = stealAt();
process.on('exit', () => {
  h.disable();
  const ms = (ns: number) => Number((ns / 1e6).toFixed(2));
  const out = JSON.stringify({
    pid: process.pid,
    seconds: (Date.now() - t0) / 1000,
    loopDelayMs: { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), p999: ms(h.percentile(99.9)), max: ms(h.max) },
    gc: { count: gc.count, totalMs: Number(gc.totalMs.toFixed(1)), maxMs: Number(gc.maxMs.toFixed(2)) },
    stealTicks: stealAt() - steal0,
    stalls,
  });
  if (process.env.HAYSTACK_BENCH_DIAG) appendFileSync(process.env.HAYSTACK_BENCH_DIAG, `${out}\n`);
  else process.stderr.write(`${out}\n`);
});
