// Helpers for the scheduler API and engine tests: a local HTTP target for
// `api` tasks and waiting on the bus's task.run events (never on sleeps).

import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { TestApp, TestUser } from '../../helpers/app.js'

export interface RunEvent {
  runId: string
  taskId: string
  status: string
}

/** Collects task.run events of one app; `waitFor` resolves when a predicate over them holds. */
export function watchRuns(t: TestApp) {
  const events: RunEvent[] = []
  const waiters: Array<{ check: () => boolean; resolve: () => void }> = []
  const off = t.app.myntrix.context.bus.on('task.run', (e) => {
    events.push(e)
    for (const w of [...waiters]) {
      if (w.check()) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  })
  return {
    events,
    off,
    /** Events for one task with one of the statuses. */
    of(taskId: string, ...statuses: string[]) {
      return events.filter(
        (e) => e.taskId === taskId && (statuses.length === 0 || statuses.includes(e.status)),
      )
    },
    waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
      if (check()) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(entry), 1)
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${what}; events: ${JSON.stringify(events.slice(-10))}`,
            ),
          )
        }, timeoutMs)
        const entry = {
          check,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        }
        waiters.push(entry)
      })
    },
  }
}

/**
 * Runs a task now (asserting the 202) and resolves with the finished run (with
 * its logs), waiting on the bus's task.run events. Subscribes before the run
 * starts, so a fast run cannot finish unseen.
 */
export async function runTaskToEnd(t: TestApp, taskId: string, as: TestUser, timeoutMs = 20_000) {
  const runs = watchRuns(t)
  try {
    const run = await t.request('POST', `/api/myntrix/tasks/${taskId}/run`, { as })
    if (run.status !== 202) throw new Error(`run ${taskId}: expected 202, got ${run.status} ${run.text}`)
    await runs.waitFor(
      () =>
        runs.events.some(
          (e) => e.runId === run.body.id && ['success', 'failed', 'cancelled'].includes(e.status),
        ),
      `run ${run.body.id} to finish`,
      timeoutMs,
    )
    return (await t.request('GET', `/api/myntrix/tasks/runs/${run.body.id}`, { as })).body
  } finally {
    runs.off()
  }
}

/** A local HTTP target on 127.0.0.1: counts hits per path; `/slow` never answers. */
export async function startTarget() {
  const hits = new Map<string, number>()
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    hits.set(path, (hits.get(path) ?? 0) + 1)
    if (path === '/slow') return
    if (path.startsWith('/status/')) res.statusCode = Number(path.slice(8))
    res.end(`hit ${path}`)
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const base = `http://127.0.0.1:${port}`
  return {
    base,
    /**
     * The MYNTRIX_OUTBOUND_ALLOW entry that lets operators' tasks reach this target: loopback is
     * refused to non-admins by default, and these tests run as operators.
     */
    allow: `127.0.0.1:${port}`,
    hits,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
