import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stderr: stdout is reserved for command output
 * (e.g. `haystack decode` JSON lines), so the two never interleave.
 */
export function createLogger(opts: { level?: LevelWithSilent; name?: string } = {}): Logger {
  const level = opts.level ?? (process.env.HAYSTACK_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  return pino(
    {
      name: opts.name ?? 'haystack',
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

/** Logger that drops everything: for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
