import { MyntrixError } from '../../errors.js'

/** 503: no host sample yet (the sampler is starting) or /proc could not be read. */
export class MetricsUnavailableError extends MyntrixError {
  readonly status = 503
  readonly type = 'metrics-unavailable'
}
