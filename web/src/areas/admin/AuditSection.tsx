// The audit log (admins only): who did what, when, from where, newest first,
// filtered by user and action, a page at a time.

import { useId, useState } from 'react'
import { formatTime } from '../../ui/format'
import { QueryState } from '../../ui/Loading'
import { StatusDot } from '../../ui/StatusDot'
import { AUDIT_PAGE, useAudit } from './hooks'

export function AuditSection() {
  const [username, setUsername] = useState('')
  const [action, setAction] = useState('')
  const [offset, setOffset] = useState(0)
  const audit = useAudit({ username: username.trim(), action: action.trim() }, offset)
  const userId = useId()
  const actionId = useId()
  const total = audit.data?.total ?? null
  return (
    <section className="card" aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <div className="toolbar">
        <label htmlFor={userId}>Filter by user</label>
        <input
          id={userId}
          value={username}
          onChange={(e) => {
            setUsername(e.target.value)
            setOffset(0)
          }}
        />
        <label htmlFor={actionId}>Filter by action</label>
        <input
          id={actionId}
          value={action}
          placeholder="login.failed"
          onChange={(e) => {
            setAction(e.target.value)
            setOffset(0)
          }}
        />
      </div>
      {!audit.data ? (
        <QueryState what="the audit log" error={audit.error} />
      ) : audit.data.entries.length === 0 ? (
        <p className="muted">No entries.</p>
      ) : (
        <table className="table compact">
          <caption className="sr-only">Audit log</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">User</th>
              <th scope="col">Action</th>
              <th scope="col">Request</th>
              <th scope="col">Answer</th>
              <th scope="col">From</th>
            </tr>
          </thead>
          <tbody>
            {audit.data.entries.map((e) => (
              <tr key={e.id}>
                <td>{formatTime(e.at)}</td>
                <td>{e.username ?? '—'}</td>
                <td>
                  <code>{e.action}</code>
                  {e.details?.count ? ` ×${String(e.details.count)}` : ''}
                </td>
                <td>
                  <code>
                    {e.method} {e.path}
                  </code>
                </td>
                <td>
                  {e.statusCode === null ? (
                    '—'
                  ) : (
                    <StatusDot
                      status={e.statusCode < 400 ? 'success' : 'failed'}
                      label={String(e.statusCode)}
                    />
                  )}
                </td>
                <td>{e.ip ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="toolbar">
        <button
          type="button"
          disabled={offset === 0}
          onClick={() => setOffset(Math.max(0, offset - AUDIT_PAGE))}
        >
          Newer
        </button>
        <button
          type="button"
          disabled={total === null || offset + AUDIT_PAGE >= total}
          onClick={() => setOffset(offset + AUDIT_PAGE)}
        >
          Older
        </button>
        {total !== null && (
          <span className="muted">
            {total === 0 ? 0 : offset + 1}-{Math.min(offset + AUDIT_PAGE, total)} of {total}
          </span>
        )}
      </div>
    </section>
  )
}
