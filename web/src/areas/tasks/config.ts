// The task form's values and the request body they make. Each action has its
// own fields (docs/SCHEDULER.md, "Actions"); a workflow's steps are JSON, since
// a step is itself any other action with its payload.

import type { Problem } from '../../api/problem.js'
import type { paths } from '../../api/schema.js'

// From the generated schema directly (not api/types.ts), so the server's tests can import this file.
type Task = paths['/api/myntrix/tasks/{id}']['get']['responses'][200]['content']['application/json']

export type ActionType = Task['action']

export interface TaskFormValues {
  name: string
  description: string
  schedule: string
  timezone: string
  action: ActionType
  enabled: boolean
  overlapPolicy: Task['overlapPolicy']
  timeoutMs: string
  maxRetries: string
  agentId: string
  operation: string
  command: string
  shell: boolean
  cwd: string
  url: string
  method: string
  body: string
  expectedStatus: string
  deviceId: string
  deviceMode: 'command' | 'file'
  deviceCommand: string
  fileId: string
  steps: string
}

export function emptyTask(): TaskFormValues {
  return {
    name: '',
    description: '',
    schedule: '0 * * * *',
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
    action: 'api',
    enabled: true,
    overlapPolicy: 'skip',
    timeoutMs: '',
    maxRetries: '',
    agentId: '',
    operation: 'restart',
    command: '',
    shell: true,
    cwd: '',
    url: '',
    method: 'GET',
    body: '',
    expectedStatus: '',
    deviceId: '',
    deviceMode: 'command',
    deviceCommand: '',
    fileId: '',
    steps: '[\n  {"action": "api", "payload": {"url": "http://127.0.0.1:8080/healthz"}}\n]',
  }
}

const str = (v: unknown) => (v === undefined || v === null ? '' : String(v))

export function formFromTask(t: Task): TaskFormValues {
  const p = t.payload as Record<string, unknown>
  const base = emptyTask()
  const command = p.command
  return {
    ...base,
    name: t.name,
    description: t.description ?? '',
    schedule: t.schedule,
    timezone: t.timezone,
    action: t.action,
    enabled: t.enabled,
    overlapPolicy: t.overlapPolicy,
    timeoutMs: str(t.timeoutMs),
    maxRetries: t.maxRetries ? String(t.maxRetries) : '',
    agentId: str(p.agentId),
    operation: str(p.operation) || base.operation,
    command: Array.isArray(command) ? command.join(' ') : str(command),
    shell: t.action === 'script' ? p.shell === true : base.shell,
    cwd: str(p.cwd),
    url: str(p.url),
    method: str(p.method) || 'GET',
    body: typeof p.body === 'string' ? p.body : p.body === undefined ? '' : JSON.stringify(p.body),
    expectedStatus: Array.isArray(p.expectedStatus) ? p.expectedStatus.join(',') : str(p.expectedStatus),
    deviceId: str(p.deviceId),
    deviceMode: p.fileId ? 'file' : 'command',
    deviceCommand: str(p.command),
    fileId: str(p.fileId),
    steps: t.action === 'workflow' ? JSON.stringify(p.steps ?? [], null, 2) : base.steps,
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

function int(value: string, path: string): number | undefined {
  if (value.trim() === '') return undefined
  const n = Number(value)
  if (!Number.isFinite(n)) throw local(path, `must be a number, got "${value}"`)
  return n
}

function payloadFromForm(v: TaskFormValues): Record<string, unknown> {
  switch (v.action) {
    case 'agent':
      return { agentId: v.agentId, operation: v.operation }
    case 'script': {
      // Without the shell the words are the argv: no quoting rules to get wrong.
      const command = v.shell ? v.command : v.command.trim().split(/\s+/).filter(Boolean)
      return { command, ...(v.shell && { shell: true }), ...(v.cwd.trim() && { cwd: v.cwd.trim() }) }
    }
    case 'api': {
      const statuses = v.expectedStatus
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => int(s, 'expectedStatus') as number)
      return {
        url: v.url.trim(),
        method: v.method,
        ...(v.body.trim() && { body: v.body }),
        ...(statuses.length && { expectedStatus: statuses.length === 1 ? statuses[0] : statuses }),
      }
    }
    case 'device':
      return v.deviceMode === 'file'
        ? { deviceId: v.deviceId, fileId: v.fileId }
        : { deviceId: v.deviceId, command: v.deviceCommand }
    default: {
      let steps: unknown
      try {
        steps = JSON.parse(v.steps)
      } catch (err) {
        throw local('steps', `is not valid JSON: ${(err as Error).message}`)
      }
      // workflow
      return { steps }
    }
  }
}

/** The create/update body, or a Problem naming the field that cannot be read. */
export function bodyFromForm(v: TaskFormValues): Record<string, unknown> {
  const timeoutMs = int(v.timeoutMs, 'timeoutMs')
  const maxRetries = int(v.maxRetries, 'maxRetries')
  return {
    name: v.name.trim(),
    description: v.description.trim() || null,
    schedule: v.schedule.trim(),
    timezone: v.timezone.trim() || 'UTC',
    action: v.action,
    payload: payloadFromForm(v),
    enabled: v.enabled,
    overlapPolicy: v.overlapPolicy,
    timeoutMs: timeoutMs ?? null,
    maxRetries: maxRetries ?? 0,
  }
}
