// Tasks: every task with its schedule, next run and last result; a form to
// create one with the action's own fields and a live preview of its next
// runs; enable / disable, run now and delete for those who may. Runs are
// followed through the jobs feed, so results appear without reloading.

import { useState } from 'react'
import { Link, Route, Routes, useNavigate } from 'react-router'
import { usePageOffset } from '../../api/paging'
import { allows, useSession } from '../../api/session'
import { formatAgo, formatTime } from '../../ui/format'
import { QueryState } from '../../ui/Loading'
import { Pager } from '../../ui/Pager'
import { StatusDot } from '../../ui/StatusDot'
import '../pages.css'
import { emptyTask } from './config'
import { useCreateTask, useTaskRunsFeed, useTasks } from './hooks'
import { TaskActions } from './TaskActions'
import { TaskForm } from './TaskForm'
import TaskPage from './TaskPage'

export default function TasksPage() {
  useTaskRunsFeed()
  return (
    <Routes>
      <Route index element={<TaskList />} />
      <Route path=":id" element={<TaskPage />} />
    </Routes>
  )
}

function TaskList() {
  const { me } = useSession()
  const [offset, setOffset] = usePageOffset()
  const tasks = useTasks(offset)
  const create = useCreateTask()
  const navigate = useNavigate()
  const [creating, setCreating] = useState(false)
  const canOperate = allows(me?.role, 'operator')
  const list = tasks.data?.items ?? []

  return (
    <section aria-labelledby="page-title">
      <div className="page-head">
        <h1 id="page-title">Tasks</h1>
        {canOperate && !creating && (
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            New task
          </button>
        )}
      </div>
      {creating && (
        <section className="card" aria-labelledby="new-task-title">
          <h2 id="new-task-title">New task</h2>
          <TaskForm
            initial={emptyTask()}
            isAdmin={allows(me?.role, 'admin')}
            submitLabel="Create task"
            busy={create.isPending}
            error={create.error}
            onCancel={() => {
              create.reset()
              setCreating(false)
            }}
            onSubmit={(body) =>
              create.mutate(body, {
                onSuccess: (task) => {
                  setCreating(false)
                  navigate(`/tasks/${task.id}`)
                },
              })
            }
          />
        </section>
      )}
      {!tasks.data ? (
        <QueryState what="tasks" error={tasks.error} />
      ) : tasks.data.total === 0 ? (
        <p className="muted">No tasks yet.{canOperate && ' Create one with “New task”.'}</p>
      ) : (
        <>
          <table className="table">
            <caption className="sr-only">Tasks</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col">Schedule</th>
                <th scope="col">Action</th>
                <th scope="col">Next run</th>
                <th scope="col">Last result</th>
                {canOperate && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {list.map((t) => (
                <tr key={t.id}>
                  <th scope="row">
                    <Link to={`/tasks/${t.id}`}>{t.name}</Link>
                  </th>
                  <td>
                    <StatusDot status={t.enabled ? 'enabled' : 'disabled'} />
                  </td>
                  <td>
                    <code>{t.schedule}</code> <span className="muted">{t.timezone}</span>
                  </td>
                  <td>
                    <span className="badge">{t.action}</span>
                  </td>
                  <td title={t.nextRun ?? undefined}>{t.nextRun ? formatTime(t.nextRun) : 'N/A'}</td>
                  <td title={t.lastRun?.error ?? undefined}>
                    {t.lastRun ? (
                      <>
                        <StatusDot status={t.lastRun.status} />{' '}
                        <span className="muted">
                          {formatAgo(t.lastRun.endTime ?? t.lastRun.startTime ?? t.lastRun.createdAt)}
                        </span>
                      </>
                    ) : (
                      'Never'
                    )}
                  </td>
                  {canOperate && (
                    <td>
                      <TaskActions task={t} />
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
          <Pager what="tasks" page={tasks.data} onOffset={setOffset} />
        </>
      )}
    </section>
  )
}
