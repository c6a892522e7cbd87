// Machine jobs (issue 20): who started each job, for attribution and the jobs
// statistics (`GET /api/myntrix/jobs/stats?groupBy=user`): `user:<id>`,
// `api-key:<id>`, `scheduler` or `queue`; null for jobs recorded before it
// and for the server's own work. The index serves the statistics' time range.

import type { MigrationDb, MyntrixMigration } from './types.js'

export const jobStartedBy: MyntrixMigration = () => ({
  async up(db: MigrationDb) {
    await db.schema.alterTable('jobs').addColumn('started_by', 'text').execute()
    await db.schema.createIndex('jobs_created_at_idx').on('jobs').column('created_at').execute()
  },
  async down(db: MigrationDb) {
    await db.schema.dropIndex('jobs_created_at_idx').execute()
    await db.schema.alterTable('jobs').dropColumn('started_by').execute()
  },
})
