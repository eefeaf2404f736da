import type { ClickHouseStore } from '@haystack/clickhouse';
import { TolerantReader } from './reader.js';
import { TABLES } from './tables.js';

/** Export datagrams earlier replays stored (none when the table was never created). */
export async function loadReplayedExports(ch: ClickHouseStore): Promise<Set<string>> {
  const rows = await new TolerantReader(ch).all<{ k: string }>(`SELECT DISTINCT export_key AS k FROM ${ch.database}.${TABLES.replayedExports}`);
  return new Set(rows.map((r) => r.k));
}

/** Record datagrams a replay has stored (call once their flows are stored, never before). */
export async function recordReplayedExports(ch: ClickHouseStore, keys: readonly string[], now = new Date()): Promise<void> {
  if (keys.length === 0) return;
  const at = now.toISOString().replace('T', ' ').replace('Z', '');
  await ch.insert(
    TABLES.replayedExports,
    keys.map((export_key) => ({ export_key, replayed_at: at })),
    { batchRows: 1_000_000 },
  );
}

/** A replay's outcome for the flow days it stored: an interrupted one leaves those days partial. */
export interface ReplayRun {
  /** The capture's identity (its content id): a later run of the same capture replaces this one. */
  capture: string;
  /** The file as it was named (for people). */
  file: string;
  complete: boolean;
  bytesRead: number;
  totalBytes: number;
}

/** The flow days a detector source stored rows for (a replay's days). */
export async function daysOfSource(ch: ClickHouseStore, source: string): Promise<string[]> {
  const rows = await new TolerantReader(ch).all<{ d: string }>(
    `SELECT DISTINCT toString(day) AS d FROM ${ch.database}.${TABLES.flowQuality} WHERE source = {s:String} ORDER BY d`,
    { s: source },
  );
  return rows.map((r) => r.d);
}

/**
 * Record a replay's outcome on its days. A complete run also marks every earlier interrupted run
 * of those days complete: a day is partial until a complete run replaces it.
 */
export async function recordReplayRun(ch: ClickHouseStore, run: ReplayRun, days: readonly string[], now = new Date()): Promise<void> {
  if (days.length === 0) return;
  const at = now.toISOString().replace('T', ' ').replace('Z', '');
  const rows: Record<string, unknown>[] = days.map((day) => ({
    capture: run.capture,
    file: run.file,
    day,
    complete: run.complete ? 1 : 0,
    bytes_read: run.bytesRead,
    total_bytes: run.totalBytes,
    replayed_at: at,
  }));
  if (run.complete) {
    const open = await new TolerantReader(ch).all<{ capture: string; file: string; day: string; bytes_read: string; total_bytes: string }>(
      `SELECT capture, file, toString(day) AS day, bytes_read, total_bytes FROM ${ch.database}.${TABLES.replayRuns} FINAL WHERE complete = 0 AND day IN {days:Array(Date)}`,
      { days: [...days] },
    );
    for (const r of open)
      rows.push({
        capture: r.capture,
        file: r.file,
        day: r.day,
        complete: 1,
        bytes_read: Number(r.bytes_read),
        total_bytes: Number(r.total_bytes),
        replayed_at: at,
      });
  }
  await ch.insert(TABLES.replayRuns, rows);
}

/** Interrupted replays that leave `day` partial (none once a complete run replaced them). */
export async function partialReplays(ch: ClickHouseStore, day: string): Promise<ReplayRun[]> {
  const rows = await new TolerantReader(ch).all<{ capture: string; file: string; bytes_read: string; total_bytes: string }>(
    `SELECT capture, file, bytes_read, total_bytes FROM ${ch.database}.${TABLES.replayRuns} FINAL WHERE day = {d:Date} AND complete = 0 ORDER BY capture`,
    { d: day },
  );
  return rows.map((r) => ({ capture: r.capture, file: r.file, complete: false, bytesRead: Number(r.bytes_read), totalBytes: Number(r.total_bytes) }));
}
