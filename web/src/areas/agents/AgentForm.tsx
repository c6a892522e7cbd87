// Create or edit an agent: what it runs and how it is supervised. Field
// errors from the server (paths like configuration.command) appear beside
// their field; the rest above the buttons.

import { type FormEvent, useState } from 'react'
import { type Problem, toProblem } from '../../api/problem'
import { Field } from '../../ui/Field'
import { ProblemView } from '../../ui/ProblemView'
import { type AgentFormValues, configurationFromForm } from './config'
import { ContainerFields, RUNTIME_CLAIMED, RuntimeKindField } from './RuntimeFields'

const CLAIMED = [
  'name',
  'type',
  'command',
  'cwd',
  'env',
  'restartPolicy',
  'maxRestarts',
  'stopTimeoutMs',
  'healthCheck',
  'maxMemoryMb',
  'extra',
  ...RUNTIME_CLAIMED,
]

export function AgentForm({
  initial,
  submitLabel,
  busy,
  error,
  isAdmin,
  onSubmit,
  onCancel,
}: {
  initial: AgentFormValues
  /** Shows the fields only an admin may set (host mounts, the host network). */
  isAdmin: boolean
  submitLabel: string
  busy: boolean
  error: unknown
  onSubmit(body: ReturnType<typeof configurationFromForm>): void
  onCancel?(): void
}) {
  const [v, setV] = useState(initial)
  const [localProblem, setLocalProblem] = useState<Problem | null>(null)
  const problem = localProblem ?? (error ? toProblem(error) : null)
  const set =
    <K extends keyof AgentFormValues>(key: K) =>
    (e: { target: { value: string } }) =>
      setV({ ...v, [key]: e.target.value as AgentFormValues[K] })

  const submit = (e: FormEvent) => {
    e.preventDefault()
    try {
      const body = configurationFromForm(v)
      setLocalProblem(null)
      onSubmit(body)
    } catch (err) {
      setLocalProblem(err as Problem)
    }
  }

  return (
    <form className="form" onSubmit={submit}>
      <div className="form-row">
        <Field label="Name" problem={problem} path="name">
          <input required value={v.name} onChange={set('name')} />
        </Field>
        <Field label="Type" hint="free text, e.g. llm, crawler" problem={problem} path="type">
          <input value={v.type} onChange={set('type')} placeholder="generic" />
        </Field>
      </div>
      <RuntimeKindField v={v} set={set} problem={problem} />
      {v.runtime === 'docker' ? (
        <ContainerFields
          v={v}
          set={set}
          problem={problem}
          isAdmin={isAdmin}
          showAdminFields={isAdmin || initial.network === 'host' || initial.mounts.trim() !== ''}
        />
      ) : (
        <Field
          label="Command"
          hint="the program and its arguments, split like a shell would (no shell runs it)"
          problem={problem}
          path="command"
        >
          <input
            className="mono"
            value={v.command}
            onChange={set('command')}
            placeholder="node worker.js --verbose"
          />
        </Field>
      )}
      <div className="form-row">
        <Field
          label="Working directory"
          hint={v.runtime === 'docker' ? 'inside the container' : undefined}
          problem={problem}
          path={v.runtime === 'docker' ? 'runtime.workingDir' : 'cwd'}
        >
          <input className="mono" value={v.cwd} onChange={set('cwd')} />
        </Field>
        <Field label="Restart policy" problem={problem} path="restartPolicy">
          <select value={v.restartPolicy} onChange={set('restartPolicy')}>
            <option value="on-failure">on failure</option>
            <option value="always">always</option>
            <option value="never">never</option>
          </select>
        </Field>
        <Field label="Max restarts" hint="within a minute; default 5" problem={problem} path="maxRestarts">
          <input type="number" min={0} value={v.maxRestarts} onChange={set('maxRestarts')} />
        </Field>
      </div>
      <Field label="Environment" hint="KEY=value, one a line" problem={problem} path="env">
        <textarea className="mono" rows={3} value={v.env} onChange={set('env')} />
      </Field>
      <fieldset>
        <legend>Health check</legend>
        <div className="form-row">
          <Field label="Health check type" problem={problem} path="healthCheck.type">
            <select value={v.healthType} onChange={set('healthType')}>
              <option value="none">none</option>
              <option value="http">HTTP: a URL answers 2xx</option>
              <option value="heartbeat">heartbeat line on stdout</option>
            </select>
          </Field>
          {v.healthType === 'http' && (
            <>
              <Field label="Health URL" problem={problem} path="healthCheck.url">
                <input className="mono" required value={v.healthUrl} onChange={set('healthUrl')} />
              </Field>
              <Field label="Check interval (ms)" problem={problem} path="healthCheck.intervalMs">
                <input type="number" value={v.healthIntervalMs} onChange={set('healthIntervalMs')} />
              </Field>
            </>
          )}
          {v.healthType !== 'none' && (
            <Field label="Health timeout (ms)" problem={problem} path="healthCheck.timeoutMs">
              <input type="number" value={v.healthTimeoutMs} onChange={set('healthTimeoutMs')} />
            </Field>
          )}
        </div>
      </fieldset>
      <div className="form-row">
        <Field label="Memory limit (MB)" hint="restarted when above" problem={problem} path="maxMemoryMb">
          <input type="number" min={1} value={v.maxMemoryMb} onChange={set('maxMemoryMb')} />
        </Field>
        <Field
          label="Stop timeout (ms)"
          hint="SIGKILL after; default 10000"
          problem={problem}
          path="stopTimeoutMs"
        >
          <input type="number" min={0} value={v.stopTimeoutMs} onChange={set('stopTimeoutMs')} />
        </Field>
      </div>
      <Field
        label="Agent settings (JSON)"
        hint="the agent's own keys; it reads them from MYNTRIX_AGENT_CONFIG"
        problem={problem}
        path="extra"
      >
        <textarea
          className="mono"
          rows={3}
          value={v.extra}
          onChange={set('extra')}
          placeholder='{"model": "small"}'
        />
      </Field>
      <ProblemView problem={problem} claimed={CLAIMED} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {submitLabel}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  )
}
