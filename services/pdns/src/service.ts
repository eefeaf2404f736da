import { hostname } from 'node:os';
import type { ClickHouseStore } from '@haystack/clickhouse';
import type { HaystackConfig, Logger } from '@haystack/common';
import { openStore } from '@haystack/store';
import { PdnsStore } from '@haystack/pdns';
import { PdnsCollector } from './collector.js';

/** "host:port" → its parts (IPv6 in brackets). */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  if (!m) throw new Error(`expected host:port, got ${text}`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port: Number(m[3]) };
}

export interface PdnsService {
  collector: PdnsCollector;
  store: PdnsStore;
  /** Where resolvers can connect (after start). */
  listening: { unixSocket: string | null; tcp: { host: string; port: number } | null };
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The dnstap collector on its storage, as `haystack pdns` and `haystack run` start it. `ch`: a
 * ClickHouse already open in this process (embedded chdb allows one per process), else its own.
 */
export async function createPdnsService(opts: { config: HaystackConfig; log: Logger; ch?: ClickHouseStore; listen?: boolean }): Promise<PdnsService> {
  const { config, log } = opts;
  const ch = opts.ch ?? (await openStore(config));
  const store = await PdnsStore.open(ch, config.pdns.retentionDays);
  const collector = new PdnsCollector({
    sink: store,
    log,
    maxTuples: config.pdns.maxTuples,
    flushIntervalMs: config.pdns.flushIntervalMs,
    maxFrameBytes: config.pdns.maxFrameBytes,
    collectorId: `pdns:${hostname()}:${process.pid}`,
  });
  const svc: PdnsService = {
    collector,
    store,
    listening: { unixSocket: null, tcp: null },
    async start() {
      if (opts.listen === false) return;
      svc.listening = await collector.listen({ unixSocket: config.pdns.unixSocket, tcp: config.pdns.tcp ? parseHostPort(config.pdns.tcp) : null });
      log.info({ unixSocket: svc.listening.unixSocket, tcp: svc.listening.tcp }, 'dnstap collector listening');
    },
    async stop() {
      await collector.stop();
      if (!opts.ch) await ch.close();
    },
  };
  return svc;
}
