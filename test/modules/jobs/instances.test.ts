// Several Myntrix processes on one database: a process starting up fails only
// the jobs of processes that are gone, never a live peer's.

import { describe, expect, it } from 'vitest'
import type { JobsArea } from '../../../src/modules/jobs/index.js'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'

function jobsOf(t: TestApp) {
  return (t.app.myntrix.areas.find((a) => a.name === 'jobs') as JobsArea).service
}

describe.each(testEngines())('jobs across processes on $name', (engine) => {
  it("leaves a live peer's jobs alone and fails them once the peer has stopped", async () => {
    const a = await createTestApp(engine)
    const b = await createTestApp(engine, { testDb: a.testDb, seedUsers: false })
    try {
      const job = await jobsOf(a).create({ name: 'long work', type: 'test.work', running: true })
      // b starts while a is alive: a's job must survive b's start-up sweep.
      expect(await jobsOf(b).failInterrupted()).toBe(0)
      expect((await jobsOf(b).get(job.id))?.status).toBe('running')

      await a.close()
      expect(await jobsOf(b).failInterrupted()).toBe(1)
      const after = await jobsOf(b).get(job.id)
      expect(after).toMatchObject({ status: 'failed', error: expect.stringMatching(/server stopped/) })
    } finally {
      await a.close()
      await b.dispose()
    }
  })
})
