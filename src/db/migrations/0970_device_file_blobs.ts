// Device files in PostgreSQL (docs/DEVICE-FILES.md, "Storage"): with several
// nodes on one database an upload must be readable by every node, so the
// content goes into the database instead of one node's data directory.
// device_file_contents is one upload's content: its sha256 is set only when the
// upload completed (null while it streams in), and is unique, so content is
// kept once. device_file_chunks holds its bytes in fixed-size pieces, read
// back in order. SQLite keeps the data directory: the tables are PostgreSQL's.

import type { MigrationDb, MyntrixMigration } from './types.js'

export const deviceFileBlobs: MyntrixMigration = (t) => ({
  async up(db: MigrationDb) {
    if (t.engine !== 'postgres') return
    await db.schema
      .createTable('device_file_contents')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('sha256', 'text', (c) => c.unique())
      .addColumn('size_bytes', 'bigint')
      // The node writing it: an unfinished upload of a node that is gone is cleared.
      .addColumn('node_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('device_file_chunks')
      .addColumn('content_id', 'text', (c) =>
        c.notNull().references('device_file_contents.id').onDelete('cascade'),
      )
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('data', 'bytea', (c) => c.notNull())
      .addPrimaryKeyConstraint('device_file_chunks_pkey', ['content_id', 'seq'])
      .execute()
  },
  async down(db: MigrationDb) {
    await db.schema.dropTable('device_file_chunks').ifExists().execute()
    await db.schema.dropTable('device_file_contents').ifExists().execute()
  },
})
