import { countries } from 'countries-list';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { parsePrefix } from './net.js';

/**
 * One configuration for every service. Embedded defaults need nothing installed:
 * an in-process bus instead of Kafka, chdb instead of a ClickHouse server,
 * an in-memory hitlist store instead of Redis. Setting `kafka.brokers`,
 * `clickhouse.url` or `redis.url` switches a boundary to the distributed deployment;
 * the logic behind the boundary is the same.
 */
/** A CIDR prefix (or a single address) as PrefixSet reads it: refused when the configuration loads, not when a service starts. */
const cidr = z.string().superRefine((v, ctx) => {
  try {
    parsePrefix(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: `not an address or CIDR prefix: ${JSON.stringify(v)}` });
  }
});

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/, 'expected "host:port"');

const exporterSampling = z
  .object({
    /** Exporter address (exact) or CIDR. */
    exporter: cidr,
    /** Observation domain / source id; omitted = every domain of the exporter. */
    observationDomain: z.number().int().min(0).max(0xffffffff).optional(),
    rate: z.number().int().min(1).max(0xffffffff),
    /** true: always use `rate`, ignoring what the exporter announces. false: use only when it announces nothing. */
    override: z.boolean().default(false),
  })
  .strict();

/** Evidence domains a line must contact within a window; null = the detector's default (see services/detector rules.ts). */
const detectorThresholds = z
  .object({
    hourly: z.number().int().min(1).nullable().default(null),
    daily: z.number().int().min(1).nullable().default(null),
  })
  .strict();

/**
 * The detector (services/detector): subscriber lines, privacy, thresholds, storage batching.
 * Appended by the detector's owner; see services/detector/README.md for each key.
 */
const detectorSection = z
  .object({
    /**
     * Key of the keyed hash (HMAC-SHA256) that pseudonymises line ids; prefer
     * HAYSTACK_DETECTOR__LINE_KEY to a file. Required with Kafka (distributed); embedded mode
     * generates one into <stateDir>/detector/line-key once. Use hex or base64 text (a value
     * of only digits would be read as a number from the environment).
     */
    lineKey: z.string().min(16, 'at least 16 characters').nullable().default(null),
    /** daily: a key derived per UTC day, so line ids of different days cannot be linked. */
    lineKeyRotation: z.enum(['none', 'daily']).default('none'),
    /** Store raw subscriber addresses (IPv4, IPv6 prefix) instead of pseudonyms. */
    rawLineIds: z.boolean().default(false),
    /**
     * Dual-stack subscribers: a file of `ipv4,ipv6-prefix` rows (an export of RADIUS/DHCP
     * accounting, refreshed daily). Their IPv6 flows count under their IPv4 line, so one
     * subscriber is one line. null: a line is one IPv4 address or one IPv6 prefix.
     */
    subscriberMap: z.string().nullable().default(null),
    /** IPv6 line prefix length; null = ingest.ipv6LinePrefixLength (the partition key). */
    ipv6LinePrefixLength: z.number().int().min(32).max(128).nullable().default(null),
    /** Detection windows: UTC hours and/or UTC days. */
    windows: z
      .array(z.enum(['hour', 'day']))
      .min(1)
      .default(['hour', 'day']),
    thresholds: detectorThresholds.prefault({}),
    /** Per class id: thresholds overriding `thresholds` and the hitlist rule. */
    classThresholds: z
      .record(z.string(), z.object({ hourly: z.number().int().min(1).optional(), daily: z.number().int().min(1).optional() }).strict())
      .default({}),
    /** The IoT dictionary, for the class hierarchy (a product implies its manufacturer and platforms); null = the rules/ shipped with Haystack. */
    rulesDir: z.string().nullable().default(null),
    /** Embedded: hitlist day directories (default <stateDir>/hitlist) when redis.url is not set. */
    hitlistDir: z.string().nullable().default(null),
    /** A flow whose day has no hitlist uses the newest hitlist of up to this many days before (0 = none). */
    hitlistFallbackDays: z.number().int().min(0).max(7).default(0),
    /** Days of hitlists held in memory at once. */
    maxHitlistDays: z.number().int().min(1).max(31).default(3),
    /** Partitions handled at the same time (their inserts are batched together). */
    concurrency: z.number().int().min(1).max(1024).default(4),
    flush: z
      .object({
        /** Longest wait before buffered rows are inserted (the batches behind them wait too). */
        maxDelayMs: z.number().int().min(0).default(200),
        maxRows: z.number().int().min(1).default(100_000),
        /** Insert attempts per flush before the batches are handed back to the source for a later retry. */
        attempts: z.number().int().min(1).default(3),
      })
      .strict()
      .prefault({}),
    retention: z
      .object({
        evidenceDays: z.number().int().min(1).default(35),
        detectionDays: z.number().int().min(1).default(400),
        qualityDays: z.number().int().min(1).default(400),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export const configSchema = z
  .object({
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** auto: a readable line each on a terminal, JSON lines otherwise (files, collectors); or always one of them. */
        format: z.enum(['auto', 'json', 'pretty']).default('auto'),
      })
      .strict()
      .default({ level: 'info', format: 'auto' }),
    metrics: z
      .object({ listen: hostPort.nullable().default('127.0.0.1:9464') })
      .strict()
      .default({ listen: '127.0.0.1:9464' }),
    /** Where embedded state lives: template cache, chdb data, reports. */
    stateDir: z.string().default('./var'),
    /**
     * isp: subscriber lines behind ingest.subscriberPrefixes are the detection units. ixp: no
     * lines: the unit is the host at the end of a flow that is not on the hitlist (IPv4 /32, IPv6
     * ixp.hostPrefixLength6), attributed to the member network it sits behind (ixp.memberExport).
     */
    deployment: z.enum(['isp', 'ixp']).default('isp'),
    ixp: z
      .object({
        /** The IXP's IX-F member export (JSON, versions 0.6/0.7/1.0): members, router MACs. */
        memberExport: z.string().nullable().default(null),
        /** Optional IP → AS table (CAIDA prefix2as, or "prefix/len AS" lines): the last way to attribute a host. */
        routeTable: z.string().nullable().default(null),
        /** An IPv6 host's unit: its /64 by default. */
        hostPrefixLength6: z.number().int().min(32).max(128).default(64),
      })
      .strict()
      .prefault({}),
    ingest: z
      .object({
        bind: z.string().default('0.0.0.0'),
        /**
         * This collector's name among collectors sharing templates in Redis (its checkpoint key and
         * its claims on exporters); null = the host name. Give each collector on one host its own.
         */
        name: z.string().min(1).max(200).nullable().default(null),
        /**
         * Collectors in this process, each on its own core, sharing the UDP ports (SO_REUSEPORT: the
         * kernel keeps each exporter's source address and port on one of them); 'auto' = one per
         * core. Replays use one.
         */
        workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default('auto'),
        netflowPort: z.number().int().min(0).max(65535).default(2055),
        ipfixPort: z.number().int().min(0).max(65535).default(4739),
        /** sFlow v5 (switches, exchange fabrics); null = no sFlow socket. Every port accepts every protocol. */
        sflowPort: z.number().int().min(0).max(65535).nullable().default(6343),
        receiveBufferBytes: z
          .number()
          .int()
          .min(65536)
          .default(32 * 1024 * 1024),
        /**
         * How datagrams are read: 'batch' = recvmmsg(2), up to 64 per system call (Linux; an addon
         * compiled by `npm run build` with gcc); 'dgram' = node:dgram, one per callback (anywhere,
         * slower); 'auto' = batch where built, else dgram (said once in the log).
         */
        receive: z.enum(['auto', 'batch', 'dgram']).default('auto'),
        /** CIDRs allowed to export to us; empty = accept every exporter. */
        allowExporters: z.array(cidr).default([]),
        /** Subscriber-side prefixes: decide which end of a flow is the line (partition key). */
        subscriberPrefixes: z.array(cidr).default(['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']),
        /** How often exporter health snapshots (deltas) are published beside the flows. */
        healthIntervalMs: z.number().int().min(1000).default(60_000),
        /** A subscriber line's IPv6 prefix length: the partition key (and the detector's line) for IPv6. */
        ipv6LinePrefixLength: z.number().int().min(32).max(128).default(56),
        sampling: z
          .object({
            /** Rate used when an exporter announces none and no exporter entry matches; null = leave unknown (0) and count it. */
            defaultRate: z.number().int().min(1).nullable().default(null),
            exporters: z.array(exporterSampling).default([]),
          })
          .strict()
          .default({ defaultRate: null, exporters: [] }),
        templates: z
          .object({
            /** Persist templates and sampler options so a restart decodes at once. */
            persist: z.enum(['file', 'redis', 'none']).default('file'),
            /** File path (persist=file); default <stateDir>/templates.json. The sequence checkpoint goes beside it (templates.checkpoint.json). */
            path: z.string().optional(),
            /** Changed templates are saved at most this often; sequence numbers are checkpointed every publish round. */
            flushIntervalMs: z.number().int().min(100).default(5000),
          })
          .strict()
          .default({ persist: 'file', flushIntervalMs: 5000 }),
        batch: z
          .object({
            maxRecords: z.number().int().min(1).max(65536).default(4096),
            maxDelayMs: z.number().int().min(1).default(200),
          })
          .strict()
          .default({ maxRecords: 4096, maxDelayMs: 200 }),
      })
      .strict()
      .prefault({}),
    kafka: z
      .object({
        /** Empty = embedded in-process bus. */
        brokers: z.array(z.string()).default([]),
        clientId: z.string().default('haystack'),
        flowTopic: z.string().default('haystack.flows'),
        acks: z.union([z.literal(-1), z.literal(0), z.literal(1)]).default(-1),
        /**
         * How flow batches are compressed on the way to the brokers. lz4 (default): 65 % of the
         * bytes for 0.7 ms of CPU per 160 KiB batch; zstd: 43 % for 1.2 ms; none: 0.24 ms
         * (load-test/RESULTS.md, Kafka clients).
         */
        compression: z.enum(['none', 'gzip', 'lz4', 'zstd']).default('lz4'),
        consumerGroup: z.string().default('haystack-detector'),
        /**
         * How long the group waits for a silent member (a killed detector) before its partitions
         * move to the others: the recovery time after a crash. Heartbeats go every third of it.
         */
        sessionTimeoutMs: z.number().int().min(6000).max(300_000).default(30_000),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({
        /** null = embedded in-memory hitlist store. */
        url: z.string().nullable().default(null),
        keyPrefix: z.string().default('haystack:'),
      })
      .strict()
      .prefault({}),
    clickhouse: z
      .object({
        /** null = embedded ClickHouse (chdb) under <stateDir>/chdb. */
        url: z.string().nullable().default(null),
        database: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
          .default('haystack'),
        username: z.string().default('default'),
        /** Prefer HAYSTACK_CLICKHOUSE__PASSWORD in the environment to a file. */
        password: z.string().default(''),
        /**
         * A ClickHouse cluster (remote_servers name, its shard count): tables replicated through
         * Keeper (macros {shard} and {replica}), with more than one shard a local table per shard and
         * a Distributed table readers use, every DDL ON CLUSTER. null: one server (or embedded).
         */
        cluster: z
          .object({ name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a cluster name'), shards: z.number().int().min(1).max(1024).default(1) })
          .strict()
          .nullable()
          .default(null),
      })
      .strict()
      .prefault({}),
    detector: detectorSection,
    /** The operator console and its JSON API (`haystack run` serves it; `haystack console` on its own). */
    console: z
      .object({
        /** host:port; null = `haystack run` serves no console. Keep it on 127.0.0.1 unless a proxy with TLS is in front. */
        listen: hostPort.nullable().default('127.0.0.1:8470'),
        /** `name:token` lines (0600); default <stateDir>/console/tokens, created with one token on first start. */
        tokensFile: z.string().nullable().default(null),
        /** The per-line lookup (personal data): off unless enabled; authenticated and audited. */
        lookup: z
          .object({ enabled: z.boolean().default(false) })
          .strict()
          .prefault({}),
        /**
         * Pages (aggregate counts, no per-line data) open to anyone who reaches the console, or only
         * after signing in with a token. Sign-in is required whenever the console is reachable from
         * anything but this host (listen not on loopback); set true as well when a proxy exposes it.
         */
        pagesNeedSignIn: z.boolean().default(false),
        /**
         * A TLS proxy serves the console: the session cookie is marked Secure (never sent over
         * plain HTTP). Also done for a request the proxy marks X-Forwarded-Proto: https.
         */
        behindTls: z.boolean().default(false),
        /** Pages showing today reload themselves this often. */
        refreshSeconds: z.number().int().min(5).max(3600).default(30),
        /** Default trend range. */
        trendDays: z.number().int().min(2).max(366).default(30),
      })
      .strict()
      .prefault({}),
    /**
     * Where the IoT backends live (hitlist build time, never per flow): each hitlist address's
     * AS, organisation, country and cloud provider from offline datasets, and each IoT domain's
     * party for its maker. null paths: the datasets shipped with Haystack (dated; said when stale).
     */
    backends: z
      .object({
        enabled: z.boolean().default(true),
        /** A directory of IP→ASN range CSVs ("start,end,asn,organisation", the @ip-location-db/asn format); null: the bundled copy. */
        asn: z.string().nullable().default(null),
        /** A directory of IP→country range CSVs ("start,end,CC"); null: the bundled @ip-location-db/geo-whois-asn-country. */
        country: z.string().nullable().default(null),
        /** A directory with one folder per provider of CIDR lists (ipv4.txt, ipv6.txt); null: the bundled snapshot. */
        providers: z.string().nullable().default(null),
        /** A dataset older than this many days is marked stale wherever its figures are shown. */
        maxAgeDays: z.number().int().min(1).max(3650).default(90),
        /** The operator's country (ISO 3166-1 alpha-2): the share of IoT traffic leaving it and its continent; null: not computed. */
        homeCountry: z
          .string()
          .regex(/^[A-Za-z]{2}$/, 'an ISO 3166-1 alpha-2 code such as DE')
          .transform((c) => c.toUpperCase())
          .refine((c) => c in countries, { message: 'not an ISO 3166-1 alpha-2 country code (the United Kingdom is GB)' })
          .nullable()
          .default(null),
      })
      .strict()
      .prefault({}),
    /** Passive DNS from the operator's own resolvers (dnstap): `haystack pdns`, and `haystack run` when a listener is set. */
    pdns: z
      .object({
        /** Unix socket the resolvers connect to (unbound dnstap-socket-path, ...); null = none. */
        unixSocket: z.string().nullable().default(null),
        /** TCP listener (host:port) for resolvers sending dnstap over TCP; null = none. */
        tcp: hostPort.nullable().default(null),
        /** Tuples held in memory before they are flushed (bounded memory under any query mix; 100k: ~300 MB RSS and faster than larger windows, load-test/RESULTS.md). */
        maxTuples: z.number().int().min(1000).default(100_000),
        /** Flush at least this often, so a crash loses at most this much. */
        flushIntervalMs: z.number().int().min(1000).default(300_000),
        /** Days passive DNS is kept in ClickHouse (TTL). */
        retentionDays: z.number().int().min(1).max(3650).default(90),
        /** A dnstap frame larger than this is skipped by its length and counted. */
        maxFrameBytes: z
          .number()
          .int()
          .min(1024)
          .default(1 << 20),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    // The embedded engine is one process: replication and shards need servers.
    if (c.clickhouse.cluster && !c.clickhouse.url)
      ctx.addIssue({
        code: 'custom',
        path: ['clickhouse', 'cluster'],
        message: 'needs clickhouse.url (a cluster of ClickHouse servers; the embedded engine is one process)',
      });
  });

export type HaystackConfig = z.infer<typeof configSchema>;
export type ExporterSampling = z.infer<typeof exporterSampling>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const ENV_PREFIX = 'HAYSTACK_';
/** The top-level keys that are not sections (no `__` in their variable). */
const TOP_LEVEL_ENV: Record<string, 'stateDir' | 'deployment'> = { HAYSTACK_STATE_DIR: 'stateDir', HAYSTACK_DEPLOYMENT: 'deployment' };

/**
 * Environment overrides: HAYSTACK_<SECTION>__<KEY>[__<KEY>...] = value, keys in camelCase
 * or UPPER_SNAKE (HAYSTACK_KAFKA__BROKERS, HAYSTACK_INGEST__NETFLOW_PORT); the top-level
 * HAYSTACK_STATE_DIR and HAYSTACK_DEPLOYMENT. Values are read
 * as JSON when they parse as JSON, else as strings; a comma list is accepted for arrays.
 */
export function envOverrides(env: NodeJS.ProcessEnv, sources?: Map<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, raw] of Object.entries(env)) {
    const top = Object.hasOwn(TOP_LEVEL_ENV, k) ? TOP_LEVEL_ENV[k] : undefined;
    if (top && raw) {
      out[top] = raw;
      sources?.set(top, k);
      continue;
    }
    if (!k.startsWith(ENV_PREFIX) || raw === undefined || !k.includes('__')) continue;
    const path = k
      .slice(ENV_PREFIX.length)
      .split('__')
      .map((p) => p.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
    {
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        value = raw;
      }
      let node: Record<string, unknown> = out;
      for (let i = 0; i < path.length - 1; i++) {
        const key = path[i]!;
        node[key] ??= {};
        node = node[key] as Record<string, unknown>;
      }
      node[path[path.length - 1]!] = value;
      sources?.set(path.join('.'), k);
    }
  }
  return out;
}

function deepMerge(a: unknown, b: unknown): unknown {
  if (b === undefined) return a;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = deepMerge(out[k], v);
    return out;
  }
  return b;
}

/** Edit distance (small strings: configuration keys). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The keys the configuration has at `path` (from its defaults), for "did you mean". */
function keysAt(path: string[]): string[] {
  let node: unknown = configSchema.parse({});
  for (const p of path) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[p] : undefined;
  return node && typeof node === 'object' && !Array.isArray(node) ? Object.keys(node) : [];
}

function closestKey(key: string, path: string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of keysAt(path)) {
    const dd = distance(key, k);
    if (dd < bestD) [best, bestD] = [k, dd];
  }
  return best !== null && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : null;
}

/** Each problem names where its value came from: the environment variable, the file, or the defaults. */
function formatIssues(err: z.ZodError, source: string, envSources: Map<string, string>): string {
  return err.issues
    .map((i) => {
      const path = i.path.map(String);
      if (i.code === 'unrecognized_keys') {
        // An unknown key is blamed on the variable or file that gave it, with the nearest real key.
        return i.keys
          .map((k) => {
            const full = [...path, k];
            const from = envSources.get(full.join('.')) ?? source;
            const near = closestKey(k, path);
            return `  ${from}: ${full.join('.')}: unknown key${near ? ` (did you mean ${[...path, near].join('.')}?)` : ''}`;
          })
          .join('\n');
      }
      let from = source;
      for (let n = path.length; n > 0; n--) {
        const v = envSources.get(path.slice(0, n).join('.'));
        if (v) {
          from = v;
          break;
        }
      }
      return `  ${from}: ${path.length ? path.join('.') : '(root)'}: ${i.message}`;
    })
    .join('\n');
}

export interface LoadConfigOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Highest precedence: command-line flags already mapped to config paths. */
  overrides?: Record<string, unknown>;
}

/** File < environment < flags; validated once, with every problem listed. */
export function loadConfig(opts: LoadConfigOptions = {}): HaystackConfig {
  let fromFile: unknown = {};
  const source = opts.file ?? '(defaults)';
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${opts.file}: ${(e as Error).message}`);
    }
    try {
      fromFile = parseYaml(text) ?? {};
    } catch (e) {
      throw new ConfigError(`config file ${opts.file} is not valid YAML: ${(e as Error).message}`);
    }
  }
  const envSources = new Map<string, string>();
  const env = envOverrides(opts.env ?? process.env, envSources);
  splitCommaStrings(env);
  const merged = deepMerge(deepMerge(fromFile, env), opts.overrides ?? {});
  const res = configSchema.safeParse(merged);
  if (!res.success) {
    const issues = formatIssues(res.error, source, envSources);
    throw new ConfigError(res.error.issues.length === 1 ? `invalid configuration: ${issues.trim()}` : `invalid configuration:\n${issues}`);
  }
  return res.data;
}

const LIST_KEYS = new Set(['brokers', 'allowExporters', 'subscriberPrefixes']);
function splitCommaStrings(node: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(node)) {
    if (typeof v === 'string' && LIST_KEYS.has(k))
      node[k] = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else if (v && typeof v === 'object' && !Array.isArray(v)) splitCommaStrings(v as Record<string, unknown>);
  }
}

/** Embedded default configuration (no file, no environment). */
export function defaultConfig(): HaystackConfig {
  return configSchema.parse({});
}

/** Where ClickHouse is, as configured: the server (clickhouse.url) or embedded chdb under <stateDir>/chdb. */
export function clickHouseOptions(config: HaystackConfig): {
  url: string | null;
  dataDir: string;
  database: string;
  username: string;
  password: string;
  cluster: { name: string; shards: number } | null;
} {
  return {
    cluster: config.clickhouse.cluster,
    url: config.clickhouse.url,
    dataDir: join(config.stateDir, 'chdb'),
    database: config.clickhouse.database,
    username: config.clickhouse.username,
    password: config.clickhouse.password,
  };
}
