// Names and owners of the resources events name. Bus events carry ids (the
// sources should not pay for a lookup nobody may need); the few facts a
// notification adds are asked of the areas that own them, at the time it is
// written. The areas' services answer (wired in src/app.ts), so this area
// reads no other area's tables.

export interface ResourceFacts {
  name: string
  ownerId: string | null
}

export interface RunFacts {
  status: string
  error: string | null
  logs: string | null
  attempt: number
  trigger: string
}

/** What the notifications ask of the agents, devices and scheduler areas; undefined: gone. */
export interface ResourceLookup {
  agent(id: string): Promise<ResourceFacts | undefined>
  device(id: string): Promise<ResourceFacts | undefined>
  task(id: string): Promise<ResourceFacts | undefined>
  run(id: string): Promise<RunFacts | undefined>
}

/** How much of a run's log a notification carries: its end, where the failure usually is. */
export const LOG_EXCERPT_CHARS = 2000

/** The end of a log, cut at a line start when one is near, marked when cut. */
export function logExcerpt(logs: string | null, max = LOG_EXCERPT_CHARS): string | null {
  if (!logs) return null
  const text = logs.replace(/\s+$/, '')
  if (text.length <= max) return text
  let tail = text.slice(text.length - max)
  const nl = tail.indexOf('\n')
  if (nl >= 0 && nl < 200) tail = tail.slice(nl + 1)
  return `[... ${text.length - tail.length} earlier characters ...]\n${tail}`
}
