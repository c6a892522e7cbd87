// Bare croner timers: one Cron object (and timer) per task, the approach
// Myntrix rules out (a timer per task costs memory and wake-ups with 10,000
// tasks; docs/SCHEDULER.md). Lateness from the whole second.
// Usage: croner.mjs <tasks> <schedule> <seconds>
import { Cron } from 'croner'
import { nowMs, stats } from './report.mjs'

const [tasks, schedule, seconds] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4])]
const lateness = []
const jobs = []
for (let i = 0; i < tasks; i++) {
  jobs.push(
    new Cron(schedule, { timezone: 'UTC' }, () => {
      const t = nowMs()
      // Per-second schedules: the due time is the start of the current second.
      lateness.push(t - Math.floor(t / 1000) * 1000)
    }),
  )
}
// Setup garbage is collected before the window, as for the Myntrix subject.
globalThis.gc?.()
process.stdout.write('ready\n')
await new Promise((r) => setTimeout(r, seconds * 1000))
for (const j of jobs) j.stop()
process.stdout.write(`${JSON.stringify({ lateness: stats(lateness) })}\n`)
