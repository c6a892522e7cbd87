// The form's "Runs in" part <-> `configuration.runtime`: a local process, or a Docker
// container with its image, command (one argument a line: the engine takes an argv,
// and no shell splits it), limits and, for admins, host mounts and the host network.
// Runtime keys the form has no field for (runtime.env) are kept as they were.

import type { Problem } from '../../api/problem.js'

export interface RuntimeFormValues {
  runtime: 'process' | 'docker'
  image: string
  /** One argument a line; empty means the image's own command. */
  containerCommand: string
  /** source:target, or source:target:rw for a writable one; one a line (admins). */
  mounts: string
  network: 'none' | 'host'
  cpus: string
  memoryLimitMb: string
  user: string
  /** Runtime keys without a field here, sent back untouched. */
  runtimeKept: Record<string, unknown>
}

export const EMPTY_RUNTIME: RuntimeFormValues = {
  runtime: 'process',
  image: '',
  containerCommand: '',
  mounts: '',
  network: 'none',
  cpus: '',
  memoryLimitMb: '',
  user: '',
  runtimeKept: {},
}

const FORM_KEYS = ['type', 'image', 'command', 'workingDir', 'mounts', 'network', 'cpus', 'memoryMb', 'user']

const str = (v: unknown) => (v === undefined || v === null ? '' : String(v))

/** The runtime part of the form, and the working directory it holds (for `cwd`). */
export function runtimeFormFrom(runtime: unknown): { values: RuntimeFormValues; workingDir: string | null } {
  if (typeof runtime !== 'object' || runtime === null) return { values: EMPTY_RUNTIME, workingDir: null }
  const r = runtime as Record<string, unknown>
  const mounts = Array.isArray(r.mounts) ? (r.mounts as Record<string, unknown>[]) : []
  return {
    workingDir: str(r.workingDir),
    values: {
      runtime: 'docker',
      image: str(r.image),
      containerCommand: Array.isArray(r.command) ? r.command.map(String).join('\n') : '',
      mounts: mounts
        .map((m) => `${str(m.source)}:${str(m.target)}${m.readOnly === false ? ':rw' : ''}`)
        .join('\n'),
      network: r.network === 'host' ? 'host' : 'none',
      cpus: str(r.cpus),
      memoryLimitMb: str(r.memoryMb),
      user: str(r.user),
      runtimeKept: Object.fromEntries(Object.entries(r).filter(([k]) => !FORM_KEYS.includes(k))),
    },
  }
}

type Local = (path: string, message: string) => Problem
type Num = (value: string, path: string) => number | undefined

/** `configuration.runtime` from the form, or undefined for a local process. */
export function runtimeFromForm(
  v: RuntimeFormValues,
  workingDir: string,
  local: Local,
  num: Num,
): Record<string, unknown> | undefined {
  if (v.runtime === 'process') return undefined
  const mounts = v.mounts
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line, i) => {
      const [source, target, mode, ...rest] = line.split(':')
      if (!source || !target || rest.length > 0 || (mode !== undefined && mode !== 'rw' && mode !== 'ro')) {
        throw local(
          'configuration.runtime.mounts',
          `line ${i + 1} must be /host/path:/container/path[:rw], got "${line}"`,
        )
      }
      return { source, target, readOnly: mode !== 'rw' }
    })
  const command = v.containerCommand.split('\n').filter((a) => a.trim() !== '')
  const out: Record<string, unknown> = { ...v.runtimeKept, type: 'docker', image: v.image.trim() }
  if (command.length > 0) out.command = command
  if (workingDir.trim()) out.workingDir = workingDir.trim()
  if (mounts.length > 0) out.mounts = mounts
  if (v.network === 'host') out.network = 'host'
  const cpus = num(v.cpus, 'runtime.cpus')
  if (cpus !== undefined) out.cpus = cpus
  const memoryMb = num(v.memoryLimitMb, 'runtime.memoryMb')
  if (memoryMb !== undefined) out.memoryMb = memoryMb
  if (v.user.trim()) out.user = v.user.trim()
  return out
}
