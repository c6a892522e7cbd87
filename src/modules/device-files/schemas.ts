// TypeBox schemas of the device-files routes and the file's public shape.

import { Type } from '@sinclair/typebox'
import { ListQuery } from '../../http/list.js'
import type { DeviceFile } from './repository.js'

export const DeviceParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) })
export const FileParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 100 }),
  fileId: Type.String({ minLength: 1, maxLength: 100 }),
})
export const JobParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) })

export const UploadQuery = Type.Object({
  send: Type.Optional(
    Type.Boolean({
      default: true,
      description: 'start sending at once (default); false only stores the file',
    }),
  ),
})

export const FileListQuery = ListQuery

export const DeviceFileSchema = Type.Object({
  id: Type.String(),
  deviceId: Type.String(),
  ownerId: Type.String(),
  name: Type.String({
    description: 'the client filename, sanitised (base name only, no control characters)',
  }),
  size: Type.Integer({ description: 'bytes' }),
  sha256: Type.String(),
  kind: Type.Union([Type.Literal('gcode'), Type.Literal('raw')]),
  lineCount: Type.Union([Type.Integer(), Type.Null()], {
    description: 'G-code lines that go on the wire (comments and blank lines stripped); null for raw files',
  }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
})

const JobRef = Type.Object(
  {},
  { additionalProperties: true, description: 'the device-transfer job (as in /api/myntrix/jobs)' },
)

export const UploadReply = Type.Object({
  message: Type.String(),
  file: Type.Object({ id: Type.String(), name: Type.String(), size: Type.Integer(), sha256: Type.String() }),
  job: Type.Union([JobRef, Type.Null()]),
})

export const SendReply = Type.Object({
  message: Type.String(),
  file: Type.Object({ id: Type.String(), name: Type.String(), size: Type.Integer(), sha256: Type.String() }),
  job: JobRef,
})

export const DeleteReply = Type.Object({ message: Type.String(), id: Type.String() })

export function fileView(file: DeviceFile) {
  return {
    id: file.id,
    deviceId: file.deviceId,
    ownerId: file.ownerId,
    name: file.name,
    size: file.sizeBytes,
    sha256: file.sha256,
    kind: file.kind,
    lineCount: file.lineCount,
    createdAt: file.createdAt.toISOString(),
    updatedAt: file.updatedAt.toISOString(),
  }
}

export function fileRef(file: DeviceFile) {
  return { id: file.id, name: file.name, size: file.sizeBytes, sha256: file.sha256 }
}
