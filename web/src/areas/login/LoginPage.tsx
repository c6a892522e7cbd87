// Log in with a username and password; the server answers with a session
// cookie. A refusal shows the server's own words (wrong password, too many
// attempts with when to try again).

import { type FormEvent, useState } from 'react'
import { toProblem } from '../../api/problem'
import { useLogin } from '../../api/session'
import { Field } from '../../ui/Field'
import { ProblemView } from '../../ui/ProblemView'

export default function LoginPage() {
  const login = useLogin()
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const problem = login.error ? toProblem(login.error) : null
  const submit = (e: FormEvent) => {
    e.preventDefault()
    login.mutate({ username, password })
  }
  return (
    <main className="login" id="main">
      <form className="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Log in to Myntrix</h1>
        <Field label="Username" problem={problem} path="username">
          <input
            name="username"
            autoComplete="username"
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </Field>
        <Field label="Password" problem={problem} path="password">
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        <ProblemView problem={problem} claimed={['username', 'password']} />
        <button type="submit" className="primary" disabled={login.isPending}>
          {login.isPending ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  )
}
