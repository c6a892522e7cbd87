// Shared by the JS subjects: lateness stats and the one JSON line they print.
export function stats(values) {
  const s = [...values].sort((a, b) => a - b)
  const q = (p) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : null)
  return { count: s.length, p50: q(0.5), p99: q(0.99), max: s.length ? s[s.length - 1] : null }
}

/** Wall-clock time with sub-millisecond resolution. */
export function nowMs() {
  return performance.timeOrigin + performance.now()
}
