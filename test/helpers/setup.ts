// Runs around every test file: when the file is done, nothing it started may
// still be running (apps built by the test helper, child processes). Per file
// rather than per test, so a suite may share an app or a pty across its tests.

import { afterAll } from 'vitest'
import { openTestApps } from './app.js'
import { childPids } from './processes.js'

afterAll(async () => {
  const apps = openTestApps()
  for (const t of apps) await t.close()
  // Give exiting children a moment to be reaped before calling them leaks.
  const deadline = Date.now() + 3000
  let left = childPids()
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50))
    left = childPids()
  }
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  const problems: string[] = []
  if (apps.length > 0) problems.push(`${apps.length} test app(s) left open`)
  if (left.length > 0) problems.push(`child processes still running: ${left.join(', ')}`)
  if (problems.length > 0) throw new Error(`leak after this file: ${problems.join('; ')}`)
})
