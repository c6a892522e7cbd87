// The logging surface domain code uses; pino's logger satisfies it, and so
// does a silent stub in benchmarks. Keeps domain code off Fastify's types.

import pino from 'pino'

export interface Logger {
  fatal(obj: unknown, msg?: string): void
  error(obj: unknown, msg?: string): void
  warn(obj: unknown, msg?: string): void
  info(obj: unknown, msg?: string): void
  debug(obj: unknown, msg?: string): void
  child(bindings: Record<string, unknown>): Logger
}

export const silentLogger: Logger = {
  fatal() {},
  error() {},
  warn() {},
  info() {},
  debug() {},
  child() {
    return silentLogger
  },
}

/** How long a log line may wait in the buffer before it is written. */
export const LOG_FLUSH_MS = 200

/**
 * The server's log stream: stdout, written in batches of about 4 KB (or every
 * LOG_FLUSH_MS when quieter) instead of one write per line. Under load the
 * request log is a line per request, and one write each cost as much as the
 * rest of answering a probe. The buffer is written out when the process exits,
 * by process.exit or an uncaught error too; only SIGKILL or a crash of Node
 * itself can lose its last LOG_FLUSH_MS of lines.
 */
export function logDestination(): pino.DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: LOG_FLUSH_MS })
}
