// The console's task form and the scheduler agree: for every action the body
// the form makes passes the scheduler's own payload validation, and a task
// read back into the form gives the same payload again.

import { describe, expect, it } from 'vitest'
import { actionErrors, createActionRegistry } from '../../src/modules/scheduler/actions/index.js'
import {
  bodyFromForm,
  emptyTask,
  formFromTask,
  type TaskFormValues,
} from '../../web/src/areas/tasks/config.js'

const registry = createActionRegistry()
const base = { ...emptyTask(), name: 'a task', timezone: 'UTC' }

const CASES: [string, Partial<TaskFormValues>][] = [
  ['agent', { action: 'agent', agentId: 'agent-1', operation: 'run' }],
  ['script through the shell', { action: 'script', command: 'echo "a b" && date', shell: true, cwd: '/tmp' }],
  ['script as an argv', { action: 'script', command: 'ls -l /tmp', shell: false }],
  [
    'api',
    {
      action: 'api',
      url: 'https://example.com/hook',
      method: 'POST',
      body: '{"a":1}',
      expectedStatus: '200, 204',
    },
  ],
  [
    'device command',
    { action: 'device', deviceId: 'device-1', deviceMode: 'command', deviceCommand: 'M105' },
  ],
  ['device file', { action: 'device', deviceId: 'device-1', deviceMode: 'file', fileId: 'file-1' }],
  ['workflow', { action: 'workflow', steps: '[{"action":"api","payload":{"url":"http://127.0.0.1/x"}}]' }],
]

describe('task form', () => {
  it.each(CASES)('makes a %s payload the scheduler accepts', (_name, values) => {
    const body = bodyFromForm({ ...base, ...values })
    expect(actionErrors(registry, body.action, body.payload)).toEqual([])
  })

  it.each(CASES)('reads a %s task back into the same payload', (_name, values) => {
    const body = bodyFromForm({ ...base, ...values })
    const task = { ...body, id: 't', enabled: true, timeoutMs: null, maxRetries: 0 } as unknown as Parameters<
      typeof formFromTask
    >[0]
    expect(bodyFromForm(formFromTask(task)).payload).toEqual(body.payload)
  })

  it('names the field it cannot read', () => {
    expect(() => bodyFromForm({ ...base, action: 'workflow', steps: '[' })).toThrow(
      expect.objectContaining({ errors: [expect.objectContaining({ path: 'steps' })] }),
    )
    expect(() => bodyFromForm({ ...base, timeoutMs: 'soon' })).toThrow(
      expect.objectContaining({ errors: [expect.objectContaining({ path: 'timeoutMs' })] }),
    )
  })
})
