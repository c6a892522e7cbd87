// The health score, 0-100, and its parts. Documented in docs/AGENTS.md; the parts
// are returned as `healthDetails` so the dashboard can say why a score is low.
//
//   liveness        30  the main process is running (if not, health is 0 whatever the rest)
//   check           40  the configured HTTP check or heartbeat passes (full marks when
//                       none is configured or before its first result)
//   recentRestarts  15  minus 5 per restart inside the restart window
//   memory          10  full below 80 % of maxMemoryMb, falling linearly to 0 at 100 %
//   cpu              5  full below 90 % of one core, falling linearly to 0 at 100 %

export interface HealthPart {
  score: number
  max: number
  detail: string
}

export interface HealthDetails {
  liveness: HealthPart
  check: HealthPart
  recentRestarts: HealthPart
  memory: HealthPart
  cpu: HealthPart
}

export const HEALTH_WEIGHTS = { liveness: 30, check: 40, recentRestarts: 15, memory: 10, cpu: 5 } as const

export interface CheckResult {
  /** null: no result yet. */
  ok: boolean | null
  detail: string
}

export interface HealthInput {
  alive: boolean
  recentRestarts: number
  /** null when no check is configured. */
  check: CheckResult | null
  memoryBytes: number | null
  maxMemoryMb: number | null
  cpuPercent: number | null
}

function linear(value: number, fullUpTo: number, zeroAt: number, max: number): number {
  if (value <= fullUpTo) return max
  if (value >= zeroAt) return 0
  return Math.round((max * (zeroAt - value)) / (zeroAt - fullUpTo))
}

export function computeHealth(input: HealthInput): { health: number; details: HealthDetails } {
  const w = HEALTH_WEIGHTS
  const liveness: HealthPart = input.alive
    ? { score: w.liveness, max: w.liveness, detail: 'process running' }
    : { score: 0, max: w.liveness, detail: 'process not running' }

  let check: HealthPart
  if (!input.check) check = { score: w.check, max: w.check, detail: 'no check configured' }
  else if (input.check.ok === false) check = { score: 0, max: w.check, detail: input.check.detail }
  else check = { score: w.check, max: w.check, detail: input.check.detail }

  const restartScore = Math.max(0, w.recentRestarts - 5 * input.recentRestarts)
  const recentRestarts: HealthPart = {
    score: restartScore,
    max: w.recentRestarts,
    detail: `${input.recentRestarts} restart(s) in the restart window`,
  }

  let memory: HealthPart
  if (input.memoryBytes === null) memory = { score: w.memory, max: w.memory, detail: 'not measured' }
  else if (input.maxMemoryMb === null) {
    memory = { score: w.memory, max: w.memory, detail: `${mb(input.memoryBytes)} MB, no limit` }
  } else {
    const ratio = input.memoryBytes / (input.maxMemoryMb * 1024 * 1024)
    memory = {
      score: linear(ratio, 0.8, 1, w.memory),
      max: w.memory,
      detail: `${mb(input.memoryBytes)} MB of ${input.maxMemoryMb} MB`,
    }
  }

  const cpu: HealthPart =
    input.cpuPercent === null
      ? { score: w.cpu, max: w.cpu, detail: 'not measured' }
      : {
          score: linear(input.cpuPercent, 90, 100, w.cpu),
          max: w.cpu,
          detail: `${input.cpuPercent.toFixed(1)} % of one core`,
        }

  const details: HealthDetails = { liveness, check, recentRestarts, memory, cpu }
  const health = input.alive
    ? liveness.score + check.score + recentRestarts.score + memory.score + cpu.score
    : 0
  return { health, details }
}

function mb(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1)
}

/** The health of an agent without a process: no restarts counted, nothing measured. */
export function idleHealth(): { health: number; details: HealthDetails } {
  return computeHealth({
    alive: false,
    recentRestarts: 0,
    check: null,
    memoryBytes: null,
    maxMemoryMb: null,
    cpuPercent: null,
  })
}
