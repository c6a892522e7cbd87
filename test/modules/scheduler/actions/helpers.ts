// Shared bits for the action tests: a registry, a context and a fixture path.

import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type ActionResult,
  type ActionServices,
  type Actor,
  createActionRegistry,
  runAction,
} from '../../../../src/modules/scheduler/actions/index.js'

export const registry = createActionRegistry()

export function fixture(name: string): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../fixtures/scheduler', name)
}

export function run(
  type: string,
  payload: unknown,
  opts: {
    signal?: AbortSignal
    services?: ActionServices
    maxLogChars?: number
    taskId?: string
    runId?: string
    onLog?: (text: string) => void
    /** Who the run acts for; default an admin (reaches any host). */
    actor?: Actor
  } = {},
): Promise<ActionResult> {
  return runAction(registry, type, payload, {
    signal: opts.signal ?? new AbortController().signal,
    actor: opts.actor ?? { ownerId: null, role: 'admin' },
    services: opts.services ?? {},
    taskId: opts.taskId,
    runId: opts.runId,
    logOptions: { maxChars: opts.maxLogChars, onWrite: opts.onLog },
  })
}

/** The pid from a fixture's "child <pid>" line. */
export function childPidFrom(logs: string): number {
  const m = /child (\d+)/.exec(logs)
  if (!m) throw new Error(`no "child <pid>" line in:\n${logs}`)
  return Number(m[1])
}
