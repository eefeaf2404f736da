import { rm } from 'node:fs/promises';
import type { MessagePort } from 'node:worker_threads';
import type { DomainSnapshot, RegistrySnapshot } from '@haystack/decoders';
import {
  FileTemplateStore,
  readJson,
  withoutSequence,
  writeAtomically,
  type CollectorCheckpoint,
  type RedisLike,
  type RedisSubscriberLike,
} from './template-store.js';

/**
 * Templates shared by the workers of one process. Workers are collectors like any other: each
 * runs a RedisTemplateStore (the same sharing, fetching and claims as collectors on several
 * machines), here against this small in-memory stand-in for the Redis commands it uses, served
 * by the main thread. With `persist: file` the hub keeps the merged templates in the usual
 * templates.json and each worker's checkpoint beside it (templates.w<i>.checkpoint.json).
 */

type Op =
  | { op: 'get'; key: string }
  | { op: 'set'; key: string; value: string }
  | { op: 'hset'; key: string; values: Record<string, string> }
  | { op: 'hgetall'; key: string }
  | { op: 'hmget'; key: string; fields: string[] }
  | { op: 'publish'; channel: string; message: string }
  | { op: 'sadd'; key: string; member: string }
  | { op: 'smembers'; key: string }
  | { op: 'subscribe'; channel: string };
type Request = { t: 'redis'; id: number } & Op;
type Answer = { t: 'redis-answer'; id: number; value?: unknown; error?: string };
type Message = { t: 'redis-message'; channel: string; message: string };

export interface TemplateHubOptions {
  /** The key the workers' RedisTemplateStore uses. */
  key: string;
  /** persist: file: templates.json (merged) and, per worker name, where its checkpoint goes. */
  file: { path: string; checkpoints: Map<string, string> } | null;
}

export class TemplateHub {
  private readonly strings = new Map<string, string>();
  private readonly hashes = new Map<string, Map<string, string>>();
  private readonly sets = new Map<string, Set<string>>();
  private readonly subscribers = new Map<string, Set<MessagePort>>();
  private readonly domainsKey: string;
  private readonly checkpointKeys = new Map<string, string>();
  /** One write at a time per file, the latest state each time. */
  private writes = new Map<string, Promise<void>>();

  constructor(private readonly o: TemplateHubOptions) {
    this.domainsKey = `${o.key}:domains`;
    for (const [name, path] of o.file?.checkpoints ?? []) this.checkpointKeys.set(`${o.key}:checkpoint:${name}`, path);
  }

  /**
   * Read what the files hold (a missing file is a fresh start; an unreadable one is said, not
   * replaced). A single collector's checkpoint (templates.checkpoint.json, from `workers: 1` or a
   * version before workers) goes to the first worker when it has none of its own: its
   * unpublished health is published once, and its exporters' restart gap is counted where they
   * land on that worker. The file is removed once the first worker has saved its own, so a later
   * single collector never restores it (its numbers would be stale by then).
   */
  async load(): Promise<{ templates: number; inherited: boolean }> {
    if (!this.o.file) return { templates: 0, inherited: false };
    const file = new FileTemplateStore(this.o.file.path);
    const snap = await file.load();
    const h = this.hash(this.domainsKey);
    for (const d of snap?.domains ?? []) h.set(`${d.exporter}|${d.version}|${d.domain}`, JSON.stringify(withoutSequence(d)));
    for (const [key, path] of this.checkpointKeys) {
      const cp = await readJson<CollectorCheckpoint>(path, 'collector checkpoint');
      if (cp) this.strings.set(key, JSON.stringify(cp));
    }
    const first = [...this.checkpointKeys.keys()][0];
    let inherited = false;
    if (first !== undefined && !this.strings.has(first)) {
      const single = await file.loadCheckpoint();
      if (single) {
        this.strings.set(first, JSON.stringify(single));
        this.singleCheckpoint = file.checkpointPath;
        this.firstKey = first;
        inherited = true;
      }
    }
    return { templates: h.size, inherited };
  }

  /** The single collector's checkpoint the first worker inherited, removed once it saved its own. */
  private singleCheckpoint: string | null = null;
  private firstKey: string | null = null;

  /** Serve one worker's requests on `port`. */
  serve(port: MessagePort): void {
    port.on('message', (m: Request) => {
      if (m?.t !== 'redis') return;
      this.handle(m, port).then(
        (value) => port.postMessage({ t: 'redis-answer', id: m.id, value } satisfies Answer),
        (e: unknown) => port.postMessage({ t: 'redis-answer', id: m.id, error: e instanceof Error ? e.message : String(e) } satisfies Answer),
      );
    });
  }

  private hash(key: string): Map<string, string> {
    let h = this.hashes.get(key);
    if (!h) this.hashes.set(key, (h = new Map()));
    return h;
  }

  private async handle(m: Request, port: MessagePort): Promise<unknown> {
    switch (m.op) {
      case 'get':
        return this.strings.get(m.key) ?? null;
      case 'set': {
        this.strings.set(m.key, m.value);
        const path = this.checkpointKeys.get(m.key);
        if (path) await this.write(path, () => this.strings.get(m.key)!);
        if (path && m.key === this.firstKey && this.singleCheckpoint) {
          const single = this.singleCheckpoint;
          this.singleCheckpoint = null;
          await rm(single, { force: true });
        }
        return 'OK';
      }
      case 'hset': {
        const h = this.hash(m.key);
        for (const [f, v] of Object.entries(m.values)) h.set(f, v);
        if (m.key === this.domainsKey && this.o.file) await this.write(this.o.file.path, () => this.templatesText());
        return Object.keys(m.values).length;
      }
      case 'hgetall':
        return Object.fromEntries(this.hashes.get(m.key) ?? []);
      case 'hmget': {
        const h = this.hashes.get(m.key);
        return m.fields.map((f) => h?.get(f) ?? null);
      }
      case 'publish': {
        const subs = this.subscribers.get(m.channel);
        for (const p of subs ?? []) p.postMessage({ t: 'redis-message', channel: m.channel, message: m.message } satisfies Message);
        return subs?.size ?? 0;
      }
      case 'sadd': {
        let s = this.sets.get(m.key);
        if (!s) this.sets.set(m.key, (s = new Set()));
        s.add(m.member);
        return 1;
      }
      case 'smembers':
        return [...(this.sets.get(m.key) ?? [])];
      case 'subscribe': {
        let s = this.subscribers.get(m.channel);
        if (!s) this.subscribers.set(m.channel, (s = new Set()));
        s.add(port);
        return 1;
      }
    }
  }

  /** The merged templates in the file format one collector writes (templates.json). */
  private templatesText(): string {
    const domains: DomainSnapshot[] = [];
    for (const v of this.hash(this.domainsKey).values()) domains.push(JSON.parse(v) as DomainSnapshot);
    return JSON.stringify({ format: 'haystack-templates', version: 1, savedAt: new Date().toISOString(), domains } satisfies RegistrySnapshot);
  }

  /** Write after the write in progress to that file, with the state as of then. */
  private write(path: string, text: () => string): Promise<void> {
    const next = (this.writes.get(path) ?? Promise.resolve()).catch(() => undefined).then(() => writeAtomically(path, text()));
    this.writes.set(path, next);
    return next;
  }

  /** Every write started so far has settled. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.writes.values()]);
  }
}

/** A worker's side: the Redis commands RedisTemplateStore uses, answered by the main thread's hub. */
export class HubRedisClient implements RedisLike {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners: ((channel: string, message: string) => void)[] = [];

  constructor(private readonly port: MessagePort) {
    port.on('message', (m: Answer | Message) => {
      if (m?.t === 'redis-answer') {
        const w = this.waiting.get(m.id);
        if (!w) return;
        this.waiting.delete(m.id);
        if (m.error === undefined) w.resolve(m.value);
        else w.reject(new Error(m.error));
      } else if (m?.t === 'redis-message') for (const l of this.listeners) l(m.channel, m.message);
    });
  }

  private call<T>(op: Op): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.port.postMessage({ t: 'redis', id, ...op } satisfies Request);
    });
  }

  get(key: string): Promise<string | null> {
    return this.call({ op: 'get', key });
  }
  set(key: string, value: string): Promise<unknown> {
    return this.call({ op: 'set', key, value });
  }
  hset(key: string, values: Record<string, string>): Promise<unknown> {
    return this.call({ op: 'hset', key, values });
  }
  hgetall(key: string): Promise<Record<string, string>> {
    return this.call({ op: 'hgetall', key });
  }
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]> {
    return this.call({ op: 'hmget', key, fields });
  }
  publish(channel: string, message: string): Promise<unknown> {
    return this.call({ op: 'publish', channel, message });
  }
  sadd(key: string, member: string): Promise<unknown> {
    return this.call({ op: 'sadd', key, member });
  }
  smembers(key: string): Promise<string[]> {
    return this.call({ op: 'smembers', key });
  }
  async quit(): Promise<unknown> {
    return 'OK';
  }

  /** The subscriber connection RedisTemplateStore.watch asks for. */
  subscriber(): RedisSubscriberLike {
    return {
      subscribe: (channel: string) => this.call({ op: 'subscribe', channel }),
      on: (_event: 'message', listener: (channel: string, message: string) => void) => this.listeners.push(listener),
      quit: async () => 'OK',
    };
  }
}
