import type { Command } from 'commander';
import { createLogger, loadConfig, ConfigError, type HaystackConfig, type Logger } from '@haystack/common';

export interface Runtime {
  config: HaystackConfig;
  log: Logger;
}

/** Global options live on the root command; every subcommand reads them through here. */
export function runtime(cmd: Command, overrides: Record<string, unknown> = {}): Runtime {
  let root = cmd;
  while (root.parent) root = root.parent;
  const g = root.opts<{ config?: string; logLevel?: string }>();
  const config = loadConfig({
    file: g.config ?? process.env.HAYSTACK_CONFIG,
    overrides: g.logLevel ? { ...overrides, log: { level: g.logLevel } } : overrides,
  });
  const log = createLogger({ level: config.log.level });
  return { config, log };
}

/** Run an async action and turn known errors into a one-line message and exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof ConfigError) {
        process.stderr.write(`haystack: ${e.message}\n`);
        process.exit(2);
      }
      const err = e as Error & { exitCode?: number; userFacing?: boolean };
      if (err.userFacing) {
        process.stderr.write(`haystack: ${err.message}\n`);
        process.exit(err.exitCode ?? 1);
      }
      process.stderr.write(`haystack: ${err.stack ?? String(e)}\n`);
      process.exit(1);
    }
  };
}

/** An error whose message is for the operator (no stack trace). */
export class UserError extends Error {
  readonly userFacing = true;
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/**
 * Resolves on SIGINT or SIGTERM; rejects when a component reports that it stopped working
 * for good (e.g. a Kafka consumer its client will not restart), so the command stops cleanly
 * and exits non-zero for its supervisor to restart it rather than idling.
 */
export function untilStopped(log: Logger, failures: Promise<Error>[] = []): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onSignal = (sig: NodeJS.Signals) => {
      log.info({ signal: sig }, 'signal received');
      done();
      resolve();
    };
    const done = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    for (const f of failures) {
      void f.then((err) => {
        done();
        log.error({ err }, 'stopping: a component failed for good');
        reject(err);
      });
    }
  });
}
