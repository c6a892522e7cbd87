// Revocable credentials. `users.token_version` is written into every JWT and
// every session: bumping it (password change, disabling) invalidates all that
// were issued before. `auth_sessions` holds browser sessions (only a hash of
// the cookie value is stored), `revoked_tokens` the JWTs logged out before
// they expire (kept until then, then pruned).

import { createIndex, dropTables, keyedTable, required } from './columns.js'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const authSessions: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    await db.schema
      .alterTable('users')
      .addColumn('token_version', 'integer', (c) => c.notNull().defaultTo(0))
      .execute()

    await keyedTable(db, 'auth_sessions')
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('token_version', 'integer', (c) => c.notNull())
      .$call(required(t.time, 'created_at', 'expires_at'))
      .execute()
    await createIndex(db, 'auth_sessions_user_id_idx', 'auth_sessions', ['user_id'])
    await createIndex(db, 'auth_sessions_expires_at_idx', 'auth_sessions', ['expires_at'])

    await db.schema
      .createTable('revoked_tokens')
      .addColumn('jti', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
      .addColumn('expires_at', t.time, (c) => c.notNull())
      .execute()
    await createIndex(db, 'revoked_tokens_expires_at_idx', 'revoked_tokens', ['expires_at'])
  },
  async down(db: MigrationDb) {
    await dropTables(db, ['revoked_tokens', 'auth_sessions'])
    await db.schema.alterTable('users').dropColumn('token_version').execute()
  },
})
