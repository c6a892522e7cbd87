// Health 0-100 as a meter with its number; colours as the dashboard's
// (green >= 90, yellow >= 70, orange > 0, red 0). With `parts`, the parts that
// cost points are named beside it, so a low number says why.

import type { HealthDetails } from '../../api/types'

export const PART_NAMES: Record<keyof HealthDetails, string> = {
  liveness: 'Process alive',
  check: 'Health check',
  recentRestarts: 'Recent restarts',
  memory: 'Memory',
  cpu: 'CPU',
}

export function HealthBar({ health, parts }: { health: number; parts?: HealthDetails | null }) {
  const tone = health >= 90 ? 'good' : health >= 70 ? 'waiting' : health > 0 ? 'warn' : 'bad'
  const lost = parts
    ? (Object.entries(parts) as [keyof HealthDetails, HealthDetails[keyof HealthDetails]][]).filter(
        ([, p]) => p.score < p.max,
      )
    : []
  return (
    <span className={`health health-${tone}`}>
      <meter
        min={0}
        max={100}
        low={70}
        high={90}
        optimum={100}
        value={health}
        aria-label={`health ${health} %`}
      />
      <span>{health} %</span>
      {lost.length > 0 && (
        <span className="health-parts">
          {lost.map(([name, p]) => `${PART_NAMES[name] ?? name} ${p.score}/${p.max}: ${p.detail}`).join('; ')}
        </span>
      )}
    </span>
  )
}
