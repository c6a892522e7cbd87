// GET /api/auth/audit filters by user or by action and reads newest first:
// (user_id, at) and (action, at) serve those without a scan. The (at) index
// from the foundation serves the unfiltered list and retention's deletes.

import type { MigrationDb, MyntrixMigration } from './types.js'

export const auditLogIndexes: MyntrixMigration = () => ({
  async up(db: MigrationDb) {
    await db.schema.createIndex('audit_log_user_at_idx').on('audit_log').columns(['user_id', 'at']).execute()
    await db.schema.createIndex('audit_log_action_at_idx').on('audit_log').columns(['action', 'at']).execute()
  },
  async down(db: MigrationDb) {
    await db.schema.dropIndex('audit_log_action_at_idx').ifExists().execute()
    await db.schema.dropIndex('audit_log_user_at_idx').ifExists().execute()
  },
})
