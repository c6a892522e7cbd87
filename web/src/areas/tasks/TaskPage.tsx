// One task: its schedule and action, the actions, its configuration
// (editable by those who may), and its run history with status, duration and
// each run's log.

import { useState } from 'react'
import { Link, useParams } from 'react-router'
import { allows, useSession } from '../../api/session'
import type { TaskRun } from '../../api/types'
import { formatTime } from '../../ui/format'
import { QueryState } from '../../ui/Loading'
import { StatusDot } from '../../ui/StatusDot'
import { formFromTask } from './config'
import { useRun, useTask, useTaskHistory, useUpdateTask } from './hooks'
import { TaskActions } from './TaskActions'
import { TaskForm } from './TaskForm'

function duration(ms: number | null): string {
  if (ms === null) return '—'
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
}

function RunLog({ run }: { run: TaskRun }) {
  const [open, setOpen] = useState(false)
  // History lists carry the end of each log; the full one is read when asked for.
  const full = useRun(open && run.logsTruncated ? run.id : null)
  const logs = full.data?.logs ?? run.logs
  return (
    <details onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>Log</summary>
      <pre
        className="log"
        role="log"
        aria-label={`Log of the run at ${formatTime(run.startTime ?? run.createdAt)}`}
      >
        {logs || <span className="muted">no output</span>}
      </pre>
    </details>
  )
}

export default function TaskPage() {
  const { id = '' } = useParams()
  const { me } = useSession()
  const task = useTask(id)
  const history = useTaskHistory(id)
  const update = useUpdateTask()
  const [editing, setEditing] = useState(false)
  const canOperate = allows(me?.role, 'operator')

  if (!task.data) {
    return (
      <section aria-labelledby="page-title">
        <h1 id="page-title">Task</h1>
        <QueryState what="the task" error={task.error} />
        <p>
          <Link to="/tasks">All tasks</Link>
        </p>
      </section>
    )
  }
  const t = task.data
  return (
    <section aria-labelledby="page-title">
      <p className="crumbs">
        <Link to="/tasks">Tasks</Link> /
      </p>
      <div className="page-head">
        <h1 id="page-title">{t.name}</h1>
        <StatusDot status={t.enabled ? 'enabled' : 'disabled'} />
        {canOperate && <TaskActions task={t} afterDelete="/tasks" />}
      </div>
      {t.description && <p className="muted">{t.description}</p>}
      <section className="card" aria-labelledby="schedule-title">
        <div className="page-head">
          <h2 id="schedule-title">Schedule and action</h2>
          {canOperate && !editing && (
            <button type="button" onClick={() => setEditing(true)}>
              Edit
            </button>
          )}
        </div>
        {editing ? (
          <TaskForm
            initial={formFromTask(t)}
            isAdmin={allows(me?.role, 'admin')}
            submitLabel="Save"
            busy={update.isPending}
            error={update.error}
            onCancel={() => {
              update.reset()
              setEditing(false)
            }}
            onSubmit={(body) => update.mutate({ id: t.id, body }, { onSuccess: () => setEditing(false) })}
          />
        ) : (
          <dl className="facts">
            <dt>Schedule</dt>
            <dd>
              <code>{t.schedule}</code> ({t.timezone})
            </dd>
            <dt>Next run</dt>
            <dd>{t.nextRun ? formatTime(t.nextRun) : 'N/A'}</dd>
            <dt>Action</dt>
            <dd>
              <span className="badge">{t.action}</span> <code>{JSON.stringify(t.payload)}</code>
            </dd>
            <dt>Overlap</dt>
            <dd>{t.overlapPolicy}</dd>
            <dt>Timeout</dt>
            <dd>{t.timeoutMs ? `${t.timeoutMs} ms` : 'none'}</dd>
            <dt>Retries</dt>
            <dd>{t.maxRetries}</dd>
          </dl>
        )}
      </section>
      <section className="card" aria-labelledby="history-title">
        <h2 id="history-title">History</h2>
        {!history.data ? (
          <QueryState what="the history" error={history.error} />
        ) : history.data.length === 0 ? (
          <p className="muted">No runs yet.</p>
        ) : (
          <table className="table compact">
            <caption className="sr-only">Runs</caption>
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Status</th>
                <th scope="col">Trigger</th>
                <th scope="col">Duration</th>
                <th scope="col">Log</th>
              </tr>
            </thead>
            <tbody>
              {history.data.map((r) => (
                <tr key={r.id}>
                  <th scope="row">{formatTime(r.startTime ?? r.scheduledFor ?? r.createdAt)}</th>
                  <td title={r.error ?? undefined}>
                    <StatusDot status={r.status} />
                    {r.error && <span className="muted"> {r.error}</span>}
                  </td>
                  <td>
                    {r.trigger}
                    {r.attempt > 1 && ` (attempt ${r.attempt})`}
                  </td>
                  <td>{duration(r.durationMs)}</td>
                  <td>
                    <RunLog run={r} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </section>
  )
}
