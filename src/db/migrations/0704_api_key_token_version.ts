// An API key is bound to its user's token version when it is made: a password
// change or disabling the user (which bump the version) revokes the user's API
// keys along with their tokens and sessions. Without this a stolen token could
// mint a key that outlives the password change that answers the theft. Keys
// that exist already take their user's current version, so they keep working
// until the next such change.

import { sql } from 'kysely'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const apiKeyTokenVersion: MyntrixMigration = () => ({
  async up(db: MigrationDb) {
    await db.schema
      .alterTable('api_keys')
      .addColumn('token_version', 'integer', (c) => c.notNull().defaultTo(0))
      .execute()
    await sql`UPDATE api_keys SET token_version = (SELECT u.token_version FROM users u WHERE u.id = api_keys.user_id)`.execute(
      db,
    )
  },
  async down(db: MigrationDb) {
    await db.schema.alterTable('api_keys').dropColumn('token_version').execute()
  },
})
