// Where an agent runs: the container's image, command and limits when it is a Docker
// agent. Host mounts and the host network are shown to admins only: the server
// refuses them from anyone else (each opens the container onto the host).

import type { Problem } from '../../api/problem'
import { Field } from '../../ui/Field'
import type { AgentFormValues } from './config'

type Setter = <K extends keyof AgentFormValues>(key: K) => (e: { target: { value: string } }) => void

/** Paths of the fields below, for the form's ProblemView. */
export const RUNTIME_CLAIMED = [
  'runtime.type',
  'runtime.image',
  'runtime.command',
  'runtime.workingDir',
  'configuration.runtime.mounts',
  'runtime.network',
  'runtime.cpus',
  'runtime.memoryMb',
  'runtime.user',
]

export function RuntimeKindField({
  v,
  set,
  problem,
}: {
  v: AgentFormValues
  set: Setter
  problem: Problem | null
}) {
  return (
    <Field label="Runs as" problem={problem} path="runtime.type">
      <select value={v.runtime} onChange={set('runtime')}>
        <option value="process">a local process</option>
        <option value="docker">a Docker container</option>
      </select>
    </Field>
  )
}

export function ContainerFields({
  v,
  set,
  problem,
  isAdmin,
  showAdminFields,
}: {
  v: AgentFormValues
  set: Setter
  problem: Problem | null
  isAdmin: boolean
  /** For admins; and for anyone whose agent already has them, so they can be taken out. */
  showAdminFields: boolean
}) {
  const at = (path: string) => ({ problem, path })
  return (
    <fieldset>
      <legend>Container</legend>
      <Field
        label="Image"
        hint="already on the Docker engine (Myntrix does not pull)"
        {...at('runtime.image')}
      >
        <input
          className="mono"
          required
          value={v.image}
          onChange={set('image')}
          placeholder="myorg/worker:1.4"
        />
      </Field>
      <Field
        label="Container command"
        hint="one argument a line, run without a shell; empty: the image's own command"
        {...at('runtime.command')}
      >
        <textarea className="mono" rows={3} value={v.containerCommand} onChange={set('containerCommand')} />
      </Field>
      <div className="form-row">
        <Field label="CPUs" hint="e.g. 0.5" {...at('runtime.cpus')}>
          <input type="number" min={0} step="any" value={v.cpus} onChange={set('cpus')} />
        </Field>
        <Field
          label="Container memory (MB)"
          hint="enforced by the engine; at least 6"
          {...at('runtime.memoryMb')}
        >
          <input type="number" min={6} value={v.memoryLimitMb} onChange={set('memoryLimitMb')} />
        </Field>
        <Field
          label="User"
          hint={isAdmin ? 'user[:group]; default nobody' : 'user[:group], not root; default nobody'}
          {...at('runtime.user')}
        >
          <input className="mono" value={v.user} onChange={set('user')} placeholder="65534:65534" />
        </Field>
      </div>
      {showAdminFields && (
        <div className="form-row">
          <Field label="Network" {...at('runtime.network')}>
            <select value={v.network} onChange={set('network')}>
              <option value="none">none</option>
              <option value="host">the host's network</option>
            </select>
          </Field>
          <Field
            label="Host mounts"
            hint="/host/path:/container/path, read-only unless :rw; one a line"
            {...at('configuration.runtime.mounts')}
          >
            <textarea className="mono" rows={2} value={v.mounts} onChange={set('mounts')} />
          </Field>
        </div>
      )}
    </fieldset>
  )
}
