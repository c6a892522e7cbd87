// API keys: each user their own (admins see everyone's). A new key is shown
// once, in this answer only: the server keeps only its hash.

import { type FormEvent, useState } from 'react'
import { toProblem } from '../../api/problem'
import type { ApiKey, NewApiKey } from '../../api/types'
import { ConfirmDialog } from '../../ui/ConfirmDialog'
import { Field } from '../../ui/Field'
import { formatAgo, formatTime } from '../../ui/format'
import { QueryState } from '../../ui/Loading'
import { ProblemView } from '../../ui/ProblemView'
import { StatusDot } from '../../ui/StatusDot'
import { useApiKeys, useCreateApiKey, useRevokeApiKey } from './hooks'

function NewKeyForm({ onCreated }: { onCreated(key: NewApiKey): void }) {
  const create = useCreateApiKey()
  const [name, setName] = useState('')
  const [days, setDays] = useState('')
  const problem = create.error ? toProblem(create.error) : null
  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate(
      { name, ...(days.trim() && { expiresInDays: Number(days) }) },
      {
        onSuccess: (key) => {
          setName('')
          setDays('')
          onCreated(key)
        },
      },
    )
  }
  return (
    <form className="form" onSubmit={submit} aria-labelledby="new-key-title">
      <h3 id="new-key-title">New API key</h3>
      <div className="form-row">
        <Field label="Key name" problem={problem} path="name">
          <input required value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field label="Expires in days" hint="empty: never" problem={problem} path="expiresInDays">
          <input type="number" min={1} max={3650} value={days} onChange={(e) => setDays(e.target.value)} />
        </Field>
      </div>
      <ProblemView problem={problem} claimed={['name', 'expiresInDays']} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={create.isPending}>
          Create key
        </button>
      </div>
    </form>
  )
}

export function ApiKeysSection({ canChange }: { canChange: boolean }) {
  const keys = useApiKeys()
  const revoke = useRevokeApiKey()
  const [created, setCreated] = useState<NewApiKey | null>(null)
  const [revoking, setRevoking] = useState<ApiKey | null>(null)
  return (
    <section className="card" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      {created && (
        <div className="notice" role="status">
          <p>
            Key <strong>{created.name}</strong> created. Copy it now: it is shown only this once.
          </p>
          <label>
            The new key, shown once
            <input className="mono" readOnly value={created.key} onFocus={(e) => e.target.select()} />
          </label>
          <button type="button" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}
      {!keys.data ? (
        <QueryState what="API keys" error={keys.error} />
      ) : keys.data.length === 0 ? (
        <p className="muted">No API keys.</p>
      ) : (
        <table className="table">
          <caption className="sr-only">API keys</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Starts with</th>
              <th scope="col">State</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              {canChange && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {keys.data.map((k) => (
              <tr key={k.id}>
                <th scope="row">{k.name}</th>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td>
                  <StatusDot
                    status={k.revokedAt ? 'disabled' : 'enabled'}
                    label={k.revokedAt ? 'revoked' : 'active'}
                  />
                </td>
                <td>{formatAgo(k.lastUsedAt)}</td>
                <td>{formatTime(k.expiresAt, 'never')}</td>
                {canChange && (
                  <td>
                    {!k.revokedAt && (
                      <button
                        type="button"
                        className="danger"
                        aria-label={`Revoke ${k.name}`}
                        onClick={() => {
                          revoke.reset()
                          setRevoking(k)
                        }}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canChange ? (
        <NewKeyForm onCreated={setCreated} />
      ) : (
        <p className="muted">A viewer's console is read-only; an admin manages keys.</p>
      )}
      <ConfirmDialog
        open={revoking !== null}
        title="Revoke API key"
        confirmLabel="Revoke"
        danger
        busy={revoke.isPending}
        problem={revoke.error ? toProblem(revoke.error) : null}
        onCancel={() => setRevoking(null)}
        onConfirm={() => revoking && revoke.mutate(revoking.id, { onSuccess: () => setRevoking(null) })}
      >
        <p>Revoke {revoking?.name}? Anything using it is refused from now on.</p>
      </ConfirmDialog>
    </section>
  )
}
