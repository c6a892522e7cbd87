// Every API error is an RFC 9457 problem: {type, title, status, detail,
// errors?: [{path, message}]}. The console never swallows one: calls throw an
// ApiError carrying it, and ui/ProblemView shows title and detail, with each
// field error beside the field its path names.

export interface FieldError {
  path: string
  message: string
}

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  errors?: FieldError[]
}

export class ApiError extends Error {
  readonly problem: Problem
  constructor(problem: Problem) {
    super(`${problem.title}: ${problem.detail}`)
    this.problem = problem
  }
  get status(): number {
    return this.problem.status
  }
}

function isProblem(value: unknown): value is Problem {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Problem).title === 'string' &&
    typeof (value as Problem).status === 'number'
  )
}

/** The problem in an error body, or one made from the status when the body is not one (a proxy's page). */
export function problemFrom(body: unknown, response: Response): Problem {
  if (isProblem(body)) return { ...body, detail: body.detail ?? '' }
  return {
    type: 'about:blank',
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    detail: typeof body === 'string' && body ? body.slice(0, 500) : `the server answered ${response.status}`,
  }
}

/** Any thrown value as a problem: a network failure becomes one too, so it is shown like the rest. */
export function toProblem(err: unknown): Problem {
  if (err instanceof ApiError) return err.problem
  return {
    type: 'about:blank',
    title: 'Network error',
    status: 0,
    detail: err instanceof Error ? err.message : String(err),
  }
}

/** The field errors whose path is `field` or lies under it (`configuration.command` under `command`). */
export function fieldErrors(problem: Problem | null | undefined, ...fields: string[]): FieldError[] {
  if (!problem?.errors) return []
  return problem.errors.filter((e) =>
    fields.some((f) => e.path === f || e.path.endsWith(`.${f}`) || e.path.startsWith(`${f}.`)),
  )
}
