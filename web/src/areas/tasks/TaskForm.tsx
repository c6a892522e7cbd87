// Create or edit a task: name, schedule and time zone with the next five fire
// times as the server computes them (the preview answers while you type), the
// action with its own fields, and how runs behave. `script` is offered to
// admins only, as the server allows it to them only.

import { type FormEvent, useId, useState } from 'react'
import { LIST_MAX } from '../../api/paging'
import { fieldErrors, type Problem, toProblem } from '../../api/problem'
import { Field } from '../../ui/Field'
import { FieldErrors, ProblemView } from '../../ui/ProblemView'
import { useAgents } from '../agents/hooks'
import { useDeviceFiles, useDevices } from '../devices/hooks'
import { type ActionType, bodyFromForm, type TaskFormValues } from './config'
import { usePreview } from './hooks'

const CLAIMED = [
  'name',
  'description',
  'schedule',
  'timezone',
  'action',
  'agentId',
  'operation',
  'command',
  'cwd',
  'url',
  'method',
  'body',
  'expectedStatus',
  'deviceId',
  'fileId',
  'steps',
  'overlapPolicy',
  'timeoutMs',
  'maxRetries',
]

const ACTIONS: { value: ActionType; label: string; adminOnly?: boolean }[] = [
  { value: 'api', label: 'api: call a URL' },
  { value: 'agent', label: 'agent: start, stop, restart or run an agent' },
  { value: 'device', label: 'device: send a command or a file' },
  { value: 'workflow', label: 'workflow: several steps in order' },
  { value: 'script', label: 'script: run a program on the server (admin)', adminOnly: true },
]

function zones(): string[] {
  try {
    return Intl.supportedValuesOf('timeZone')
  } catch {
    return ['UTC']
  }
}

function formatIn(iso: string, timeZone: string): string {
  try {
    return new Intl.DateTimeFormat(undefined, {
      timeZone,
      // dateStyle/timeStyle cannot be combined with timeZoneName: the fields one by one.
      weekday: 'short',
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'short',
    }).format(new Date(iso))
  } catch {
    return iso
  }
}

function Preview({ schedule, timezone }: { schedule: string; timezone: string }) {
  const preview = usePreview(schedule, timezone)
  const problem = preview.error ? toProblem(preview.error) : null
  return (
    <section aria-labelledby="preview-title" aria-live="polite">
      <h3 id="preview-title">Next 5 runs</h3>
      {problem ? (
        <p className="field-error">
          {(problem.errors ?? []).map((e) => e.message).join('; ') || problem.detail}
        </p>
      ) : preview.data ? (
        <ol className="preview-times">
          {preview.data.times.map((t) => (
            <li key={t}>
              <time dateTime={t}>{formatIn(t, preview.data.timezone)}</time>
            </li>
          ))}
        </ol>
      ) : (
        <p className="muted">{schedule.trim() ? 'Computing…' : 'Type a schedule.'}</p>
      )}
    </section>
  )
}

function DeviceFileField({
  deviceId,
  value,
  onChange,
  problem,
}: {
  deviceId: string
  value: string
  onChange(v: string): void
  problem: Problem | null
}) {
  const files = useDeviceFiles(deviceId)
  return (
    <Field
      label="File"
      hint="a file stored for the device (upload it on the device's page)"
      problem={problem}
      path="fileId"
    >
      <select required value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">choose a file</option>
        {(files.data ?? []).map((f) => (
          <option key={f.id} value={f.id}>
            {f.name}
          </option>
        ))}
      </select>
    </Field>
  )
}

export function TaskForm({
  initial,
  isAdmin,
  submitLabel,
  busy,
  error,
  onSubmit,
  onCancel,
}: {
  initial: TaskFormValues
  isAdmin: boolean
  submitLabel: string
  busy: boolean
  error: unknown
  onSubmit(body: Record<string, unknown>): void
  onCancel?(): void
}) {
  const [v, setV] = useState(initial)
  const [localProblem, setLocalProblem] = useState<Problem | null>(null)
  const problem = localProblem ?? (error ? toProblem(error) : null)
  // Choices for the agent and device actions: the API's largest page.
  const agents = useAgents(0, LIST_MAX)
  const devices = useDevices(0, LIST_MAX)
  const zoneList = useId()
  const enabledId = useId()
  const shellId = useId()
  const set =
    <K extends keyof TaskFormValues>(key: K) =>
    (e: { target: { value: string } }) =>
      setV({ ...v, [key]: e.target.value as TaskFormValues[K] })

  const submit = (e: FormEvent) => {
    e.preventDefault()
    try {
      const body = bodyFromForm(v)
      setLocalProblem(null)
      onSubmit(body)
    } catch (err) {
      setLocalProblem(err as Problem)
    }
  }

  const actions = ACTIONS.filter((a) => isAdmin || !a.adminOnly || a.value === v.action)
  return (
    <form className="form" onSubmit={submit}>
      <div className="form-row">
        <Field label="Name" problem={problem} path="name">
          <input required value={v.name} onChange={set('name')} />
        </Field>
        <Field label="Description" problem={problem} path="description">
          <input value={v.description} onChange={set('description')} />
        </Field>
      </div>
      <div className="form-row">
        <Field
          label="Schedule"
          hint="cron: minute hour day month weekday; six fields put seconds first (*/1 * * * * * is every second); or @hourly, @daily…"
          problem={problem}
          path="schedule"
        >
          <input className="mono" required value={v.schedule} onChange={set('schedule')} />
        </Field>
        <Field label="Time zone" hint="IANA name, e.g. Europe/Berlin" problem={problem} path="timezone">
          <input className="mono" list={zoneList} value={v.timezone} onChange={set('timezone')} />
        </Field>
        <datalist id={zoneList}>
          {zones().map((z) => (
            <option key={z} value={z} />
          ))}
        </datalist>
      </div>
      <Preview schedule={v.schedule} timezone={v.timezone} />
      <Field label="Action" problem={problem} path="action">
        <select value={v.action} onChange={set('action')}>
          {actions.map((a) => (
            <option key={a.value} value={a.value}>
              {a.label}
            </option>
          ))}
        </select>
      </Field>
      <fieldset>
        <legend>{v.action} settings</legend>
        {v.action === 'agent' && (
          <div className="form-row">
            <Field label="Agent" problem={problem} path="agentId">
              <select required value={v.agentId} onChange={set('agentId')}>
                <option value="">choose an agent</option>
                {(agents.data?.items ?? []).map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.name}
                  </option>
                ))}
              </select>
            </Field>
            <Field
              label="Operation"
              hint="run: start it and wait for it to exit 0"
              problem={problem}
              path="operation"
            >
              <select value={v.operation} onChange={set('operation')}>
                {['start', 'stop', 'restart', 'run'].map((o) => (
                  <option key={o}>{o}</option>
                ))}
              </select>
            </Field>
          </div>
        )}
        {v.action === 'script' && (
          <>
            <Field
              label="Command"
              hint={v.shell ? 'run by /bin/sh -c' : 'program and arguments separated by spaces (no shell)'}
              problem={problem}
              path="command"
            >
              <input
                className="mono"
                required
                value={v.command}
                onChange={set('command')}
                placeholder="echo hello"
              />
            </Field>
            <div className="form-row">
              <label className="check" htmlFor={shellId}>
                <input
                  id={shellId}
                  type="checkbox"
                  checked={v.shell}
                  onChange={(e) => setV({ ...v, shell: e.target.checked })}
                />{' '}
                Run through /bin/sh
              </label>
              <Field label="Working directory" hint="absolute path" problem={problem} path="cwd">
                <input className="mono" value={v.cwd} onChange={set('cwd')} />
              </Field>
            </div>
          </>
        )}
        {v.action === 'api' && (
          <>
            <div className="form-row">
              <Field label="URL" problem={problem} path="url">
                <input
                  className="mono"
                  required
                  value={v.url}
                  onChange={set('url')}
                  placeholder="https://example.com/hook"
                />
              </Field>
              <Field label="Method" problem={problem} path="method">
                <select value={v.method} onChange={set('method')}>
                  {['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'].map((m) => (
                    <option key={m}>{m}</option>
                  ))}
                </select>
              </Field>
              <Field
                label="Expected status"
                hint="e.g. 200 or 200,204; default any 2xx"
                problem={problem}
                path="expectedStatus"
              >
                <input value={v.expectedStatus} onChange={set('expectedStatus')} />
              </Field>
            </div>
            <Field label="Request body" hint="sent as is" problem={problem} path="body">
              <textarea className="mono" rows={2} value={v.body} onChange={set('body')} />
            </Field>
          </>
        )}
        {v.action === 'device' && (
          <div className="form-row">
            <Field label="Device" problem={problem} path="deviceId">
              <select required value={v.deviceId} onChange={set('deviceId')}>
                <option value="">choose a device</option>
                {(devices.data?.items ?? []).map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.name}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Send" problem={problem}>
              <select value={v.deviceMode} onChange={set('deviceMode')}>
                <option value="command">a command</option>
                <option value="file">a stored file</option>
              </select>
            </Field>
            {v.deviceMode === 'command' ? (
              <Field label="Device command" hint="one line, e.g. M105" problem={problem} path="command">
                <input className="mono" required value={v.deviceCommand} onChange={set('deviceCommand')} />
              </Field>
            ) : v.deviceId ? (
              <DeviceFileField
                deviceId={v.deviceId}
                value={v.fileId}
                onChange={(fileId) => setV({ ...v, fileId })}
                problem={problem}
              />
            ) : null}
          </div>
        )}
        {v.action === 'workflow' && (
          <Field
            label="Steps (JSON)"
            hint='a list of {"action", "payload", "name"?}: 1 to 50 steps, run in order, stopping at the first failure'
            problem={problem}
            path="steps"
          >
            <textarea className="mono" rows={6} value={v.steps} onChange={set('steps')} />
          </Field>
        )}
        <FieldErrors
          id="payload-errors"
          errors={fieldErrors(problem, 'payload').filter((e) => e.path === 'payload')}
        />
      </fieldset>
      <div className="form-row">
        <Field label="When a run is still going" problem={problem} path="overlapPolicy">
          <select value={v.overlapPolicy} onChange={set('overlapPolicy')}>
            <option value="skip">skip this one</option>
            <option value="queue">queue it</option>
            <option value="allow">run it anyway</option>
          </select>
        </Field>
        <Field label="Timeout (ms)" hint="empty: none" problem={problem} path="timeoutMs">
          <input type="number" min={1} value={v.timeoutMs} onChange={set('timeoutMs')} />
        </Field>
        <Field label="Retries" hint="after a failure; default 0" problem={problem} path="maxRetries">
          <input type="number" min={0} max={100} value={v.maxRetries} onChange={set('maxRetries')} />
        </Field>
      </div>
      <label className="check" htmlFor={enabledId}>
        <input
          id={enabledId}
          type="checkbox"
          checked={v.enabled}
          onChange={(e) => setV({ ...v, enabled: e.target.checked })}
        />{' '}
        Enabled
      </label>
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
