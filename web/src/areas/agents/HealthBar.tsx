// Health 0-100 as a meter with its number; colours as the dashboard's
// (green >= 90, yellow >= 70, orange > 0, red 0).

export function HealthBar({ health }: { health: number }) {
  const tone = health >= 90 ? 'good' : health >= 70 ? 'waiting' : health > 0 ? 'warn' : 'bad'
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
    </span>
  )
}
