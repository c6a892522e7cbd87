// The jobs ledger: filters by status and type, progress bars, cancel for
// those who may; live from the jobs feed. A job's name opens its page with
// its logs.

import { useId, useState } from 'react'
import { Link } from 'react-router'
import { toProblem } from '../../api/problem'
import type { Job } from '../../api/types'
import { formatTime } from '../../ui/format'
import { QueryState } from '../../ui/Loading'
import { ProblemView } from '../../ui/ProblemView'
import { StatusDot } from '../../ui/StatusDot'
import { type JobFilter, useJobAction, useJobs } from './jobs'
import { Progress } from './Progress'

const STATUSES: Job['status'][] = ['pending', 'running', 'completed', 'failed', 'cancelled', 'interrupted']
const TYPES = ['device-transfer', 'task.run']

export function JobsTable({ canOperate, isAdmin }: { canOperate: boolean; isAdmin: boolean }) {
  const [filter, setFilter] = useState<JobFilter>({ status: '', type: '' })
  const jobs = useJobs(filter)
  const action = useJobAction()
  const statusId = useId()
  const typeId = useId()
  const typeList = useId()
  const list = jobs.data ?? []
  const running = list.filter((j) => j.status === 'running').length
  const pending = list.filter((j) => j.status === 'pending').length
  return (
    <section className="card" aria-labelledby="jobs-title">
      <h2 id="jobs-title">Jobs</h2>
      <div className="toolbar">
        <label htmlFor={statusId}>Status</label>
        <select
          id={statusId}
          aria-label="Status of jobs shown"
          value={filter.status}
          onChange={(e) => setFilter({ ...filter, status: e.target.value })}
        >
          <option value="">active and last 24 h</option>
          {STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <label htmlFor={typeId}>Type</label>
        <input
          id={typeId}
          aria-label="Type of jobs shown"
          list={typeList}
          value={filter.type}
          placeholder="any"
          onChange={(e) => setFilter({ ...filter, type: e.target.value.trim() })}
        />
        <datalist id={typeList}>
          {TYPES.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
        <span className="muted" role="status">
          {running} running, {pending} pending
        </span>
      </div>
      {action.error && <ProblemView problem={toProblem(action.error)} />}
      {!jobs.data ? (
        <QueryState what="jobs" error={jobs.error} />
      ) : list.length === 0 ? (
        <p className="muted">No jobs match.</p>
      ) : (
        <table className="table compact">
          <caption className="sr-only">Jobs</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Type</th>
              <th scope="col">Progress</th>
              <th scope="col">Created</th>
              {canOperate && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {list.map((j) => {
              const active = j.status === 'pending' || j.status === 'running'
              // System jobs (no owner) are cancelled by admins only.
              const mayCancel = active && (j.ownerId !== null || isAdmin)
              return (
                <tr key={j.id}>
                  <th scope="row">
                    <Link to={`/resources/jobs/${j.id}`}>{j.name}</Link>
                  </th>
                  <td title={j.error ?? undefined}>
                    <StatusDot status={j.status} />
                  </td>
                  <td>
                    <span className="badge">{j.type}</span>
                  </td>
                  <td>
                    <Progress value={j.progress} label={`Progress of ${j.name}`} />
                  </td>
                  <td>{formatTime(j.createdAt)}</td>
                  {canOperate && (
                    <td>
                      {mayCancel && (
                        <button
                          type="button"
                          className="danger"
                          aria-label={`Cancel ${j.name}`}
                          disabled={action.isPending}
                          onClick={() => action.mutate({ id: j.id, action: 'cancel' })}
                        >
                          Cancel
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
    </section>
  )
}
