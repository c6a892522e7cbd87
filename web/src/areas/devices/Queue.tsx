// A device's queue: what runs and what waits, in order; add copies of a stored
// file, move an item up, cancel one, and continue when the queue is held (a
// bed to clear after a print, an interrupted or failed job to look at).

import { type FormEvent, useId, useState } from 'react'
import { toProblem } from '../../api/problem'
import { QueryState } from '../../ui/Loading'
import { ProblemView } from '../../ui/ProblemView'
import { StatusDot } from '../../ui/StatusDot'
import { useDeviceFiles } from './hooks'
import {
  type QueueItem,
  useAddToQueue,
  useCancelQueueItem,
  useContinueQueue,
  useDeviceQueue,
  useMoveQueueItem,
} from './queue-hooks'

const COLUMNS = ['#', 'Item', 'Status', 'Priority']

const HOLD_TEXT: Record<string, string> = {
  confirm: 'Held: confirm the machine is ready (bed cleared) to go on.',
  interrupted: 'Held: the last job was interrupted. Restart or inspect it, then continue.',
  failed: 'Held: the last job failed. Check the machine, then continue.',
}

export function Queue({ deviceId, canOperate }: { deviceId: string; canOperate: boolean }) {
  const queue = useDeviceQueue(deviceId)
  const files = useDeviceFiles(deviceId)
  const add = useAddToQueue(deviceId)
  const move = useMoveQueueItem(deviceId)
  const cancel = useCancelQueueItem(deviceId)
  const resume = useContinueQueue(deviceId)
  const [fileId, setFileId] = useState('')
  const [copies, setCopies] = useState(1)
  const [confirm, setConfirm] = useState(false)
  const ids = { file: useId(), copies: useId(), confirm: useId() }

  const submit = (e: FormEvent) => {
    e.preventDefault()
    const chosen = fileId || files.data?.[0]?.id
    if (!chosen) return
    add.mutate({ fileId: chosen, copies, requireConfirm: confirm })
  }
  const error = add.error ?? move.error ?? cancel.error ?? resume.error
  const hold = queue.data?.hold ?? null
  return (
    <section className="card" aria-labelledby="queue-title">
      <h2 id="queue-title">Queue</h2>
      {hold && (
        <div className="toolbar" role="status">
          <span>{HOLD_TEXT[hold.reason] ?? `Held: ${hold.reason}`}</span>
          {canOperate && (
            <button
              type="button"
              className="primary"
              disabled={resume.isPending}
              onClick={() => resume.mutate()}
            >
              Continue
            </button>
          )}
        </div>
      )}
      {canOperate && (files.data?.length ?? 0) > 0 && (
        <form className="toolbar" onSubmit={submit}>
          <label htmlFor={ids.file}>File to queue</label>
          <select id={ids.file} value={fileId} onChange={(e) => setFileId(e.target.value)}>
            {files.data?.map((f) => (
              <option key={f.id} value={f.id}>
                {f.name}
              </option>
            ))}
          </select>
          <label htmlFor={ids.copies}>Copies</label>
          <input
            id={ids.copies}
            type="number"
            min={1}
            max={100}
            value={copies}
            onChange={(e) => setCopies(Number(e.target.value))}
          />
          <input
            id={ids.confirm}
            type="checkbox"
            checked={confirm}
            onChange={(e) => setConfirm(e.target.checked)}
          />
          <label htmlFor={ids.confirm}>Confirm between items</label>
          <button type="submit" className="primary" disabled={add.isPending}>
            Add to queue
          </button>
        </form>
      )}
      {error && <ProblemView problem={toProblem(error)} />}
      {!queue.data ? (
        <QueryState what="the queue" error={queue.error} />
      ) : queue.data.items.length === 0 ? (
        <p className="muted">Nothing queued.</p>
      ) : (
        <table className="table compact">
          <caption className="sr-only">Queued items</caption>
          <thead>
            <tr>
              {[...COLUMNS, ...(canOperate ? ['Actions'] : [])].map((c) => (
                <th key={c} scope="col">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {queue.data.items.map((item) => (
              <QueueRow
                key={item.id}
                item={item}
                canOperate={canOperate}
                busy={move.isPending || cancel.isPending}
                onUp={() => move.mutate({ itemId: item.id, position: (item.position ?? 2) - 1 })}
                onCancel={() => cancel.mutate(item.id)}
              />
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}

function QueueRow(props: {
  item: QueueItem
  canOperate: boolean
  busy: boolean
  onUp: () => void
  onCancel: () => void
}) {
  const { item } = props
  const canMoveUp = item.position !== null && item.position > 1
  return (
    <tr>
      <td>{item.position ?? '—'}</td>
      <th scope="row">
        {item.name}
        {item.requireConfirm && <span className="muted"> (confirm after)</span>}
      </th>
      <td>
        <StatusDot status={item.status} label={item.status === 'pending' ? 'waiting' : item.status} />
      </td>
      <td>{item.priority}</td>
      {props.canOperate && (
        <td className="actions">
          {canMoveUp && (
            <button
              type="button"
              aria-label={`Move ${item.name} up`}
              disabled={props.busy}
              onClick={props.onUp}
            >
              Up
            </button>
          )}
          <button
            type="button"
            className="danger"
            aria-label={`Cancel ${item.name}`}
            disabled={props.busy}
            onClick={props.onCancel}
          >
            Cancel
          </button>
        </td>
      )}
    </tr>
  )
}
