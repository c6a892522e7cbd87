// The console's agent form and the server agree: a command shown as one line
// (joinCommand) splits back into the same argv on the server (splitCommand),
// and a configuration survives a round trip through the form, the agent's own
// keys included.

import { describe, expect, it } from 'vitest'
import { splitCommand } from '../../src/modules/agents/command.js'
import {
  configurationFromForm,
  EMPTY_FORM,
  formFromAgent,
  joinCommand,
} from '../../web/src/areas/agents/config.js'

describe('agent form', () => {
  it.each([
    [['node', 'worker.js', '--verbose']],
    [['python3', '-c', 'print("hello world")']],
    [['sh', '-c', "echo 'quoted' && sleep 1"]],
    [['bin/run', 'a b', '', "it's", '$HOME', 'back\\slash']],
  ])('shows %j as a line the server splits back the same', (argv) => {
    expect(splitCommand(joinCommand(argv))).toEqual(argv)
  })

  it('keeps every supervisor key and the agent’s own keys through the form', () => {
    const configuration = {
      command: ['node', 'agent.js'],
      cwd: '/srv/agent',
      env: { MODEL: 'small', RETRIES: '3' },
      restartPolicy: 'always',
      maxRestarts: 7,
      stopTimeoutMs: 2000,
      healthCheck: { type: 'http', url: 'http://127.0.0.1:9000/health', intervalMs: 5000, timeoutMs: 1000 },
      maxMemoryMb: 256,
      model: { name: 'tiny', temperature: 0.2 },
    }
    const body = configurationFromForm(formFromAgent({ name: 'a', type: 'llm', configuration }))
    expect(body.name).toBe('a')
    expect(body.type).toBe('llm')
    expect({ ...body.configuration, command: splitCommand(body.configuration.command as string) }).toEqual(
      configuration,
    )
  })

  it('keeps a container runtime through the form: argv, working dir, limits, mounts, runtime env', () => {
    const runtime = {
      type: 'docker',
      image: 'myorg/worker:1.4',
      command: ['sh', '-c', 'echo "a b"; sleep 1'],
      workingDir: '/work',
      mounts: [
        { source: '/srv/in', target: '/in', readOnly: true },
        { source: '/srv/out', target: '/out', readOnly: false },
      ],
      network: 'host',
      cpus: 0.5,
      memoryMb: 64,
      user: '1000:1000',
      env: { LEVEL: 'info' },
    }
    const configuration = { runtime, restartPolicy: 'always', env: { A: '1' } }
    const form = formFromAgent({ name: 'box', type: 'generic', configuration })
    expect(form).toMatchObject({ runtime: 'docker', cwd: '/work', command: '' })
    expect(configurationFromForm(form).configuration).toEqual(configuration)
    // Back to a process: no runtime key is left behind.
    const local = configurationFromForm({ ...form, runtime: 'process', command: 'node a.js', cwd: '' })
    expect(local.configuration).toEqual({ command: 'node a.js', restartPolicy: 'always', env: { A: '1' } })
  })

  it('names the field it cannot read', () => {
    expect(() =>
      configurationFromForm({ ...EMPTY_FORM, name: 'a', runtime: 'docker', image: 'x', mounts: '/only-one' }),
    ).toThrow(
      expect.objectContaining({
        errors: [expect.objectContaining({ path: 'configuration.runtime.mounts' })],
      }),
    )
    expect(() => configurationFromForm({ ...EMPTY_FORM, name: 'a', env: 'NOEQUALS' })).toThrow(
      expect.objectContaining({ errors: [expect.objectContaining({ path: 'env' })] }),
    )
    expect(() => configurationFromForm({ ...EMPTY_FORM, name: 'a', extra: '[1]' })).toThrow(
      expect.objectContaining({ errors: [{ path: 'extra', message: 'must be a JSON object' }] }),
    )
  })
})
