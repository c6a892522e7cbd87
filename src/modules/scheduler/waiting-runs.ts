// Runs held in this process before they start: overlapPolicy `queue` runs
// waiting for their task's current run to end, and retries waiting for their
// delay. Each holds the process's heartbeat (a held run must not be reaped as
// a dead process's), released when it starts or is dropped.

import type { Task, TaskRun } from './types.js'

interface Queued {
  run: TaskRun
  task: Task
  release: () => void
}

interface Retry {
  timer: NodeJS.Timeout
  run: TaskRun
  release: () => void
}

export class WaitingRuns {
  private readonly queued = new Map<string, Queued[]>()
  private readonly retries = new Map<string, Retry>()

  get size(): number {
    return this.queued.size + this.retries.size
  }

  hasQueued(taskId: string): boolean {
    return this.queued.has(taskId)
  }

  /** overlapPolicy `queue`: the run waits (pending) until the task's current run ends. */
  enqueue(run: TaskRun, task: Task, release: () => void): void {
    const list = this.queued.get(task.id) ?? []
    list.push({ run, task, release })
    this.queued.set(task.id, list)
  }

  /** The queued tasks' ids, for a look at which of them may start. */
  queuedTasks(): string[] {
    for (const [taskId, list] of this.queued) if (list.length === 0) this.queued.delete(taskId)
    return [...this.queued.keys()]
  }

  /** Takes the next queued run of a task (its hold goes to the caller). */
  takeQueued(taskId: string): Queued | undefined {
    const list = this.queued.get(taskId)
    const next = list?.shift()
    if (list?.length === 0) this.queued.delete(taskId)
    return next
  }

  /** A retry fires `fire` after `delayMs`, unless dropped first. */
  addRetry(run: TaskRun, delayMs: number, release: () => void, fire: () => void): void {
    const timer = setTimeout(() => {
      this.retries.delete(run.id)
      fire()
    }, delayMs)
    this.retries.set(run.id, { timer, run, release })
  }

  /** Drops one run (cancelled); true when it was held here. */
  dropRun(runId: string): boolean {
    let found = false
    const retry = this.retries.get(runId)
    if (retry) {
      clearTimeout(retry.timer)
      retry.release()
      this.retries.delete(runId)
      found = true
    }
    for (const list of this.queued.values()) {
      const i = list.findIndex((q) => q.run.id === runId)
      if (i >= 0) {
        list.splice(i, 1)[0]?.release()
        found = true
      }
    }
    return found
  }

  /** Drops a task's held runs (an edit or delete). */
  dropTask(taskId: string): void {
    for (const [id, entry] of this.retries) {
      if (entry.run.taskId === taskId) {
        clearTimeout(entry.timer)
        entry.release()
        this.retries.delete(id)
      }
    }
    for (const q of this.queued.get(taskId) ?? []) q.release()
    this.queued.delete(taskId)
  }

  /** Drops every held run (a stop) and returns them, to be recorded as never started. */
  dropAll(): TaskRun[] {
    const runs: TaskRun[] = []
    for (const { timer, run, release } of this.retries.values()) {
      clearTimeout(timer)
      release()
      runs.push(run)
    }
    this.retries.clear()
    for (const list of this.queued.values())
      for (const q of list) {
        q.release()
        runs.push(q.run)
      }
    this.queued.clear()
    return runs
  }
}
