// GET /api/auth/audit filters by user or by action and reads newest first:
// (user_id, at) and (action, at) serve those without a scan. The (at) index
// from the foundation serves the unfiltered list and retention's deletes.

import { createIndex } from './columns.js'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const auditLogIndexes: MyntrixMigration = () => ({
  async up(db: MigrationDb) {
    await createIndex(db, 'audit_log_user_at_idx', 'audit_log', ['user_id', 'at'])
    await createIndex(db, 'audit_log_action_at_idx', 'audit_log', ['action', 'at'])
  },
  async down(db: MigrationDb) {
    await db.schema.dropIndex('audit_log_action_at_idx').ifExists().execute()
    await db.schema.dropIndex('audit_log_user_at_idx').ifExists().execute()
  },
})
