// Files uploaded for a device (issue 6). The bytes live content-addressed
// under the data dir; a row is one device's name for one content hash, so the
// same file uploaded twice to a device is one row and one blob.

import { createIndex, keyedTable, ownerColumn, required, timestamps } from './columns.js'
import type { MigrationDb, MyntrixMigration } from './types.js'

export const deviceFiles: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    await keyedTable(db, 'device_files')
      .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id').onDelete('cascade'))
      .$call(ownerColumn())
      .$call(required('text', 'name', 'sha256'))
      .addColumn('size_bytes', t.bigint, (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('line_count', 'integer')
      .$call(timestamps(t))
      .addUniqueConstraint('device_files_device_sha_uq', ['device_id', 'sha256'])
      .execute()
    await createIndex(db, 'device_files_sha256_idx', 'device_files', ['sha256'])
  },
  async down(db: MigrationDb) {
    await db.schema.dropTable('device_files').ifExists().execute()
  },
})
