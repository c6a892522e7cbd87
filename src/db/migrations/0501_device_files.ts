// Files uploaded for a device (issue 6). The bytes live content-addressed
// under the data dir; a row is one device's name for one content hash, so the
// same file uploaded twice to a device is one row and one blob.

import type { MigrationDb, MyntrixMigration } from './types.js'

export const deviceFiles: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    await db.schema
      .createTable('device_files')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id').onDelete('cascade'))
      .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('size_bytes', t.bigint, (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('line_count', 'integer')
      .addColumn('created_at', t.time, (c) => c.notNull())
      .addColumn('updated_at', t.time, (c) => c.notNull())
      .addUniqueConstraint('device_files_device_sha_uq', ['device_id', 'sha256'])
      .execute()
    await db.schema.createIndex('device_files_sha256_idx').on('device_files').column('sha256').execute()
  },
  async down(db: MigrationDb) {
    await db.schema.dropTable('device_files').ifExists().execute()
  },
})
