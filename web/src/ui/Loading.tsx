// Loading and failed states are visible, never a blank page.

import { toProblem } from '../api/problem'
import { ProblemView } from './ProblemView'

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      Loading {what}…
    </p>
  )
}

export function QueryState({ what, error }: { what: string; error: unknown }) {
  if (error) return <ProblemView problem={toProblem(error)} />
  return <Loading what={what} />
}
