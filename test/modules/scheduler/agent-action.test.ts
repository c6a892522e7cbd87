// The `agent` action against real agents: `run` starts a process and succeeds
// on exit 0, and never takes over an agent someone else has running.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { runTaskToEnd } from './helpers.js'

const API = '/api/myntrix/tasks'

describe.each(testEngines())('agent action with real agents on $name', (engine) => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp(engine)
  })
  afterAll(async () => {
    await t.dispose()
  })

  async function agent(code: string) {
    const res = await t.request('POST', '/api/myntrix/agents', {
      as: t.operator,
      body: { name: 'a', configuration: { command: [process.execPath, '-e', code], stopTimeoutMs: 1000 } },
    })
    return res.body.id as string
  }

  async function runTask(agentId: string) {
    const task = await t.request('POST', API, {
      as: t.operator,
      body: { name: 'job', schedule: '@yearly', action: 'agent', payload: { agentId, operation: 'run' } },
    })
    return runTaskToEnd(t, task.body.id, t.operator)
  }

  it('runs the agent to completion and succeeds on exit 0', async () => {
    const id = await agent("console.log('did the work')")
    const run = await runTask(id)
    expect(run.status).toBe('success')
    expect(run.logs).toContain('did the work')
    expect((await t.request('GET', `/api/myntrix/agents/${id}`, { as: t.operator })).body.status).toBe(
      'stopped',
    )
  })

  it('refuses to run an agent that is already running, and leaves it running', async () => {
    const id = await agent('setInterval(() => {}, 1000)')
    const started = await t.request('POST', `/api/myntrix/agents/${id}/start`, { as: t.operator })
    expect(started.body.status).toBe('running')
    const run = await runTask(id)
    expect(run.status).toBe('failed')
    expect(run.logs).toMatch(/needs it stopped first/)
    const after = (await t.request('GET', `/api/myntrix/agents/${id}`, { as: t.operator })).body
    expect(after).toMatchObject({ status: 'running', desiredState: 'running', pid: started.body.pid })
    await t.request('POST', `/api/myntrix/agents/${id}/stop`, { as: t.operator })
  })
})
