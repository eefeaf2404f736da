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
