import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { toTabSeparated, TsvValueError } from './tsv.js';

/**
 * An error reported by ClickHouse (server or embedded), with its numeric code as a string
 * (e.g. "60" for UNKNOWN_TABLE) and its type name. The client and chdb each bring their own
 * copy of the client's ClickHouseError class, so errors are normalised into this one.
 */
export class ClickHouseQueryError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly type: string | undefined,
    cause: unknown,
  ) {
    super(message, { cause });
    this.name = 'ClickHouseQueryError';
  }
}

function normalise(e: unknown): unknown {
  const x = e as { name?: string; code?: unknown; type?: unknown; message?: string; constructor?: { name?: string } };
  if (
    x &&
    typeof x === 'object' &&
    typeof x.code === 'string' &&
    /^\d+$/.test(x.code) &&
    (x.constructor?.name === 'ClickHouseError' || x.name === 'ClickHouseError')
  )
    return new ClickHouseQueryError(x.message ?? 'ClickHouse error', x.code, typeof x.type === 'string' ? x.type : undefined, e);
  return e;
}

async function guard<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw normalise(e);
  }
}

/**
 * The project's storage boundary. One code path for both deployments: the official
 * `@clickhouse/client`, talking HTTP to a server (`url`) or, embedded, to chdb through
 * `createChdbConnection` (experimental upstream, hence kept behind this interface: callers
 * never see chdb). The chdb connection uses chdb's async session calls, so queries do not
 * block the event loop.
 *
 * Embedded limits (CONTRIBUTING.md, "Real components in tests"): one process per data directory (a second process gets a lock
 * error, reported here as {@link ClickHouseBusyError}), and one data directory per process.
 */
export interface ClickHouseOptions {
  /** Server URL (http://host:8123); null/undefined = embedded chdb under `dataDir`. */
  url?: string | null;
  /** Embedded data directory (e.g. `<stateDir>/chdb`); required when `url` is not set. */
  dataDir?: string;
  /** Database for unqualified table names in {@link ClickHouseStore.insert}; created by {@link ClickHouseStore.ensureDatabase}. */
  database: string;
  username?: string;
  password?: string;
  /** Per-request timeout for the server transport, default 60 s. */
  requestTimeoutMs?: number;
  /** A server cluster (clickhouse.cluster): migrations run ON CLUSTER with replicated (and, for several shards, distributed) tables. */
  cluster?: { name: string; shards: number } | null;
  /**
   * Embedded bulk inserts: 'file' (default) writes TabSeparated to a temporary file read with
   * `INSERT … FROM INFILE`; 'json' sends JSONEachRow inline (slower; kept for comparison).
   */
  embeddedInserts?: 'file' | 'json';
}

export type QueryParams = Record<string, unknown>;

export interface ClickHouseStore {
  readonly mode: 'embedded' | 'server';
  readonly database: string;
  /** The server cluster the schema is replicated (and sharded) on; null: one server or embedded. */
  readonly cluster: { name: string; shards: number } | null;
  /** DDL and other statements without a result (`{name:Type}` placeholders bound from `params`). */
  command(sql: string, params?: QueryParams): Promise<void>;
  /** Run a SELECT and return its rows as objects (JSONEachRow). */
  query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]>;
  /** Insert rows (objects keyed by column) into `table` of this database, in batches of `batchRows`. */
  insert(table: string, rows: Iterable<Record<string, unknown>>, opts?: { batchRows?: number }): Promise<number>;
  /** CREATE DATABASE IF NOT EXISTS for {@link database}. */
  ensureDatabase(): Promise<void>;
  close(): Promise<void>;
}

export class ClickHouseBusyError extends Error {
  readonly userFacing = true;
  constructor(
    readonly dataDir: string,
    cause: unknown,
    /** The process holding it, when known. */
    readonly pid: number | null = null,
  ) {
    super(
      `embedded ClickHouse data directory ${dataDir} cannot be opened: it is in use by another process${pid !== null ? ` (pid ${pid})` : ''} ` +
        `(chdb allows one process per data directory) or another directory is open in this process. ` +
        `Stop the other process, use another stateDir, or set clickhouse.url.`,
      { cause },
    );
    this.name = 'ClickHouseBusyError';
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The process holding a chdb data directory: chdb takes an exclusive flock on `<dir>/status`
 * for as long as it has the directory open, and Linux lists flocks in /proc/locks
 * ("1: FLOCK ADVISORY WRITE <pid> <maj>:<min>:<inode> 0 EOF"). null: none, or not knowable here.
 */
export function statusLockHolder(dir: string): number | null {
  if (process.platform !== 'linux') return null;
  let st;
  let locks: string;
  try {
    st = statSync(join(dir, 'status'));
    locks = readFileSync('/proc/locks', 'utf8');
  } catch {
    return null;
  }
  const major = Number((BigInt(st.dev) >> 8n) & 0xfffn);
  const minor = Number((BigInt(st.dev) & 0xffn) | ((BigInt(st.dev) >> 12n) & 0xfff00n));
  for (const line of locks.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== 'FLOCK') continue; // "->" marks a waiter; POSIX locks are not chdb's
    const [ma, mi, ino] = (f[5] ?? '').split(':');
    if (Number(ino) !== st.ino || parseInt(ma ?? '', 16) !== major || parseInt(mi ?? '', 16) !== minor) continue;
    const pid = Number(f[4]);
    if (Number.isInteger(pid) && pid !== process.pid) return pid;
  }
  return null;
}

/** chdb binds one data directory per process: remember which one this process holds. */
let embeddedPath: string | null = null;
let embeddedUsers = 0;

let storeSeq = 0;
/** Insert folders of the stores this process has open. */
const openInsertDirs = new Set<string>();
/**
 * Memory the TabSeparated bodies are written into, reused across inserts of every store of the
 * process (fresh memory costs more than the encoding: tsv.ts). At most two are kept, of at most
 * 256 MiB; an insert takes one while it encodes and writes its file.
 */
const tsvScratch: Buffer[] = [];
const MAX_TSV_SCRATCH = 256 << 20;

export async function openClickHouse(opts: ClickHouseOptions): Promise<ClickHouseStore> {
  if (!IDENT.test(opts.database)) throw new Error(`invalid ClickHouse database name ${JSON.stringify(opts.database)}`);
  let client: ClickHouseClient;
  let mode: 'embedded' | 'server';
  let release = (): void => {};
  if (opts.cluster && !opts.url) throw new Error('clickhouse.cluster needs a ClickHouse server (clickhouse.url): the embedded engine is one process');
  if (opts.url) {
    mode = 'server';
    client = createClient({
      url: opts.url,
      username: opts.username ?? 'default',
      password: opts.password ?? '',
      request_timeout: opts.requestTimeoutMs ?? 60_000,
    });
  } else {
    if (!opts.dataDir) throw new Error('embedded ClickHouse needs a data directory (dataDir)');
    const dir = resolve(opts.dataDir);
    if (embeddedPath !== null && embeddedPath !== dir) throw new ClickHouseBusyError(dir, new Error(`this process already holds ${embeddedPath}`));
    mkdirSync(dir, { recursive: true });
    // Asked before chdb, which would print its own exception to stderr on the way to failing.
    const holder = statusLockHolder(dir);
    if (holder !== null) throw new ClickHouseBusyError(dir, new Error(`process ${holder} holds ${join(dir, 'status')}`), holder);
    // Loaded lazily: the chdb engine is large and only embedded mode needs it.
    const { createChdbConnection } = await import('chdb/connection');
    let connection;
    try {
      connection = createChdbConnection({ path: dir });
    } catch (e) {
      throw new ClickHouseBusyError(dir, e);
    }
    embeddedPath = dir;
    embeddedUsers++;
    release = () => {
      if (--embeddedUsers === 0) embeddedPath = null;
    };
    mode = 'embedded';
    try {
      // Servers quote 64-bit integers in JSON by default, chdb does not: make both answer alike
      // (a session setting, so queries keep their typed errors).
      await connection.command({ query: 'SET output_format_json_quote_64bit_integers = 1' } as Parameters<typeof connection.command>[0]);
    } catch (e) {
      release();
      await connection.close().catch(() => {});
      throw e;
    }
    // chdb types its connection against @clickhouse/client-common, the client bundles its own
    // copy of the same interface: structurally identical, nominally distinct.
    client = createClient({ connection: connection as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'] });
  }

  const database = opts.database;
  let closed = false;
  // Embedded: bulk inserts go through a TabSeparated file (tsv.ts says why).
  // Inside the data directory, one folder per open store named by its process: what a killed
  // process left behind is removed at the next open, never piling up in the system's temp directory.
  let insertDir: string | null = null;
  if (mode === 'embedded' && opts.embeddedInserts !== 'json') {
    const root = join(resolve(opts.dataDir!), '.inserts');
    await mkdir(root, { recursive: true });
    // This process holds the data directory (chdb's lock): every folder it has not open itself
    // is a leftover, whatever its pid says (in a container every run may be pid 1).
    for (const name of await readdir(root)) if (!openInsertDirs.has(join(root, name))) await rm(join(root, name), { recursive: true, force: true });
    insertDir = join(root, `${process.pid}-${++storeSeq}`);
    await mkdir(insertDir, { recursive: true });
    openInsertDirs.add(insertDir);
  }
  let insertSeq = 0;
  /** False when a value cannot be written as TabSeparated (the caller then sends JSON). */
  const insertFromFile = async (table: string, batch: Record<string, unknown>[]): Promise<boolean> => {
    let tsv: { columns: string[]; body: Buffer; buffer: Buffer };
    const scratch = tsvScratch.pop();
    try {
      tsv = toTabSeparated(batch, scratch);
    } catch (e) {
      if (scratch) tsvScratch.push(scratch);
      if (e instanceof TsvValueError) return false;
      throw e;
    }
    const file = join(insertDir!, `${++insertSeq}.tsv`);
    try {
      for (const c of tsv.columns) if (!IDENT.test(c)) throw new Error(`invalid column name ${JSON.stringify(c)}`);
      await writeFile(file, tsv.body);
    } finally {
      if (tsv.buffer.length <= MAX_TSV_SCRATCH && tsvScratch.length < 2) tsvScratch.push(tsv.buffer);
    }
    try {
      await guard(
        client.command({
          query: `INSERT INTO ${database}.${table} (${tsv.columns.join(', ')}) FROM INFILE '${file.replace(/[\\']/g, (c) => `\\${c}`)}' FORMAT TabSeparated`,
        }),
      );
    } finally {
      await rm(file, { force: true });
    }
    return true;
  };

  const store: ClickHouseStore = {
    mode,
    cluster: opts.cluster ?? null,
    database,
    async command(sql, params) {
      await guard(client.command({ query: sql, query_params: params }));
    },
    async query<T>(sql: string, params?: QueryParams): Promise<T[]> {
      const rs = await guard(client.query({ query: sql, query_params: params, format: 'JSONEachRow' }));
      return (await guard(rs.json())) as T[];
    },
    async insert(table, rows, o = {}) {
      if (!IDENT.test(table)) throw new Error(`invalid table name ${JSON.stringify(table)}`);
      const batchRows = o.batchRows ?? 50_000;
      let batch: Record<string, unknown>[] = [];
      let n = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        if (!(insertDir && (await insertFromFile(table, batch)))) {
          await guard(client.insert({ table: `${database}.${table}`, values: batch, format: 'JSONEachRow' }));
        }
        n += batch.length;
        batch = [];
      };
      for (const r of rows) {
        batch.push(r);
        if (batch.length >= batchRows) await flush();
      }
      await flush();
      return n;
    },
    async ensureDatabase() {
      await guard(client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}${opts.cluster ? ` ON CLUSTER ${opts.cluster.name}` : ''}` }));
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await client.close();
      } finally {
        release();
        if (insertDir) {
          openInsertDirs.delete(insertDir);
          await rm(insertDir, { recursive: true, force: true });
        }
      }
    },
  };
  return store;
}
