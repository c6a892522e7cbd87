// Shared bits for the agent tests: fixture paths, a supervisor per test with a
// temporary log directory, and waiting on supervisor events (never on sleeps).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AgentFacts, SupervisorEvent } from '../../../src/modules/agents/agent-entry.js'
import { Supervisor, type SupervisorOptions } from '../../../src/modules/agents/supervisor.js'

const here = fileURLToPath(new URL('.', import.meta.url))
export const FIXTURES = resolve(here, '../../fixtures/agents')

export function fixture(name: string): string {
  return join(FIXTURES, name)
}

export function node(name: string, ...args: (string | number)[]): string[] {
  return [process.execPath, fixture(name), ...args.map(String)]
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  // A zombie still answers kill(0); it is dead for our purposes.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

export interface Harness {
  supervisor: Supervisor
  logDir: string
  events: SupervisorEvent[]
  /** Resolves with the first event (past or future) that matches. */
  waitFor(match: (e: SupervisorEvent) => boolean, what?: string): Promise<SupervisorEvent>
  /** Waits for a status event with `status` for `agentId`, counting only events after `afterIndex`. */
  waitStatus(agentId: string, status: string, afterIndex?: number): Promise<AgentFacts>
  waitLog(agentId: string, text: string | RegExp): Promise<string>
  close(): Promise<void>
}

export function harness(options: Partial<SupervisorOptions> = {}): Harness {
  const logDir = mkdtempSync(join(tmpdir(), 'myntrix-agents-'))
  const supervisor = new Supervisor({ logDir, sampleIntervalMs: 100, ...options })
  const events: SupervisorEvent[] = []
  const waiters = new Set<{ match: (e: SupervisorEvent) => boolean; resolve: (e: SupervisorEvent) => void }>()
  supervisor.onEvent((e) => {
    events.push(e)
    for (const w of waiters) {
      if (w.match(e)) {
        waiters.delete(w)
        w.resolve(e)
      }
    }
  })
  const waitFor = (match: (e: SupervisorEvent) => boolean, afterIndex = 0): Promise<SupervisorEvent> => {
    const past = events.slice(afterIndex).find(match)
    if (past) return Promise.resolve(past)
    return new Promise((resolve) => waiters.add({ match, resolve }))
  }
  return {
    supervisor,
    logDir,
    events,
    waitFor: (match) => waitFor(match),
    async waitStatus(agentId, status, afterIndex = 0) {
      const e = await waitFor(
        (ev) => ev.type === 'status' && ev.agentId === agentId && ev.facts.status === status,
        afterIndex,
      )
      return (e as Extract<SupervisorEvent, { type: 'status' }>).facts
    },
    async waitLog(agentId, text) {
      const e = await waitFor(
        (ev) =>
          ev.type === 'log' &&
          ev.agentId === agentId &&
          (typeof text === 'string' ? ev.entry.line.includes(text) : text.test(ev.entry.line)),
      )
      return (e as Extract<SupervisorEvent, { type: 'log' }>).entry.line
    },
    async close() {
      await supervisor.stopAll()
      rmSync(logDir, { recursive: true, force: true })
    },
  }
}
