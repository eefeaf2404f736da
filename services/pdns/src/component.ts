import type { Component, ComponentHealth, HaystackConfig, Later, Logger } from '@haystack/common';
import type { ClickHouseStore } from '@haystack/clickhouse';
import { createPdnsService, type PdnsService } from './service.js';

export interface PdnsComponentOptions {
  config: HaystackConfig;
  log: Logger;
  /** A store already open in this process (embedded chdb allows one per data directory); absent: its own. */
  store?: Later<ClickHouseStore | undefined>;
}

export interface PdnsComponent extends Component {
  readonly service: PdnsService | undefined;
}

/** The dnstap collector as a component: resolvers' answers become per-day passive-DNS tuples. */
export function pdnsComponent(o: PdnsComponentOptions): PdnsComponent {
  let service: PdnsService | undefined;
  return {
    name: 'pdns',
    get service() {
      return service;
    },
    async start() {
      const ch = o.store?.();
      service = await createPdnsService({ config: o.config, log: o.log, ...(ch ? { ch } : {}) });
      await service.start();
    },
    async stop() {
      await service?.stop();
    },
    health(): ComponentHealth {
      return { ok: !!service, detail: service ? { listening: service.listening } : {} };
    },
  };
}
