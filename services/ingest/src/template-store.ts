import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { DomainSnapshot, RegistrySnapshot, SequenceCheckpoint } from '@haystack/decoders';
import type { DomainHealth } from '@haystack/flow-core';

/**
 * Where templates and sampler options survive a restart (or are shared by
 * load-balanced collectors, with Redis): a restarted collector decodes at once
 * instead of dropping data until every exporter resends its templates.
 */
export interface TemplateStore {
  load(): Promise<RegistrySnapshot | null>;
  save(snapshot: RegistrySnapshot): Promise<void>;
  /** The collector's checkpoint: sequence numbers in step with what was published, and health not yet published. */
  loadCheckpoint(): Promise<CollectorCheckpoint | null>;
  saveCheckpoint(cp: CollectorCheckpoint): Promise<void>;
  close(): Promise<void>;
  readonly description: string;
  /** Present when collectors share the store (Redis): templates go to the others as they are learned. */
  readonly share?: TemplateShare;
}

/**
 * Templates shared by load-balanced collectors: what one learns from an exporter, the others
 * can decode with (an exporter that moves, or whose packets are spread), and who receives whom.
 */
export interface TemplateShare {
  /** This collector's name (its claims and checkpoint). */
  readonly name: string;
  /** Store these domains' templates and samplers and tell the other collectors. */
  publish(domains: DomainSnapshot[]): Promise<void>;
  /** The shared templates of domains (keys `exporter|version|domain`); missing ones are left out. */
  fetch(keys: string[]): Promise<DomainSnapshot[]>;
  /** Call `onChange` with the keys another collector publishes, until close(). */
  watch(onChange: (keys: string[]) => void): Promise<void>;
  /**
   * Say this collector received these domains (key → when it last heard each); returns, for
   * the same keys, when another collector last said it heard them (key → its name and time).
   */
  claim(heard: Map<string, number>): Promise<Map<string, Claim>>;
}

export interface CollectorCheckpoint {
  sequences: SequenceCheckpoint;
  /** Health deltas taken but not yet published when the checkpoint was saved. */
  health: DomainHealth[];
}

/** Write-then-rename: a crash mid-write never leaves a torn file. */
export async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** A JSON state file, or null when it does not exist; a file that is not JSON is a clear error. */
export async function readJson<T>(path: string, what: string): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${what} ${path} is not valid JSON (${(e as Error).message}); move it away to start fresh`, { cause: e });
  }
}

export class FileTemplateStore implements TemplateStore {
  /** The checkpoint lives beside the templates: templates.json → templates.checkpoint.json. */
  readonly checkpointPath: string;

  constructor(readonly path: string) {
    this.checkpointPath = `${path.replace(/\.json$/, '')}.checkpoint.json`;
  }

  get description(): string {
    return `file ${this.path}`;
  }

  load(): Promise<RegistrySnapshot | null> {
    return readJson<RegistrySnapshot>(this.path, 'template state');
  }

  save(snapshot: RegistrySnapshot): Promise<void> {
    return writeAtomically(this.path, JSON.stringify(snapshot));
  }

  loadCheckpoint(): Promise<CollectorCheckpoint | null> {
    return readJson<CollectorCheckpoint>(this.checkpointPath, 'collector checkpoint');
  }

  saveCheckpoint(cp: CollectorCheckpoint): Promise<void> {
    return writeAtomically(this.checkpointPath, JSON.stringify(cp));
  }

  async close(): Promise<void> {}
}

/** Minimal surface of an ioredis client, so this module does not pull ioredis into every user. */
export interface RedisLike {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<unknown>;
  hset(key: string, values: Record<string, string>): Promise<unknown>;
  hgetall(key: string): Promise<Record<string, string>>;
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  publish(channel: string, message: string): Promise<unknown>;
  sadd(key: string, member: string): Promise<unknown>;
  smembers(key: string): Promise<string[]>;
  quit(): Promise<unknown>;
}

/** A second connection in subscriber mode (ioredis: `duplicate()`). */
export interface RedisSubscriberLike {
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  quit(): Promise<unknown>;
}

export interface Claim {
  by: string;
  at: number;
}

interface ChangeMessage {
  from: string;
  keys: string[];
}

export function withoutSequence(d: DomainSnapshot): DomainSnapshot {
  const { sequence: _sequence, ...rest } = d;
  return rest;
}

function parseDomain(text: string | null | undefined): DomainSnapshot | null {
  if (!text) return null;
  try {
    const d = JSON.parse(text) as DomainSnapshot;
    return typeof d?.exporter === 'string' && Array.isArray(d.templates) ? d : null;
  } catch {
    return null;
  }
}

/**
 * Templates in one Redis hash (a field per exporter domain), shared by every collector that
 * points at it; changes announced on a channel. Sequence numbers and unpublished health are one
 * collector's and live under its own key: load-balanced collectors never share a checkpoint.
 */
export class RedisTemplateStore implements TemplateStore, TemplateShare {
  readonly share: TemplateShare = this;
  private readonly domainsKey: string;
  private readonly receiversKey: string;
  private readonly collectorsKey: string;
  private readonly channel: string;
  private readonly checkpointKey: string;
  private subscriber: RedisSubscriberLike | null = null;

  constructor(
    private readonly redis: RedisLike,
    private readonly key: string,
    /** This collector's name (default: the host's): give each collector of one host its own. */
    readonly name = hostname(),
    private readonly newSubscriber: (() => RedisSubscriberLike) | null = null,
  ) {
    this.domainsKey = `${key}:domains`;
    this.receiversKey = `${key}:receivers`;
    this.collectorsKey = `${key}:collectors`;
    this.channel = `${key}:changed`;
    this.checkpointKey = `${key}:checkpoint:${name}`;
  }

  get description(): string {
    return `redis key ${this.domainsKey}`;
  }

  async load(): Promise<RegistrySnapshot | null> {
    const all = await this.redis.hgetall(this.domainsKey);
    const domains = Object.values(all)
      .map(parseDomain)
      .filter((d): d is DomainSnapshot => d !== null);
    if (domains.length > 0) return { format: 'haystack-templates', version: 1, savedAt: new Date().toISOString(), domains };
    // Written by versions before the shared hash: one whole snapshot under the key itself.
    const v = await this.redis.get(this.key);
    return v ? (JSON.parse(v) as RegistrySnapshot) : null;
  }

  /** Merges: a domain another collector saved is never overwritten by one this snapshot lacks. */
  async save(snapshot: RegistrySnapshot): Promise<void> {
    await this.write(snapshot.domains);
  }

  private async write(domains: DomainSnapshot[]): Promise<string[]> {
    if (domains.length === 0) return [];
    const fields: Record<string, string> = {};
    for (const d of domains) fields[`${d.exporter}|${d.version}|${d.domain}`] = JSON.stringify(withoutSequence(d));
    await this.redis.hset(this.domainsKey, fields);
    return Object.keys(fields);
  }

  async publish(domains: DomainSnapshot[]): Promise<void> {
    const keys = await this.write(domains);
    if (keys.length) await this.redis.publish(this.channel, JSON.stringify({ from: this.name, keys } satisfies ChangeMessage));
  }

  async fetch(keys: string[]): Promise<DomainSnapshot[]> {
    if (keys.length === 0) return [];
    const values = await this.redis.hmget(this.domainsKey, ...keys);
    return values.map(parseDomain).filter((d): d is DomainSnapshot => d !== null);
  }

  async watch(onChange: (keys: string[]) => void): Promise<void> {
    if (!this.newSubscriber) return;
    const sub = (this.subscriber = this.newSubscriber());
    sub.on('message', (_channel, message) => {
      try {
        const m = JSON.parse(message) as ChangeMessage;
        if (m.from !== this.name && Array.isArray(m.keys)) onChange(m.keys.filter((k) => typeof k === 'string'));
      } catch {
        /* not ours: ignored */
      }
    });
    await sub.subscribe(this.channel);
  }

  /**
   * Each collector writes only its own hash of claims (`<key>:receivers:<name>`), so two
   * collectors claiming at once never overwrite each other; the others' are read back per key.
   */
  async claim(heard: Map<string, number>): Promise<Map<string, Claim>> {
    const others = new Map<string, Claim>();
    if (heard.size === 0) return others;
    const keys = [...heard.keys()];
    const mine: Record<string, string> = {};
    for (const k of keys) mine[k] = String(heard.get(k)!);
    await this.redis.sadd(this.collectorsKey, this.name);
    await this.redis.hset(`${this.receiversKey}:${this.name}`, mine);
    for (const other of await this.redis.smembers(this.collectorsKey)) {
      if (other === this.name) continue;
      const ats = await this.redis.hmget(`${this.receiversKey}:${other}`, ...keys);
      keys.forEach((k, i) => {
        const at = Number(ats[i]);
        if (ats[i] && Number.isFinite(at) && at > (others.get(k)?.at ?? -Infinity)) others.set(k, { by: other, at });
      });
    }
    return others;
  }

  async loadCheckpoint(): Promise<CollectorCheckpoint | null> {
    const v = await this.redis.get(this.checkpointKey);
    return v ? (JSON.parse(v) as CollectorCheckpoint) : null;
  }

  async saveCheckpoint(cp: CollectorCheckpoint): Promise<void> {
    await this.redis.set(this.checkpointKey, JSON.stringify(cp));
  }

  async close(): Promise<void> {
    await this.subscriber?.quit().catch(() => undefined);
    this.subscriber = null;
    await this.redis.quit();
  }
}
