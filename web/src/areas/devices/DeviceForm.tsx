// Create or edit a device: name, type, connection string and protocol, and
// any other configuration keys as JSON. The sim://marlin example fills the
// form with the built-in printer emulator, so a first device needs no hardware.

import { type FormEvent, useState } from 'react'
import { type Problem, toProblem } from '../../api/problem'
import type { Device } from '../../api/types'
import { Field } from '../../ui/Field'
import { ProblemView } from '../../ui/ProblemView'
import type { CreateDevice } from './types'

const CLAIMED = ['name', 'type', 'connectionString', 'protocol', 'configuration']
const PROTOCOLS = ['line', 'jsonl', 'marlin', 'grbl'] as const

export interface DeviceFormValues {
  name: string
  type: string
  connectionString: string
  protocol: string
  extra: string
}

export const EMPTY_DEVICE: DeviceFormValues = {
  name: '',
  type: '',
  connectionString: '',
  protocol: '',
  extra: '',
}

export function formFromDevice(d: Device): DeviceFormValues {
  const { protocol, ...rest } = d.configuration as Record<string, unknown>
  return {
    name: d.name,
    type: d.type,
    connectionString: d.connectionString,
    protocol: typeof protocol === 'string' ? protocol : '',
    extra: Object.keys(rest).length ? JSON.stringify(rest, null, 2) : '',
  }
}

function bodyFromForm(v: DeviceFormValues): CreateDevice {
  let configuration: Record<string, unknown> = {}
  if (v.extra.trim()) {
    let parsed: unknown
    try {
      parsed = JSON.parse(v.extra)
    } catch (err) {
      throw local('configuration', `is not valid JSON: ${(err as Error).message}`)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw local('configuration', 'must be a JSON object')
    }
    configuration = parsed as Record<string, unknown>
  }
  if (v.protocol) configuration.protocol = v.protocol
  return {
    name: v.name.trim(),
    ...(v.type.trim() && { type: v.type.trim() }),
    connectionString: v.connectionString.trim(),
    configuration,
  }
}

function local(path: string, message: string): Problem {
  return {
    type: 'about:blank',
    title: 'Check the form',
    status: 400,
    detail: `${path} ${message}`,
    errors: [{ path, message }],
  }
}

export function DeviceForm({
  initial,
  submitLabel,
  busy,
  error,
  onSubmit,
  onCancel,
}: {
  initial: DeviceFormValues
  submitLabel: string
  busy: boolean
  error: unknown
  onSubmit(body: CreateDevice): void
  onCancel?(): void
}) {
  const [v, setV] = useState(initial)
  const [localProblem, setLocalProblem] = useState<Problem | null>(null)
  const problem = localProblem ?? (error ? toProblem(error) : null)
  const set = (key: keyof DeviceFormValues) => (e: { target: { value: string } }) =>
    setV({ ...v, [key]: e.target.value })

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

  return (
    <form className="form" onSubmit={submit}>
      <div className="form-row">
        <Field label="Name" problem={problem} path="name">
          <input required value={v.name} onChange={set('name')} />
        </Field>
        <Field label="Type" hint="free text, e.g. printer, cnc, sensor" problem={problem} path="type">
          <input value={v.type} onChange={set('type')} placeholder="generic" />
        </Field>
      </div>
      <Field
        label="Connection string"
        hint="serial:///dev/ttyUSB0?baudRate=115200, /dev/ttyACM0, tcp://host:port, mqtt://host:1883/prefix, sim://marlin, sim://grbl"
        problem={problem}
        path="connectionString"
      >
        <input
          className="mono"
          required
          value={v.connectionString}
          onChange={set('connectionString')}
          placeholder="sim://marlin"
        />
      </Field>
      <p className="field-hint">
        No hardware at hand?{' '}
        <button
          type="button"
          onClick={() =>
            setV({
              ...v,
              name: v.name || 'Demo printer',
              type: v.type || 'printer',
              connectionString: 'sim://marlin',
              protocol: '',
            })
          }
        >
          Use the sim://marlin example
        </button>{' '}
        (a built-in Marlin printer emulator).
      </p>
      <div className="form-row">
        <Field label="Protocol" hint="sim:// devices use their firmware's" problem={problem} path="protocol">
          <select value={v.protocol} onChange={set('protocol')}>
            <option value="">default (line; sim:// its firmware)</option>
            {PROTOCOLS.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Field
        label="Other settings (JSON)"
        hint='e.g. {"baudRate": 250000, "temperatureIntervalMs": 1000}; see docs/DEVICES.md'
        problem={problem}
        path="configuration"
      >
        <textarea className="mono" rows={3} value={v.extra} onChange={set('extra')} />
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
