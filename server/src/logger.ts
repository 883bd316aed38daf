/**
 * The production logger: pino, JSON lines on stdout with ISO times and level names. Writes are
 * synchronous: the server logs little at info level, and a log line must not be lost on exit.
 */

import pino from 'pino';
import type { Logger, LogLevel } from './core/logger.ts';

export function createPinoLogger(level: LogLevel, destination: number | string = 1): Logger {
  const log = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Defence in depth: the server never logs these, and a future log call must not either.
      redact: { paths: ['token', 'message', '*.token', 'authorization'], censor: '[redacted]' },
    },
    pino.destination({ dest: destination, sync: true }),
  );
  return {
    debug: (msg, fields) => log.debug(fields ?? {}, msg),
    info: (msg, fields) => log.info(fields ?? {}, msg),
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    error: (msg, fields) => log.error(fields ?? {}, msg),
  };
}
