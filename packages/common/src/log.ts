import { pino, type Logger, type LevelWithSilent } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type { Logger };

/**
 * Logs on stderr: stdout is reserved for command output (e.g. `haystack decode` JSON lines),
 * so the two never interleave. Structured JSON lines for collectors and files; on a terminal
 * a readable line each (time, level, message, fields). log.format (HAYSTACK_LOG__FORMAT) chooses.
 */
export function createLogger(opts: { level?: LevelWithSilent; name?: string; format?: 'json' | 'pretty' } = {}): Logger {
  const level = opts.level ?? (process.env.HAYSTACK_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  const asked = opts.format;
  const pretty = asked === 'pretty' || (asked !== 'json' && process.stderr.isTTY === true);
  const options = { name: opts.name ?? 'haystack', level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (pretty)
    return pino(
      options,
      PinoPretty({
        destination: 2,
        sync: true,
        colorize: process.stderr.isTTY === true,
        ignore: 'pid,name,hostname',
        translateTime: 'SYS:HH:MM:ss',
        singleLine: true,
      }),
    );
  return pino(options, pino.destination({ fd: 2, sync: true }));
}

/** Logger that drops everything: for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
