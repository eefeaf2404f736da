import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * --help or -h: print the script's leading comment (what it measures and its options) and exit,
 * before anything runs (several benchmarks take half an hour with their defaults).
 */
export function exitOnHelp(moduleUrl: string): void {
  if (!process.argv.includes('--help') && !process.argv.includes('-h')) return;
  const lines: string[] = [];
  for (const l of readFileSync(fileURLToPath(moduleUrl), 'utf8').split('\n')) {
    const m = /^\s*(?:\/\/|\/\*\*|\*\/|\*)\s?(.*)$/.exec(l);
    if (!m) break;
    lines.push(m[1]!);
  }
  process.stdout.write(lines.join('\n').trim() + '\n');
  process.exit(0);
}
export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function fmtRate(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}k`;
  return n.toFixed(0);
}

/** A GitHub-flavoured markdown table. */
export function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export function arg(name: string, dflt?: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

/** glibc malloc as `haystack` runs its flow commands (apps/cli/bin/haystack.js): large buffers from the heap, kept. */
export const PRODUCT_MALLOC = { MALLOC_MMAP_THRESHOLD_: '33554432', MALLOC_TRIM_THRESHOLD_: '268435456' };

/**
 * Re-run this script with the product's malloc settings unless they (or others) are set, so a
 * benchmark that hosts the service in its own process measures what `haystack` runs. Returns
 * true if it re-ran (the caller then does nothing).
 */
export function reexecWithProductMalloc(): boolean {
  if (process.platform !== 'linux' || process.env.MALLOC_MMAP_THRESHOLD_ !== undefined) return false;
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, ...PRODUCT_MALLOC } });
  process.exitCode = r.status ?? 1;
  return true;
}

/**
 * --pin CPU: re-run this script pinned to that CPU at niceness -10 in its own session (and
 * autogroup), so other sessions' load on this shared machine does not set the figures; glibc
 * malloc tuned as the `haystack` command runs flow commands unless `defaultMalloc`. Returns true
 * if it re-ran (the caller then does nothing).
 */
export function reexecPinned(defaultMalloc = false): boolean {
  const cpu = arg('--pin');
  if (cpu === undefined || process.env.HAYSTACK_BENCH_PINNED) return false;
  const r = spawnSync(
    'setsid',
    [
      'sh',
      '-c',
      `echo -10 > /proc/self/autogroup 2>/dev/null; exec nice -n -10 taskset -c ${Number(cpu)} "$0" "$@"`,
      process.execPath,
      ...process.argv.slice(1),
    ],
    {
      stdio: 'inherit',
      env: {
        ...process.env,
        HAYSTACK_BENCH_PINNED: cpu,
        ...(defaultMalloc ? {} : PRODUCT_MALLOC),
      },
    },
  );
  process.exitCode = r.status ?? 1;
  return true;
}
