import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ClickHouseStore } from '@haystack/clickhouse';
import type { HaystackConfig, Logger } from '@haystack/common';
import type { LineIds } from '@haystack/store';
import type { GroupLagReader } from '@haystack/transport';
import type { Sessions, TokenStore } from './auth.js';
import type { PageContext } from './pages.js';
import type { ConsoleOptions } from './server.js';

/** What the console's parts (security, API routes, page routes) share, made once by createConsole. */
export interface ConsoleContext {
  app: FastifyInstance;
  opts: ConsoleOptions;
  config: HaystackConfig;
  store: ClickHouseStore;
  log: Logger;
  now: () => Date;
  today: () => string;
  tokens: TokenStore;
  sessions: Sessions;
  /** The pages' credential for asking the API in-process; never leaves this process. */
  internal: string;
  lineIds: () => LineIds;
  kafkaLag: GroupLagReader | null;
  /** The context a page is rendered in (its path, who, the day it shows). */
  ctxOf: (req: FastifyRequest, refresh?: number) => PageContext;
  requireToken: (req: FastifyRequest) => void;
}
