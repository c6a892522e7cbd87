// Migration 0704 binds API keys to their user's token version. Keys that
// existed before it take their user's current version, so an upgrade does not
// revoke them (only the next password change or disabling does).

import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { migrate } from '../../src/db/index.js'
import { migrations } from '../../src/db/migrations/index.js'
import { engineTypes } from '../../src/db/migrations/types.js'
import { toDbBool, toDbTime } from '../../src/db/values.js'
import { testEngines } from '../helpers/engines.js'

const NAME = '0704_api_key_token_version'

describe.each(testEngines())('migration 0704 on $name', (engine) => {
  it("gives existing API keys their user's current token version", async () => {
    const database = await engine.createDatabase()
    const handle = database.open()
    try {
      await migrate(handle)
      const raw = handle.db.withoutPlugins()
      // Back to the schema before 0704, with a user whose version has moved on.
      const down = migrations[NAME]?.(engineTypes(handle.engine)).down
      if (!down) throw new Error(`${NAME} is not registered with a down step`)
      await down(raw)
      await sql`DELETE FROM myntrix_migrations WHERE name = ${NAME}`.execute(raw)
      const at = toDbTime(new Date())
      await handle.db
        .insertInto('users')
        .values({
          id: 'u1',
          username: 'someone',
          passwordHash: 'x',
          role: 'operator',
          disabled: toDbBool(false),
          tokenVersion: 3,
          createdAt: at,
          updatedAt: at,
        })
        .execute()
      await sql`INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at)
                VALUES ('k1', 'u1', 'old key', 'abc', 'hash', ${at})`.execute(raw)

      expect(await migrate(handle)).toEqual([NAME])
      const key = await handle.db
        .selectFrom('apiKeys')
        .select('tokenVersion')
        .where('id', '=', 'k1')
        .executeTakeFirst()
      expect(Number(key?.tokenVersion)).toBe(3)
    } finally {
      await handle.close()
      await database.drop()
    }
  })
})
