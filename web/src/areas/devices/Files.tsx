// Files for a device: upload one (it is stored and sent at once as a
// device-transfer job), watch the transfer's progress live with pause,
// resume and cancel, and send a stored file again.

import { type FormEvent, useId, useRef, useState } from 'react'
import { toProblem } from '../../api/problem'
import type { Job } from '../../api/types'
import { formatBytes, formatTime } from '../../ui/format'
import { QueryState } from '../../ui/Loading'
import { ProblemView } from '../../ui/ProblemView'
import { StatusDot } from '../../ui/StatusDot'
import { useJobAction } from '../resources/jobs'
import { Progress } from '../resources/Progress'
import { useActiveTransfer, useDeviceFiles, useSendFile, useUpload } from './hooks'

const ACCEPT = '.gcode,.gco,.g,.nc,.hex,.bin'

function Transfer({ job, canOperate }: { job: Job; canOperate: boolean }) {
  const action = useJobAction()
  const d = (job.details ?? {}) as Record<string, unknown>
  const active = job.status === 'pending' || job.status === 'running'
  const paused = d.paused === true
  const lines =
    typeof d.totalLines === 'number' ? `${d.linesAcknowledged ?? 0} / ${d.totalLines} lines` : null
  return (
    <section className="card" aria-labelledby="transfer-title">
      <div className="page-head">
        <h3 id="transfer-title">Transfer of {String(d.fileName ?? job.name)}</h3>
        <StatusDot
          status={paused && active ? 'pending' : job.status}
          label={paused && active ? 'paused' : job.status}
        />
      </div>
      <p>
        <Progress value={job.progress} label={`Transfer of ${String(d.fileName ?? job.name)}`} />{' '}
        {lines && <span className="muted">{lines}</span>}
      </p>
      {job.error && <p className="field-error">{job.error}</p>}
      {canOperate && active && (
        <div className="actions">
          {paused ? (
            <button type="button" onClick={() => action.mutate({ id: job.id, action: 'resume' })}>
              Resume
            </button>
          ) : (
            <button type="button" onClick={() => action.mutate({ id: job.id, action: 'pause' })}>
              Pause
            </button>
          )}
          <button
            type="button"
            className="danger"
            onClick={() => action.mutate({ id: job.id, action: 'cancel' })}
          >
            Cancel transfer
          </button>
        </div>
      )}
      {action.error && <ProblemView problem={toProblem(action.error)} />}
    </section>
  )
}

export function Files({ deviceId, canOperate }: { deviceId: string; canOperate: boolean }) {
  const files = useDeviceFiles(deviceId)
  const transfer = useActiveTransfer(deviceId)
  const upload = useUpload(deviceId)
  const send = useSendFile(deviceId)
  const [file, setFile] = useState<File | null>(null)
  const input = useRef<HTMLInputElement>(null)
  const fileId = useId()

  const submit = (e: FormEvent) => {
    e.preventDefault()
    if (!file) return
    upload.mutate(file, {
      onSuccess: () => {
        setFile(null)
        if (input.current) input.current.value = ''
      },
    })
  }

  const job = transfer.data ?? null
  return (
    <section className="card" aria-labelledby="files-title">
      <h2 id="files-title">Files</h2>
      {canOperate && (
        <form className="toolbar" onSubmit={submit}>
          <label htmlFor={fileId}>File to send</label>
          <input
            id={fileId}
            ref={input}
            type="file"
            accept={ACCEPT}
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
          />
          <button type="submit" className="primary" disabled={!file || upload.isPending}>
            {upload.isPending ? 'Uploading…' : 'Upload and send'}
          </button>
          <span className="muted">G-code ({ACCEPT.replaceAll(',', ' ')}); the device must be connected</span>
        </form>
      )}
      {upload.error && <ProblemView problem={toProblem(upload.error)} />}
      {send.error && <ProblemView problem={toProblem(send.error)} />}
      {job && <Transfer job={job} canOperate={canOperate} />}
      {!files.data ? (
        <QueryState what="files" error={files.error} />
      ) : files.data.length === 0 ? (
        <p className="muted">No files stored for this device.</p>
      ) : (
        <table className="table compact">
          <caption className="sr-only">Stored files</caption>
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col">Size</th>
              <th scope="col">Lines</th>
              <th scope="col">Uploaded</th>
              {canOperate && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {files.data.map((f) => (
              <tr key={f.id}>
                <th scope="row">{f.name}</th>
                <td>{formatBytes(f.size)}</td>
                <td>{f.lineCount ?? '—'}</td>
                <td>{formatTime(f.updatedAt)}</td>
                {canOperate && (
                  <td>
                    <button
                      type="button"
                      aria-label={`Send ${f.name} again`}
                      disabled={send.isPending}
                      onClick={() => send.mutate(f)}
                    >
                      Send again
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
