// Domain errors. Nothing here knows about HTTP frameworks: the single error
// handler in src/http/problem.ts turns these into RFC 9457 problem+json.

export interface FieldError {
  path: string
  message: string
}

export abstract class MyntrixError extends Error {
  abstract readonly status: number
  abstract readonly type: string
  readonly errors?: FieldError[]

  constructor(message: string, options?: { cause?: unknown; errors?: FieldError[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    if (options?.errors) this.errors = options.errors
  }

  get title(): string {
    return this.type
      .split('-')
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join(' ')
  }
}

/**
 * The base of an error that is only its status and problem type (most are):
 * `class ConflictError extends statusError(409, 'conflict') {}` keeps its own
 * name for `instanceof` and in logs.
 */
function statusError<S extends number, T extends string>(status: S, type: T) {
  return class extends MyntrixError {
    readonly status = status
    readonly type = type
  }
}

/**
 * The base of an error that carries boolean flags beside its status and type
 * (a driver's `disconnected`, `timedOut`, ...), so that callers branch on
 * flags, never on message text. Every flag is false unless given:
 * `class TransferError extends flaggedError(502, 'transfer-failed', ['timedOut']) {}`.
 */
export function flaggedError<S extends number, T extends string, const F extends string>(
  status: S,
  type: T,
  flagNames: readonly F[],
) {
  class Flagged extends MyntrixError {
    readonly status = status
    readonly type = type
    constructor(message: string, flags: Partial<Record<F, boolean>> = {}, cause?: unknown) {
      super(message, { cause })
      for (const name of flagNames) (this as Record<string, unknown>)[name] = flags[name] ?? false
    }
  }
  return Flagged as unknown as new (
    message: string,
    flags?: Partial<Record<F, boolean>>,
    cause?: unknown,
  ) => Flagged & { readonly [K in F]: boolean }
}

/** 400: the request is malformed or fails validation. */
export class ValidationError extends MyntrixError {
  readonly status = 400
  readonly type = 'validation-error'
  constructor(message: string, errors?: FieldError[]) {
    super(message, { errors })
  }
}

/**
 * Runs one check of a validator that collects every problem: a ValidationError
 * adds its field errors to `errors` (or one error at `path` when it names none),
 * so nothing a check found is ever dropped and the caller refuses the request.
 * Anything else is a bug, not bad input, and is re-thrown.
 */
export function collectErrors<T>(errors: FieldError[], path: string, check: () => T): T | undefined {
  try {
    return check()
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err
    if (err.errors && err.errors.length > 0) errors.push(...err.errors)
    else errors.push({ path, message: err.message || 'is invalid' })
    return undefined
  }
}

/** 401: no or bad credentials. */
export class UnauthorizedError extends statusError(401, 'unauthorized') {}

/** 403: authenticated, but the role does not allow this. */
export class ForbiddenError extends statusError(403, 'forbidden') {}

/** 404: unknown id, or another owner's resource (never reveal it exists). */
export class NotFoundError extends MyntrixError {
  readonly status = 404
  readonly type = 'not-found'
  constructor(kind: string, id: string) {
    super(`${kind} ${id} not found`)
  }
}

/** 408: the client stopped sending the request before it was complete. */
export class RequestTimeoutError extends statusError(408, 'request-timeout') {}

/** 409: the resource is in the wrong state for this request. */
export class ConflictError extends statusError(409, 'conflict') {}

/** 413: the body is larger than allowed. */
export class PayloadTooLargeError extends statusError(413, 'payload-too-large') {}

/** 422: well-formed, but cannot be carried out in the current state. */
export class UnprocessableError extends statusError(422, 'unprocessable') {}

/** 429: too many attempts. */
export class TooManyRequestsError extends MyntrixError {
  readonly status = 429
  readonly type = 'too-many-requests'
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message)
  }
}

/** 502: an upstream (device, broker) failed in a way the client cannot fix. */
export class UpstreamError extends statusError(502, 'upstream-error') {}

/** 503: a dependency (database) is unavailable. */
export class UnavailableError extends statusError(503, 'unavailable') {}

/** 504: a device or upstream gave no answer in time. */
export class TimeoutError extends statusError(504, 'timeout') {}

/** Thrown at start-up for a bad setting; main.ts prints it as one line and exits. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`)
    this.name = 'ConfigError'
  }
}
