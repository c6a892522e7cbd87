// The logging surface domain code uses; pino's logger satisfies it, and so
// does a silent stub in benchmarks. Keeps domain code off Fastify's types.

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
