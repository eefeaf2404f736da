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
  const log = createLogger({ level: config.log.level, format: config.log.format === 'auto' ? undefined : config.log.format });
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
      const known = describeKnownError(err);
      if (known) {
        process.stderr.write(`haystack: ${known}\n`);
        process.exit(1);
      }
      // A bug, not a mistake: one line, the stack on request.
      if (process.env.HAYSTACK_DEBUG) process.stderr.write(`haystack: ${err.stack ?? String(e)}\n`);
      else process.stderr.write(`haystack: internal error: ${err.message ?? String(e)} (set HAYSTACK_DEBUG=1 for the stack trace)\n`);
      process.exit(1);
    }
  };
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EMFILE: 'too many open files',
};

/** Errors of the environment (files, ports, malformed captures) in one line, or null for a bug. */
export function describeKnownError(err: Error & { code?: string; path?: string; port?: number; address?: string; syscall?: string }): string | null {
  if (err.name === 'PcapFormatError' || err.name === 'ArchiveError' || err.name === 'NfdumpCompressionError') return `${err.message}`;
  if (err.code === 'EADDRINUSE')
    return `${err.address ?? ''}${err.port !== undefined ? ` port ${err.port}` : ''} is already in use (another collector running?)`.trim();
  if (err.code === 'EADDRNOTAVAIL') return `cannot bind ${err.address ?? 'that address'}: not an address of this machine`;
  if (err.code && ERRNO_TEXT[err.code]) return `${err.path ?? err.syscall ?? ''}: ${ERRNO_TEXT[err.code]}`;
  return null;
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
      // The same signal often comes twice at once (a supervisor signals the process group, and the
      // `haystack` launcher passes it on): within 5 s a repeat is ignored so the clean stop
      // (flushing flows and tuples) finishes; later, a repeat means "stop now".
      const at = Date.now();
      const again = (s: NodeJS.Signals) => {
        if (Date.now() - at < 5000) return;
        log.warn({ signal: s }, 'second signal: exiting without finishing the clean stop');
        process.exit(s === 'SIGINT' ? 130 : 143);
      };
      process.on('SIGINT', again);
      process.on('SIGTERM', again);
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

/**
 * Call once a service command has stopped cleanly: if a library still holds the process open
 * (kafkajs can keep a reconnect timer to a broker that was down), exit after a short grace with
 * the code already set, instead of hanging until the supervisor kills it.
 */
export function exitIfLingering(log: Logger, graceMs = 3000): void {
  const t = setTimeout(() => {
    log.warn({ graceMs }, 'stopped cleanly, but a connection was still open: exiting');
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  }, graceMs);
  t.unref();
}
