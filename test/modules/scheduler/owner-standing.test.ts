// A task acts for its owner as the owner is now: disabled owners' tasks and
// scripts of owners who are no longer admins are refused when they run.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { runTaskToEnd } from './helpers.js'

const API = '/api/myntrix/tasks'

describe.each(testEngines())('task owner standing on $name', (engine) => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp(engine)
  })
  afterAll(async () => {
    await t.dispose()
  })

  async function user(username: string, role: string) {
    const created = await t.request('POST', '/api/auth/users', {
      as: t.admin,
      body: { username, password: 'password-123', role },
    })
    const login = await t.request('POST', '/api/auth/token', { body: { username, password: 'password-123' } })
    return { id: created.body.id as string, token: login.body.access_token as string }
  }

  it("refuses a disabled owner's task at run time", async () => {
    const owner = await user('leaver', 'operator')
    const task = await t.request('POST', API, {
      token: owner.token,
      body: {
        name: 'ping',
        schedule: '@yearly',
        action: 'api',
        payload: { url: 'http://127.0.0.1:9/' },
      },
    })
    expect(task.status).toBe(201)
    await t.request('PUT', `/api/auth/users/${owner.id}`, { as: t.admin, body: { disabled: true } })
    const run = await runTaskToEnd(t, task.body.id, t.admin)
    expect(run.status).toBe('failed')
    expect(run.error).toMatch(/owner is disabled/)
  })

  it('refuses the script of an owner who is no longer an admin', async () => {
    const owner = await user('former-admin', 'admin')
    const task = await t.request('POST', API, {
      token: owner.token,
      body: { name: 'sh', schedule: '@yearly', action: 'script', payload: { command: ['true'] } },
    })
    expect(task.status).toBe(201)
    await t.request('PUT', `/api/auth/users/${owner.id}`, { as: t.admin, body: { role: 'operator' } })
    const run = await runTaskToEnd(t, task.body.id, t.admin)
    expect(run.status).toBe('failed')
    expect(run.error).toMatch(/only an admin's tasks may run scripts/)
  })
})
