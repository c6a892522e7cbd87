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

const FromLine = Type.Integer({
  minimum: 1,
  maximum: 1_000_000_000,
  description:
    "the file line to restart at (as an editor numbers them); default: the line after the job's checkpoint",
})

export const RestartPreviewQuery = Type.Object({ fromLine: Type.Optional(FromLine) })

export const RestartBody = Type.Object(
  {
    fromLine: Type.Optional(FromLine),
    confirm: Type.Literal(true, {
      description: 'must be true: a restart moves the machine, so it is never sent without it',
    }),
  },
  { additionalProperties: false },
)

const Line = Type.Object({ line: Type.Integer(), text: Type.String() })

const restartPlanProperties = {
  jobId: Type.String({ description: 'the job restarted' }),
  deviceId: Type.String(),
  fileId: Type.String(),
  protocol: Type.String(),
  machine: Type.Union([Type.Literal('printer'), Type.Literal('cnc')]),
  fromLine: Type.Integer({ description: 'the first file line sent after the preamble' }),
  checkpoint: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
  modalState: Type.Object(
    {},
    { additionalProperties: true, description: 'the machine state before fromLine' },
  ),
  preamble: Type.Object({ lines: Type.Array(Type.String()), warnings: Type.Array(Type.String()) }),
  remainingLines: Type.Integer({ description: 'file lines sent from fromLine to the end' }),
  firstLines: Type.Array(Line),
}

export const RestartPreviewReply = Type.Object(restartPlanProperties)

export const RestartReply = Type.Object({
  message: Type.String(),
  job: JobRef,
  plan: Type.Object(restartPlanProperties),
})
