import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RegistrySnapshot } from '@haystack/decoders';

/**
 * Where templates and sampler options survive a restart (or are shared by
 * load-balanced collectors, with Redis): a restarted collector decodes at once
 * instead of dropping data until every exporter resends its templates.
 */
export interface TemplateStore {
  load(): Promise<RegistrySnapshot | null>;
  save(snapshot: RegistrySnapshot): Promise<void>;
  close(): Promise<void>;
  readonly description: string;
}

export class FileTemplateStore implements TemplateStore {
  constructor(readonly path: string) {}

  get description(): string {
    return `file ${this.path}`;
  }

  async load(): Promise<RegistrySnapshot | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      return JSON.parse(text) as RegistrySnapshot;
    } catch (e) {
      throw new Error(`template state ${this.path} is not valid JSON (${(e as Error).message}); move it away to start fresh`, { cause: e });
    }
  }

  /** Write-then-rename: a crash mid-write never leaves a torn file. */
  async save(snapshot: RegistrySnapshot): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(snapshot));
    await rename(tmp, this.path);
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

  async close(): Promise<void> {
    await this.redis.quit();
  }
}
