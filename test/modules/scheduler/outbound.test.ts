// A scheduled `api` task acts with its owner's role as it is now: an
// operator's task cannot reach loopback (nor be bounced there), an admin's can,
// and MYNTRIX_OUTBOUND_ALLOW opens what it names. Through the real HTTP API.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Logger } from '../../../src/logger.js'
import { warnNarrowerThanPolicy } from '../../../src/modules/scheduler/index.js'
import { OutboundPolicy, parseOutboundAllow } from '../../../src/net/outbound-policy.js'
import { createTestApp, type TestApp, type TestUser } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { runTaskToEnd, startTarget } from './helpers.js'

const API = '/api/myntrix/tasks'

describe.each(testEngines())('scheduled api tasks and the outbound policy on $name', (engine) => {
  let t: TestApp
  let target: Awaited<ReturnType<typeof startTarget>>

  beforeAll(async () => {
    target = await startTarget()
  })
  afterAll(async () => {
    await target.close()
  })
  afterEach(async () => {
    await t.dispose()
  })

  async function runOnce(as: TestUser, url: string) {
    const task = await t.request('POST', API, {
      as,
      body: { name: 'probe', schedule: '0 0 1 1 *', enabled: false, action: 'api', payload: { url } },
    })
    expect(task.status).toBe(201)
    return runTaskToEnd(t, task.body.id, as)
  }

  it("refuses an operator's task a loopback URL; the run log says why and holds nothing from it", async () => {
    t = await createTestApp(engine)
    const run = await runOnce(t.operator, `${target.base}/probe-op`)
    expect(run.status).toBe('failed')
    expect(run.error).toContain(`outbound connection to ${target.allow} refused`)
    expect(run.error).toContain('MYNTRIX_OUTBOUND_ALLOW')
    expect(run.logs).not.toContain('hit /probe-op')
    expect(target.hits.get('/probe-op')).toBeUndefined()
  })

  it("lets an admin's task reach it", async () => {
    t = await createTestApp(engine)
    const run = await runOnce(t.admin, `${target.base}/probe-admin`)
    expect(run.status).toBe('success')
    expect(target.hits.get('/probe-admin')).toBe(1)
  })

  it('opens it to operators when MYNTRIX_OUTBOUND_ALLOW names that address and port', async () => {
    t = await createTestApp(engine, { env: { MYNTRIX_OUTBOUND_ALLOW: target.allow } })
    const run = await runOnce(t.operator, `${target.base}/probe-allowed`)
    expect(run.status).toBe('success')
    expect(target.hits.get('/probe-allowed')).toBe(1)
  })
})

describe('MYNTRIX_API_ACTION_ALLOW beside the outbound policy', () => {
  it('warns at start-up about listed hosts that non-admins can no longer reach', () => {
    const warnings: string[] = []
    const logger = { warn: (msg: string) => warnings.push(msg) } as unknown as Logger
    const policy = new OutboundPolicy({ allow: parseOutboundAllow('127.0.0.1:9000') })
    warnNarrowerThanPolicy(
      ['api.example.com', '*.example.com', '127.0.0.1:8080', '127.0.0.1:9000', 'localhost'],
      policy,
      logger,
    )
    expect(warnings).toHaveLength(2)
    expect(warnings[0]).toContain('MYNTRIX_API_ACTION_ALLOW lists 127.0.0.1:8080')
    expect(warnings[0]).toContain('MYNTRIX_OUTBOUND_ALLOW')
    expect(warnings[1]).toContain('lists localhost')
  })
})
