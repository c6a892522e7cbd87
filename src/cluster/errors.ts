// The errors of working across nodes. They are ordinary MyntrixErrors, so the
// one problem handler answers them; a holder's own error crosses the bus as its
// problem fields and is thrown again here with the same status.

import { type FieldError, MyntrixError } from '../errors.js'

/** 503: the node that holds a resource did not answer a forwarded request in time. */
export class HolderUnavailableError extends MyntrixError {
  readonly status = 503
  readonly type = 'holder-unavailable'
  constructor(what: string, node: { id: string; name: string }, waitedMs: number | null) {
    super(
      waitedMs === null
        ? `node "${node.name}" (${node.id}), which holds ${what}, is not listening for requests`
        : `node "${node.name}" (${node.id}), which holds ${what}, did not answer within ${waitedMs} ms`,
    )
  }
}

/** The problem a holder answered a forwarded request with, as this node's answer. */
export class RemoteProblemError extends MyntrixError {
  readonly status: number
  readonly type: string
  constructor(problem: RemoteProblem) {
    super(problem.detail, problem.errors ? { errors: problem.errors } : undefined)
    this.status = problem.status
    this.type = problem.type
  }
}

export interface RemoteProblem {
  status: number
  type: string
  detail: string
  errors?: FieldError[]
}
