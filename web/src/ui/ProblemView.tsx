// An API error as the server stated it: title and detail, and the field
// errors that no field on the page claimed. Fields show their own errors with
// FieldErrors, so a message sits next to what it is about.

import type { FieldError, Problem } from '../api/problem'

export function ProblemView({
  problem,
  claimed = [],
}: {
  problem: Problem | null | undefined
  /** Paths of the fields on the form: their errors are shown beside them, not here. */
  claimed?: string[]
}) {
  if (!problem) return null
  const rest = (problem.errors ?? []).filter(
    (e) => !claimed.some((f) => e.path === f || e.path.endsWith(`.${f}`) || e.path.startsWith(`${f}.`)),
  )
  return (
    <div className="problem" role="alert">
      <strong className="problem-title">{problem.title}</strong>
      {problem.detail && <p className="problem-detail">{problem.detail}</p>}
      {rest.length > 0 && (
        <ul className="problem-errors">
          {rest.map((e) => (
            <li key={`${e.path}:${e.message}`}>
              <code>{e.path}</code> {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

export function FieldErrors({ id, errors }: { id: string; errors: FieldError[] }) {
  if (errors.length === 0) return null
  return (
    <p className="field-error" id={id}>
      {errors.map((e) => e.message).join('; ')}
    </p>
  )
}
