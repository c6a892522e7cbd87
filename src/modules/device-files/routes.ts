// HTTP for device files: schema in, service call, status code out. The
// multipart parser is registered in this scope only, with the upload limit,
// and the file part is handed to the service as a stream (never buffered).

import type { IncomingMessage } from 'node:http'
import multipart from '@fastify/multipart'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { MyntrixError, RequestTimeoutError, ValidationError } from '../../errors.js'
import { principalOf, requireRole } from '../../http/auth-hook.js'
import { listReply, pageOf } from '../../http/list.js'
import type { AppInstance } from '../area.js'
import { jobEventPayload } from '../jobs/service.js'
import { tooLarge } from './blob-store.js'
import type { TransferRestarts } from './restarts.js'
import {
  DeleteReply,
  DeviceFileSchema,
  DeviceParams,
  FileListQuery,
  FileParams,
  fileRef,
  fileView,
  JobParams,
  RestartBody,
  RestartPreviewQuery,
  RestartPreviewReply,
  RestartReply,
  SendReply,
  UploadQuery,
  UploadReply,
} from './schemas.js'
import type { DeviceFilesService } from './service.js'

const tags = ['device files']

/** 415: the body is not multipart/form-data. */
export class UnsupportedMediaTypeError extends MyntrixError {
  readonly status = 415
  readonly type = 'unsupported-media-type'
}

export async function deviceFileRoutes(
  app: AppInstance,
  service: DeviceFilesService,
  restarts: TransferRestarts,
  options: { maxUploadBytes: number; idleTimeoutMs: number },
): Promise<void> {
  await app.register(async (plain) => {
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>()
    await scope.register(multipart, {
      // One byte over the limit lets the store's own meter name the limit in its 413.
      limits: { fileSize: options.maxUploadBytes + 1, files: 1, fields: 10, parts: 12 },
    })

    scope.post(
      '/api/myntrix/devices/:id/upload',
      {
        preHandler: requireRole('operator'),
        schema: {
          tags,
          summary:
            'Upload a file (multipart field "file") and send it to the device as a device-transfer job; 413 over MYNTRIX_UPLOAD_MAX_MB',
          consumes: ['multipart/form-data'],
          params: DeviceParams,
          querystring: UploadQuery,
          response: { 202: UploadReply, 200: UploadReply },
        },
      },
      async (request, reply) => {
        if (!request.isMultipart()) {
          throw new UnsupportedMediaTypeError(
            'upload as multipart/form-data with the file in the field "file"',
          )
        }
        // A client that stops sending (a closing boundary that never comes) would
        // hold the request and its partial file until the process ends: an idle
        // timer on the socket ends it. It counts bytes received, so a slow upload
        // that keeps moving lives.
        const stall = watchStall(request.raw, options.idleTimeoutMs)
        try {
          const part = await stall.race(request.file())
          if (!part) {
            throw new ValidationError('no file in the upload', [
              { path: 'file', message: 'multipart field "file" is required' },
            ])
          }
          if (part.fieldname !== 'file') {
            part.file.resume()
            throw new ValidationError(`the file must be in the field "file", got "${part.fieldname}"`, [
              {
                path: 'file',
                message: `the file must be in the multipart field "file", got "${part.fieldname}"`,
              },
            ])
          }
          // From here a stall fails the file stream, which removes the partial file.
          stall.onStall((err) => part.file.destroy(err))
          const send = request.query.send !== false
          let result: Awaited<ReturnType<DeviceFilesService['upload']>>
          try {
            result = await service.upload(principalOf(request), request.params.id, {
              filename: part.filename,
              stream: part.file,
              send,
            })
          } catch (err) {
            // @fastify/multipart's own limit error, should it fire before the store's.
            if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE')
              throw tooLarge(options.maxUploadBytes)
            throw err
          } finally {
            // Whatever was not read (a refused upload) is drained so the request can end.
            part.file.resume()
          }
          const { file, job } = result
          return reply.code(job ? 202 : 200).send({
            message: job
              ? `stored ${file.name} (${file.sizeBytes} bytes); sending it to the device as job ${job.id}`
              : `stored ${file.name} (${file.sizeBytes} bytes)`,
            file: fileRef(file),
            job: job ? jobEventPayload(job) : null,
          })
        } catch (err) {
          // The rest of that body will never come: close rather than wait for it.
          if (stall.fired) reply.header('connection', 'close')
          throw err
        } finally {
          stall.stop()
        }
      },
    )
  })

  app.get(
    '/api/myntrix/devices/:id/files',
    {
      schema: {
        tags,
        summary: "The device's stored files, newest first",
        params: DeviceParams,
        querystring: FileListQuery,
        response: { 200: { type: 'array', items: DeviceFileSchema } },
      },
    },
    async (request, reply) => {
      const { items, total } = await service.list(
        principalOf(request),
        request.params.id,
        pageOf(request.query),
      )
      return listReply(reply, items.map(fileView), total)
    },
  )

  app.get(
    '/api/myntrix/devices/:id/files/:fileId',
    { schema: { tags, summary: 'One stored file', params: FileParams, response: { 200: DeviceFileSchema } } },
    async (request) =>
      fileView(await service.get(principalOf(request), request.params.id, request.params.fileId)),
  )

  app.delete(
    '/api/myntrix/devices/:id/files/:fileId',
    {
      preHandler: requireRole('operator'),
      schema: {
        tags,
        summary:
          'Delete a stored file (its content goes when no device refers to it); 409 while it is being sent',
        params: FileParams,
        response: { 200: DeleteReply },
      },
    },
    async (request) => {
      const file = await service.delete(principalOf(request), request.params.id, request.params.fileId)
      return { message: `deleted ${file.name}`, id: file.id }
    },
  )

  app.post(
    '/api/myntrix/devices/:id/files/:fileId/send',
    {
      preHandler: requireRole('operator'),
      schema: {
        tags,
        summary:
          'Send a stored file again without re-uploading; 409 when the device is busy or not connected',
        params: FileParams,
        response: { 202: SendReply },
      },
    },
    async (request, reply) => {
      const { file, job } = await service.send(principalOf(request), request.params.id, request.params.fileId)
      return reply.code(202).send({
        message: `sending ${file.name} to the device as job ${job.id}`,
        file: fileRef(file),
        job: jobEventPayload(job),
      })
    },
  )

  // Cancel is the jobs area's route (it calls this area's cancel handler);
  // pause and resume exist only for transfers, so they live here.
  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/api/myntrix/jobs/:id/${action}`,
      {
        preHandler: requireRole('operator'),
        schema: {
          tags: ['jobs'],
          summary:
            action === 'pause'
              ? 'Pause a device transfer after the line in flight; the device takes other commands meanwhile'
              : 'Resume a paused device transfer where it stopped',
          params: JobParams,
          response: { 200: { type: 'object', additionalProperties: true } },
        },
      },
      async (request) => {
        const job = await service[action](principalOf(request), request.params.id)
        return jobEventPayload(job)
      },
    )
  }

  const typed = app.withTypeProvider<TypeBoxTypeProvider>()
  typed.get(
    '/api/myntrix/jobs/:id/restart-preview',
    {
      schema: {
        tags: ['jobs'],
        summary:
          'What a restart of an ended device transfer would send: the preamble rebuilt from the file up to the line, and the first lines after it',
        params: JobParams,
        querystring: RestartPreviewQuery,
        response: { 200: RestartPreviewReply },
      },
    },
    async (request) => restarts.preview(principalOf(request), request.params.id, request.query.fromLine),
  )

  typed.post(
    '/api/myntrix/jobs/:id/restart',
    {
      preHandler: requireRole('operator'),
      schema: {
        tags: ['jobs'],
        summary:
          'Restart an interrupted (or failed, cancelled) device transfer from a line as a new job: the preamble, then exactly the remaining lines; needs confirm: true',
        params: JobParams,
        body: RestartBody,
        response: { 202: RestartReply },
      },
    },
    async (request, reply) => {
      const { job, preview } = await restarts.restart(
        principalOf(request),
        request.params.id,
        request.body.fromLine,
      )
      return reply.code(202).send({
        message: `restarting from line ${preview.fromLine} after a ${preview.preamble.lines.length}-line preamble`,
        job: jobEventPayload(job),
        plan: preview,
      })
    },
  )
}

interface StallWatch {
  /** Whether the upload stalled. */
  readonly fired: boolean
  /** Rejects with the 408 if the upload stalls before `promise` settles. */
  race<T>(promise: Promise<T>): Promise<T>
  /** What else to fail when it stalls (the file stream being stored). */
  onStall(listener: (err: RequestTimeoutError) => void): void
  stop(): void
}

/**
 * The request's socket idle timer (no byte received or sent for `idleMs`),
 * turned into a RequestTimeoutError. Without a socket (app.inject) it never fires.
 */
function watchStall(raw: IncomingMessage, idleMs: number): StallWatch {
  const listeners: Array<(err: RequestTimeoutError) => void> = []
  let fired = false
  const onTimeout = () => {
    fired = true
    const err = new RequestTimeoutError(
      `the upload sent nothing for ${idleMs} ms (MYNTRIX_UPLOAD_IDLE_TIMEOUT_MS); it was ended and nothing was kept`,
    )
    for (const listener of listeners.splice(0)) listener(err)
  }
  const socket = raw.socket as IncomingMessage['socket'] | undefined
  const watching = typeof socket?.setTimeout === 'function' && typeof raw.setTimeout === 'function'
  // A listener on the request keeps Node's server from destroying the socket on
  // the timeout itself, so the 408 can still be written.
  if (watching) raw.setTimeout(idleMs, onTimeout)
  return {
    get fired() {
      return fired
    },
    race<T>(promise: Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        listeners.push(reject)
        promise.then(
          (value) => {
            listeners.splice(listeners.indexOf(reject) >>> 0, 1)
            resolve(value)
          },
          (err) => {
            listeners.splice(listeners.indexOf(reject) >>> 0, 1)
            reject(err)
          },
        )
      })
    },
    onStall(listener) {
      listeners.push(listener)
    },
    stop() {
      listeners.length = 0
      raw.off('timeout', onTimeout)
      // Fastify's connectionTimeout is 0 (no idle limit) between requests; restore that.
      if (watching) socket?.setTimeout(0)
    },
  }
}
