// A labelled form field with its own error line. The label is a real <label>,
// the error is tied to the input by aria-describedby and marks it invalid.

import { cloneElement, type ReactElement, useId } from 'react'
import { fieldErrors, type Problem } from '../api/problem'
import { FieldErrors } from './ProblemView'

export function Field({
  label,
  hint,
  problem,
  path,
  children,
}: {
  label: string
  hint?: string
  problem?: Problem | null
  /** The field's path in the request body, to find its errors in the problem. */
  path?: string
  children: ReactElement<Record<string, unknown>>
}) {
  const id = useId()
  const errors = path ? fieldErrors(problem, path) : []
  const describedBy = [hint ? `${id}-hint` : null, errors.length ? `${id}-error` : null]
    .filter(Boolean)
    .join(' ')
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, {
        id,
        'aria-describedby': describedBy || undefined,
        'aria-invalid': errors.length > 0 || undefined,
      })}
      {hint && (
        <p className="field-hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      <FieldErrors id={`${id}-error`} errors={errors} />
    </div>
  )
}
