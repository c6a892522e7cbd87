// The database change feed on real databases: another connection's commit
// (SQLite) or announced change (PostgreSQL) is reported; this connection's own
// writes and other schemas' announcements are not.

import { sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { announceChange, type ChangeWatch } from '../../src/db/change-feed.js'
import { type DatabaseHandle, migrate } from '../../src/db/index.js'
import { type TestDatabase, testEngines } from '../helpers/engines.js'
import { waitFor } from '../helpers/processes.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe.each(testEngines())('database change feed on $name', (engine) => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step()
  })

  async function database(): Promise<TestDatabase> {
    const testDb = await engine.createDatabase()
    cleanup.push(() => testDb.drop())
    return testDb
  }
  function open(testDb: TestDatabase): DatabaseHandle {
    const handle = testDb.open()
    cleanup.push(() => handle.close())
    return handle
  }
  async function watch(handle: DatabaseHandle) {
    const seen = { changes: 0, lost: [] as Error[] }
    const feed = (await handle.watchChanges({
      onChange: () => seen.changes++,
      onLost: (err) => seen.lost.push(err),
    })) as ChangeWatch
    expect(feed).not.toBeNull()
    cleanup.push(() => feed.close())
    return seen
  }
  /** A write as the areas make them: a commit, and on PostgreSQL the announcement after it. */
  async function write(handle: DatabaseHandle) {
    await sql`insert into nodes (id, hostname, pid, started_at, heartbeat_at)
      values (${`i-${Math.random()}`}, 'h', 1, ${new Date().toISOString()}, ${new Date().toISOString()})`.execute(
      handle.db,
    )
    await announceChange(handle.db, handle.engine)
  }

  it("reports another connection's change, and not this connection's own", async () => {
    const testDb = await database()
    const mine = open(testDb)
    await migrate(mine)
    const theirs = open(testDb)
    const seen = await watch(mine)

    await write(mine)
    await sleep(200)
    // SQLite sees every commit of its own in the watch and filters it by data_version;
    // PostgreSQL delivers our own announcement too (a harmless extra wake-up).
    if (engine.name === 'sqlite') expect(seen.changes).toBe(0)
    const before = seen.changes

    await write(theirs)
    await waitFor(() => seen.changes > before, { timeoutMs: 3000, what: "the other connection's change" })
    expect(seen.lost).toEqual([])
  })

  if (engine.name === 'postgres')
    it("ignores another schema's announcements", async () => {
      const mineDb = await database()
      const mine = open(mineDb)
      await migrate(mine)
      const elsewhere = open(await database())
      await migrate(elsewhere)
      const seen = await watch(mine)
      await write(elsewhere)
      await sleep(300)
      expect(seen.changes).toBe(0)
      await write(open(mineDb))
      await waitFor(() => seen.changes > 0, { timeoutMs: 3000, what: "this schema's announcement" })
    })

  if (engine.name === 'sqlite')
    it('reports a connection closed under the watch as lost, not as a crash', async () => {
      const testDb = await database()
      const mine = testDb.open()
      await migrate(mine)
      const theirs = open(testDb)
      const seen = await watch(mine)
      await mine.close()
      await write(theirs)
      await waitFor(() => seen.lost.length > 0, { timeoutMs: 3000, what: 'the feed to report itself lost' })
      expect(seen.lost[0]?.message).toMatch(/not open/)
    })
})
