// A job's progress as a real <progress> with its number beside it.

export function Progress({ value, label }: { value: number; label: string }) {
  const pct = Math.max(0, Math.min(100, Math.round(value)))
  return (
    <span className="progress">
      <progress max={100} value={pct} aria-label={label} />
      <span>{pct} %</span>
    </span>
  )
}
