// Storage insert cost on the embedded engine: detector evidence rows (the detector's most
// numerous rows) inserted through DetectorStorage with chdb's two insert paths, alternating
// per repetition so both see the same machine state. Reports CPU µs per row (process CPU:
// JavaScript encoding plus chdb's own threads) and wall time.
//
//   node load-test/dist/bench-insert.js [--rows N] [--reps N]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openClickHouse } from '@haystack/clickhouse';
import { ClickHouseDetectorStorage } from '@haystack/detector';
import { emptyRows, type DetectorRows } from '@haystack/store';
import { arg, median, table, exitOnHelp } from './stats.js';

exitOnHelp(import.meta.url);

const ROWS = Number(arg('--rows', '200000'));
const REPS = Number(arg('--reps', '3'));

function evidence(n: number, rep: number): DetectorRows {
  const rows = emptyRows();
  for (let i = 0; i < n; i++)
    rows.evidence.push({
      source: 'kafka:bench',
      src_partition: i % 8,
      src_offset: rep * 1_000_000 + (i >> 6),
      day: '2026-11-20',
      hour: `2026-11-20 ${String(i % 24).padStart(2, '0')}:00:00`,
      line: `${((i * 7919) % 50_000).toString(16).padStart(8, '0')}a1b2c3d4e5f60718`,
      class_id: `class-${i % 40}`,
      level: i % 3 ? 'product' : 'manufacturer',
      domain: `d${i % 300}.iot.example.com`,
      hitlist_day: '2026-11-20',
      flows: 1 + (i % 5),
      sampled_packets: 10 + (i % 90),
      sampled_bytes: 1_000 + i,
      est_packets: 1_000 * (1 + (i % 9)),
      est_bytes: 100_000 + i * 3,
      unknown_rate_flows: 0,
      first_seen: '2026-11-20 10:01:02.123',
      last_seen: '2026-11-20 10:05:02.456',
    });
  return rows;
}

const results: Record<'file' | 'json', { cpu: number[]; wall: number[] }> = { file: { cpu: [], wall: [] }, json: { cpu: [], wall: [] } };
const dir = await mkdtemp(join(tmpdir(), 'haystack-bench-insert-'));
try {
  for (let rep = 0; rep < REPS; rep++)
    for (const mode of rep % 2 ? (['json', 'file'] as const) : (['file', 'json'] as const)) {
      const ch = await openClickHouse({ dataDir: join(dir, 'chdb'), database: 'bench_insert', embeddedInserts: mode });
      try {
        const st = new ClickHouseDetectorStorage(ch, { evidenceDays: 30, detectionDays: 400, qualityDays: 400 });
        await st.ensureSchema();
        const rows = evidence(ROWS, rep * 2 + (mode === 'json' ? 1 : 0));
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await st.insert(rows);
        const c = process.cpuUsage(c0);
        results[mode].cpu.push((c.user + c.system) / ROWS);
        results[mode].wall.push(performance.now() - t0);
        process.stdout.write(`rep ${rep + 1} ${mode}: ${((c.user + c.system) / ROWS).toFixed(2)} µs CPU/row, ${(performance.now() - t0).toFixed(0)} ms\n`);
      } finally {
        await ch.close();
      }
    }
} finally {
  await rm(dir, { recursive: true, force: true });
}
const f = median(results.file.cpu);
const j = median(results.json.cpu);
process.stdout.write(
  `\n${ROWS.toLocaleString('en-US')} evidence rows per insert, ${REPS} reps (medians)\n\n` +
    table(
      ['embedded insert path', 'CPU µs/row', 'wall ms', 'CPU vs JSON'],
      [
        ['TabSeparated file, INSERT … FROM INFILE (default)', f.toFixed(2), median(results.file.wall).toFixed(0), `${(f / j).toFixed(2)}×`],
        ['JSONEachRow inline', j.toFixed(2), median(results.json.wall).toFixed(0), '1.00×'],
      ],
    ) +
    '\n',
);
