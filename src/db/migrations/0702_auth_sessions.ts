// Revocable credentials. `users.token_version` is written into every JWT and
// every session: bumping it (password change, disabling) invalidates all that
// were issued before. `auth_sessions` holds browser sessions (only a hash of
// the cookie value is stored), `revoked_tokens` the JWTs logged out before
// they expire (kept until then, then pruned).

import type { MigrationDb, MyntrixMigration } from './types.js'

export const authSessions: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    await db.schema
      .alterTable('users')
      .addColumn('token_version', 'integer', (c) => c.notNull().defaultTo(0))
      .execute()

    await db.schema
      .createTable('auth_sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('token_version', 'integer', (c) => c.notNull())
      .addColumn('created_at', t.time, (c) => c.notNull())
      .addColumn('expires_at', t.time, (c) => c.notNull())
      .execute()
    await db.schema.createIndex('auth_sessions_user_id_idx').on('auth_sessions').column('user_id').execute()
    await db.schema
      .createIndex('auth_sessions_expires_at_idx')
      .on('auth_sessions')
      .column('expires_at')
      .execute()

    await db.schema
      .createTable('revoked_tokens')
      .addColumn('jti', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
      .addColumn('expires_at', t.time, (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('revoked_tokens_expires_at_idx')
      .on('revoked_tokens')
      .column('expires_at')
      .execute()
  },
  async down(db: MigrationDb) {
    await db.schema.dropTable('revoked_tokens').ifExists().execute()
    await db.schema.dropTable('auth_sessions').ifExists().execute()
    await db.schema.alterTable('users').dropColumn('token_version').execute()
  },
})
