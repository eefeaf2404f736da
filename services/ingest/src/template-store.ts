import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { RegistrySnapshot, SequenceCheckpoint } from '@haystack/decoders';
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
}

export interface CollectorCheckpoint {
  sequences: SequenceCheckpoint;
  /** Health deltas taken but not yet published when the checkpoint was saved. */
  health: DomainHealth[];
}

/** Write-then-rename: a crash mid-write never leaves a torn file. */
async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

async function readJson<T>(path: string, what: string): Promise<T | null> {
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
  quit(): Promise<unknown>;
}

export class RedisTemplateStore implements TemplateStore {
  constructor(
    private readonly redis: RedisLike,
    private readonly key: string,
    /**
     * Per collector (default: per host): sequence numbers and unpublished health are one
     * collector's, so load-balanced collectors sharing the templates never share a checkpoint.
     */
    private readonly checkpointKey = `${key}:checkpoint:${hostname()}`,
  ) {}

  get description(): string {
    return `redis key ${this.key}`;
  }

  async load(): Promise<RegistrySnapshot | null> {
    const v = await this.redis.get(this.key);
    return v ? (JSON.parse(v) as RegistrySnapshot) : null;
  }

  async save(snapshot: RegistrySnapshot): Promise<void> {
    await this.redis.set(this.key, JSON.stringify(snapshot));
  }

  async loadCheckpoint(): Promise<CollectorCheckpoint | null> {
    const v = await this.redis.get(this.checkpointKey);
    return v ? (JSON.parse(v) as CollectorCheckpoint) : null;
  }

  async saveCheckpoint(cp: CollectorCheckpoint): Promise<void> {
    await this.redis.set(this.checkpointKey, JSON.stringify(cp));
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}
