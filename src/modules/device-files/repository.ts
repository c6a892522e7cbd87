// SQL for device_files. snake_case stays in here (CamelCasePlugin maps it);
// the table type is declared locally so the shared DB type need not change.

import type { ColumnType, Kysely, Selectable } from 'kysely'
import { newId } from '../../db/ids.js'
import type { Database, DB, DbInt, DbTime } from '../../db/types.js'
import { fromDbInt, fromDbIntOrNull, fromDbTime, toDbTime } from '../../db/values.js'
import type { FileKind } from './extensions.js'

export interface DeviceFilesTable {
  id: string
  deviceId: string
  ownerId: string
  name: string
  sha256: string
  sizeBytes: DbInt
  kind: string
  lineCount: ColumnType<number | string | null, number | null, number | null>
  createdAt: DbTime
  updatedAt: DbTime
}

type FilesDb = Kysely<DB & { deviceFiles: DeviceFilesTable }>

export interface DeviceFile
  extends Omit<DeviceFilesTable, 'sizeBytes' | 'kind' | 'lineCount' | 'createdAt' | 'updatedAt'> {
  sizeBytes: number
  kind: FileKind
  /** Lines that go on the wire (G-code after comments and blanks are stripped); null for raw files. */
  lineCount: number | null
  createdAt: Date
  updatedAt: Date
}

/** A stored file before it has a row: the id and times are the repository's. */
export type NewDeviceFile = Omit<DeviceFile, 'id' | 'createdAt' | 'updatedAt'>

type Row = Selectable<DeviceFilesTable>

function toFile(row: Row): DeviceFile {
  return {
    ...row,
    sizeBytes: fromDbInt(row.sizeBytes),
    kind: row.kind as FileKind,
    lineCount: fromDbIntOrNull(row.lineCount),
    createdAt: fromDbTime(row.createdAt)!,
    updatedAt: fromDbTime(row.updatedAt)!,
  }
}

export class DeviceFilesRepository {
  private readonly db: FilesDb

  constructor(db: Database) {
    this.db = db.withTables<{ deviceFiles: DeviceFilesTable }>()
  }

  /**
   * Records `file` for its device. The same content uploaded to the same
   * device again is the same row: it takes the newer name.
   */
  async upsert(file: NewDeviceFile, at: Date): Promise<DeviceFile> {
    await this.db
      .insertInto('deviceFiles')
      .values({
        id: newId(),
        deviceId: file.deviceId,
        ownerId: file.ownerId,
        name: file.name,
        sha256: file.sha256,
        sizeBytes: file.sizeBytes,
        kind: file.kind,
        lineCount: file.lineCount,
        createdAt: toDbTime(at),
        updatedAt: toDbTime(at),
      })
      .onConflict((oc) =>
        oc.columns(['deviceId', 'sha256']).doUpdateSet({ name: file.name, updatedAt: toDbTime(at) }),
      )
      .execute()
    const row = await this.db
      .selectFrom('deviceFiles')
      .selectAll()
      .where('deviceId', '=', file.deviceId)
      .where('sha256', '=', file.sha256)
      .executeTakeFirstOrThrow()
    return toFile(row)
  }

  async get(deviceId: string, id: string): Promise<DeviceFile | undefined> {
    const row = await this.db
      .selectFrom('deviceFiles')
      .selectAll()
      .where('deviceId', '=', deviceId)
      .where('id', '=', id)
      .executeTakeFirst()
    return row ? toFile(row) : undefined
  }

  async list(deviceId: string, page: { limit: number; offset: number }): Promise<[DeviceFile[], number]> {
    const rows = await this.db
      .selectFrom('deviceFiles')
      .selectAll()
      .where('deviceId', '=', deviceId)
      .orderBy('createdAt', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute()
    const count = await this.db
      .selectFrom('deviceFiles')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('deviceId', '=', deviceId)
      .executeTakeFirstOrThrow()
    return [rows.map(toFile), fromDbInt(count.n)]
  }

  async delete(deviceId: string, id: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('deviceFiles')
      .where('deviceId', '=', deviceId)
      .where('id', '=', id)
      .executeTakeFirst()
    return Number(result.numDeletedRows ?? 0) > 0
  }

  async isReferenced(sha256: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('deviceFiles')
      .select('id')
      .where('sha256', '=', sha256)
      .limit(1)
      .executeTakeFirst()
    return row !== undefined
  }

  async referencedHashes(): Promise<Set<string>> {
    const rows = await this.db.selectFrom('deviceFiles').select('sha256').distinct().execute()
    return new Set(rows.map((r) => r.sha256))
  }
}
