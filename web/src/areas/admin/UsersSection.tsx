// Users (admins only): create with a role, change a role, disable or enable.
// Disabling ends the user's sessions and keys at once, so it asks first.

import { type FormEvent, useState } from 'react'
import { toProblem } from '../../api/problem'
import type { Me, Role, User } from '../../api/types'
import { ConfirmDialog } from '../../ui/ConfirmDialog'
import { Field } from '../../ui/Field'
import { formatTime } from '../../ui/format'
import { QueryState } from '../../ui/Loading'
import { ProblemView } from '../../ui/ProblemView'
import { StatusDot } from '../../ui/StatusDot'
import { useCreateUser, useUpdateUser, useUsers } from './hooks'

const ROLES: Role[] = ['admin', 'operator', 'viewer']

function NewUserForm() {
  const create = useCreateUser()
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [role, setRole] = useState<Role>('viewer')
  const problem = create.error ? toProblem(create.error) : null
  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate(
      { username, password, role },
      {
        onSuccess: () => {
          setUsername('')
          setPassword('')
        },
      },
    )
  }
  return (
    <form className="form" onSubmit={submit} aria-labelledby="new-user-title">
      <h3 id="new-user-title">New user</h3>
      <div className="form-row">
        <Field label="New username" problem={problem} path="username">
          <input required value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="off" />
        </Field>
        <Field label="Initial password" hint="8 characters or more" problem={problem} path="password">
          <input
            type="password"
            required
            minLength={8}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete="new-password"
          />
        </Field>
        <Field label="Role" problem={problem} path="role">
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </Field>
      </div>
      <ProblemView problem={problem} claimed={['username', 'password', 'role']} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={create.isPending}>
          Create user
        </button>
      </div>
    </form>
  )
}

export function UsersSection({ me }: { me: Me }) {
  const users = useUsers(true)
  const update = useUpdateUser()
  const [toggling, setToggling] = useState<User | null>(null)
  return (
    <section className="card" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      {update.error && !toggling && <ProblemView problem={toProblem(update.error)} />}
      {!users.data ? (
        <QueryState what="users" error={users.error} />
      ) : (
        <table className="table">
          <caption className="sr-only">Users</caption>
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
              <th scope="col">Created</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {users.data.map((u) => (
              <tr key={u.id}>
                <th scope="row">{u.username}</th>
                <td>
                  <select
                    aria-label={`Role of ${u.username}`}
                    value={u.role}
                    disabled={u.id === me.id || update.isPending}
                    onChange={(e) => update.mutate({ id: u.id, role: e.target.value as Role })}
                  >
                    {ROLES.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                </td>
                <td>
                  <StatusDot status={u.disabled ? 'disabled' : 'enabled'} />
                </td>
                <td>{formatTime(u.createdAt)}</td>
                <td>
                  {u.id !== me.id && (
                    <button
                      type="button"
                      aria-label={`${u.disabled ? 'Enable' : 'Disable'} ${u.username}`}
                      onClick={() => {
                        update.reset()
                        setToggling(u)
                      }}
                    >
                      {u.disabled ? 'Enable' : 'Disable'}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <NewUserForm />
      <ConfirmDialog
        open={toggling !== null}
        title={toggling?.disabled ? 'Enable user' : 'Disable user'}
        confirmLabel={toggling?.disabled ? 'Enable' : 'Disable'}
        danger={!toggling?.disabled}
        busy={update.isPending}
        problem={update.error ? toProblem(update.error) : null}
        onCancel={() => setToggling(null)}
        onConfirm={() =>
          toggling &&
          update.mutate(
            { id: toggling.id, disabled: !toggling.disabled },
            { onSuccess: () => setToggling(null) },
          )
        }
      >
        <p>
          {toggling?.disabled
            ? `Enable ${toggling?.username}? They can log in again.`
            : `Disable ${toggling?.username}? Their sessions, tokens and API keys stop working at once.`}
        </p>
      </ConfirmDialog>
    </section>
  )
}
