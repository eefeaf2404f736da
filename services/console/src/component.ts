import type { Component, ComponentHealth, Later } from '@haystack/common';
import type { ClickHouseStore } from '@haystack/clickhouse';
import { createConsole, type ConsoleOptions, type ConsoleServer } from './server.js';

export interface ConsoleComponentOptions extends Omit<ConsoleOptions, 'store'> {
  /** The store to read; there once storage has started. */
  store: Later<ClickHouseStore>;
}

export interface ConsoleComponent extends Component {
  readonly server: ConsoleServer | undefined;
}

/** The operator console as a component: pages and the JSON API on the store it is given. */
export function consoleComponent(o: ConsoleComponentOptions): ConsoleComponent {
  let server: ConsoleServer | undefined;
  const { store, ...rest } = o;
  return {
    name: 'console',
    get server() {
      return server;
    },
    async start() {
      server = await createConsole({ ...rest, store: store() });
      await server.start();
    },
    async stop() {
      await server?.stop();
    },
    health(): ComponentHealth {
      return { ok: !!server?.url, detail: { url: server?.url ?? null } };
    },
  };
}
