import type { TableDDL } from './schema.js';

/**
 * ClickHouse cluster mode (`clickhouse.cluster`): the same tables, replicated through Keeper on
 * every shard's replicas, and with more than one shard a local table per shard plus a
 * Distributed table under the name readers and writers use. Every statement runs ON CLUSTER and
 * is idempotent (IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, MODIFY TTL), so every process may run
 * the migration at start, as on one server.
 *
 * Sharding key: a table that holds lines is sharded by its line (cityHash64(line)), so
 * everything the detector and the report aggregate per line — its evidence, detections, active
 * days, traffic to backends, IXP member — lives on one shard, and a redelivered row lands where
 * its first copy is (ReplacingMergeTree collapses duplicates per shard only). Any other table is
 * sharded by its whole sorting key, for the same reason.
 *
 * Checked with the embedded engine's parser (same SQL dialect as the server) and golden files
 * (testdata/cluster/); not run on a real cluster here (README says so).
 */
export interface ClusterOptions {
  /** The cluster's name in the servers' remote_servers configuration. */
  name: string;
  /** Shards of that cluster: 1 = replicated tables only; more = local tables plus Distributed ones. */
  shards: number;
}

/** The Keeper path of a replicated table: one per shard, the replica from the server's macros. */
const keeperPath = (db: string, table: string) => `/clickhouse/tables/{shard}/${db}/${table}`;

export const localName = (table: string, c: ClusterOptions | null): string => (c && c.shards > 1 ? `${table}_local` : table);

function shardingKey(sql: string): string {
  if (/\n\s*line String,/.test(sql)) return 'cityHash64(line)';
  const m = /ORDER BY \(([^)]*)\)/.exec(sql) ?? /ORDER BY (\w+)/.exec(sql);
  return `cityHash64(${m ? m[1]!.trim() : 'rand()'})`;
}

/** Every statement of the migration in cluster mode, in order (tables before the views reading them). */
export function clusterStatements(db: string, ddl: TableDDL[], c: ClusterOptions): string[] {
  const on = `ON CLUSTER ${c.name}`;
  const sharded = c.shards > 1;
  const out: string[] = [`CREATE DATABASE IF NOT EXISTS ${db} ${on}`];
  const tables = new Set(ddl.map((d) => d.table));
  for (const d of ddl) {
    const local = localName(d.table, c);
    if (/^\s*CREATE MATERIALIZED VIEW/.test(d.sql)) {
      // A view reads and feeds the local tables of its own shard.
      let sql = d.sql.replace(new RegExp(`(CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}\\.${d.table})`), `$1 ${on}`);
      if (sharded) for (const t of tables) if (t !== d.table) sql = sql.replace(new RegExp(`${db}\\.${t}\\b`, 'g'), `${db}.${localName(t, c)}`);
      out.push(sql.trim());
      continue;
    }
    let sql = d.sql.replace(`CREATE TABLE IF NOT EXISTS ${db}.${d.table} (`, `CREATE TABLE IF NOT EXISTS ${db}.${local} ${on} (`);
    sql = sql.replace(/ENGINE = (\w*MergeTree)(?:\(([^)]*)\))?/, (_m, engine: string, args: string | undefined) => {
      const a = [`'${keeperPath(db, local)}'`, `'{replica}'`, ...(args?.trim() ? [args.trim()] : [])];
      return `ENGINE = Replicated${engine}(${a.join(', ')})`;
    });
    out.push(sql.trim());
    if (sharded)
      out.push(`CREATE TABLE IF NOT EXISTS ${db}.${d.table} ${on} AS ${db}.${local} ENGINE = Distributed(${c.name}, ${db}, ${local}, ${shardingKey(d.sql)})`);
    for (const col of d.addColumns ?? []) {
      out.push(`ALTER TABLE ${db}.${local} ${on} ADD COLUMN IF NOT EXISTS ${col}`);
      if (sharded) out.push(`ALTER TABLE ${db}.${d.table} ${on} ADD COLUMN IF NOT EXISTS ${col}`);
    }
    if (d.ttl) out.push(`ALTER TABLE ${db}.${local} ${on} MODIFY ${d.ttl} SETTINGS materialize_ttl_after_modify = 0`);
  }
  return out;
}

/** Drop one partition of a table, on every shard and replica in cluster mode (the hitlist history replaces a day so). */
export function dropPartitionSql(db: string, table: string, c: ClusterOptions | null): string {
  return c ? `ALTER TABLE ${db}.${localName(table, c)} ON CLUSTER ${c.name} DROP PARTITION {p:UInt32}` : `ALTER TABLE ${db}.${table} DROP PARTITION {p:UInt32}`;
}
