import type { ClickHouseStore } from '@haystack/clickhouse';
import { clusterStatements } from './cluster.js';
import { consoleDDL } from './ddl/console.js';
import { detectorDDL, type Retention } from './ddl/detector.js';
import { hitlistDDL } from './ddl/hitlist.js';
import { pdnsDDL } from './ddl/pdns.js';
import { replayDDL } from './ddl/replay.js';

/**
 * One table's (or view's) DDL. `addColumns`: columns added after the table first shipped, as
 * "name Type DEFAULT x", so a store created by an earlier version gains them in place. `ttl`: kept
 * in line with the configuration on every start.
 */
export interface TableDDL {
  table: string;
  sql: string;
  ttl?: string;
  addColumns?: string[];
}

/** Which parts of the store a process writes (each creates and migrates only its own tables). */
export interface SchemaParts {
  detector?: Retention;
  hitlistHistory?: boolean;
  pdns?: { retentionDays: number };
  console?: boolean;
  /** Replays: the export datagrams stored, kept this many days. */
  replay?: { retentionDays: number };
}

/** The DDL of the parts asked for, tables before the views that read them. */
export function schemaDDL(db: string, parts: SchemaParts): TableDDL[] {
  return [
    ...(parts.detector ? detectorDDL(db, parts.detector) : []),
    ...(parts.hitlistHistory ? hitlistDDL(db) : []),
    ...(parts.pdns ? pdnsDDL(db, parts.pdns.retentionDays) : []),
    ...(parts.console ? consoleDDL(db) : []),
    ...(parts.replay ? replayDDL(db, parts.replay.retentionDays) : []),
  ];
}

/**
 * Create what is missing and migrate what exists, in one place: every statement is idempotent
 * (IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, MODIFY TTL), so every process may run it at start.
 */
export async function ensureSchema(ch: ClickHouseStore, parts: SchemaParts): Promise<void> {
  const db = ch.database;
  if (ch.cluster) {
    // Cluster mode: the same tables replicated (and sharded), every statement ON CLUSTER (cluster.ts).
    for (const sql of clusterStatements(db, schemaDDL(db, parts), ch.cluster)) await ch.command(sql);
    return;
  }
  await ch.ensureDatabase();
  for (const s of schemaDDL(db, parts)) {
    await ch.command(s.sql);
    for (const c of s.addColumns ?? []) await ch.command(`ALTER TABLE ${db}.${s.table} ADD COLUMN IF NOT EXISTS ${c}`);
    // Keep an existing table's TTL in line with the configuration (metadata only, no rewrite).
    if (s.ttl) await ch.command(`ALTER TABLE ${db}.${s.table} MODIFY ${s.ttl} SETTINGS materialize_ttl_after_modify = 0`);
  }
}
