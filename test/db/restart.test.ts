import { describe, expect, it } from 'vitest'
import { migrate } from '../../src/db/index.js'
import { createTestApp } from '../helpers/app.js'
import { testEngines } from '../helpers/engines.js'

describe.each(testEngines())('storage on $name', (engine) => {
  it('migrates every table once; a second run is a no-op', async () => {
    const testDb = await engine.createDatabase()
    const db = testDb.open()
    try {
      const first = await migrate(db)
      expect(first).toContain('0001_foundation')
      expect(await migrate(db)).toEqual([])
      for (const table of [
        'users',
        'apiKeys',
        'auditLog',
        'agents',
        'devices',
        'jobs',
        'scheduledTasks',
        'taskRuns',
        'systemMetricsHistory',
      ] as const) {
        const rows = await db.db.selectFrom(table).selectAll().execute()
        expect(rows, table).toEqual([])
      }
    } finally {
      await db.close()
      await testDb.drop()
    }
  })

  it('keeps users, API keys and the signing secret across a restart', async () => {
    const first = await createTestApp(engine)
    const key = (
      await first.request('POST', '/api/auth/api-keys', { as: first.operator, body: { name: 'k' } })
    ).body.key
    const oldToken = first.operator.token
    await first.close()

    const second = await createTestApp(engine, { testDb: first.testDb, seedUsers: false })
    try {
      const withToken = await second.request('GET', '/api/auth/me', { token: oldToken })
      expect(withToken.status).toBe(200)
      expect(withToken.body.username).toBe('operator')
      const withKey = await second.request('GET', '/api/auth/me', { token: key })
      expect(withKey.status).toBe(200)
      const users = await second.request('GET', '/api/auth/users', { as: second.admin })
      expect(users.body.map((u: { username: string }) => u.username).sort()).toEqual([
        'admin',
        'operator',
        'operator2',
        'viewer',
      ])
    } finally {
      await second.dispose()
    }
  })
})
