import { Value } from '@sinclair/typebox/value'
import { describe, expect, it } from 'vitest'
import { splitCommand } from '../../../src/modules/agents/command.js'
import {
  AgentConfigurationSchema,
  normalizeAgentConfig,
  validateAgentConfig,
} from '../../../src/modules/agents/config.js'

describe('splitCommand', () => {
  it.each([
    ['node agent.js --port 8080', ['node', 'agent.js', '--port', '8080']],
    ['  python3   -u  run.py  ', ['python3', '-u', 'run.py']],
    [`node -e "console.log('hi there')"`, ['node', '-e', "console.log('hi there')"]],
    [`echo 'single $HOME "quoted"'`, ['echo', 'single $HOME "quoted"']],
    [`echo "a \\"b\\" \\\\ c"`, ['echo', 'a "b" \\ c']],
    ['echo a\\ b', ['echo', 'a b']],
    ['echo "" x', ['echo', '', 'x']],
    ['echo pre"mid"post', ['echo', 'premidpost']],
    ["echo '|'", ['echo', '|']],
    ['echo $HOME *', ['echo', '$HOME', '*']],
  ])('%s', (input, argv) => {
    expect(splitCommand(input)).toEqual(argv)
  })

  it.each([
    ['echo "open', /unterminated double quote/],
    ["echo 'open", /unterminated single quote/],
    ['echo \\', /trailing backslash/],
    ['a | b', /shell operator "\|"/],
    ['a && b', /shell operator "&&"/],
    ['a > out.txt', /shell operator ">"/],
    ['a ; b', /shell operator ";"/],
  ])('rejects %s', (input, message) => {
    expect(() => splitCommand(input)).toThrow(message)
  })
})

describe('validateAgentConfig', () => {
  it('accepts a complete configuration and passes unknown keys through', () => {
    const config = {
      command: ['node', 'agent.js'],
      cwd: 'srv.agent',
      env: { API_URL: 'http://x', _X1: '' },
      restartPolicy: 'always',
      maxRestarts: 3,
      restartWindowMs: 30_000,
      stopTimeoutMs: 0,
      healthCheck: { type: 'http', url: 'http://127.0.0.1:8080/health', intervalMs: 1000, timeoutMs: 500 },
      maxMemoryMb: 256,
      model: 'x',
      nested: { a: 1 },
    }
    expect(validateAgentConfig(config)).toEqual([])
    expect(Value.Check(AgentConfigurationSchema, config)).toBe(true)
  })

  it('accepts an empty configuration (an agent without a command may exist)', () => {
    expect(validateAgentConfig({})).toEqual([])
    expect(validateAgentConfig(undefined)).toEqual([])
  })

  it('accepts a heartbeat check', () => {
    expect(validateAgentConfig({ healthCheck: { type: 'heartbeat', timeoutMs: 5000 } })).toEqual([])
  })

  it.each([
    [{ command: 42 }, 'command', 'command must be an argv array or a string, got 42'],
    [{ command: [] }, 'command', 'command must not be empty'],
    [{ command: '   ' }, 'command ', 'command must not be empty'],
    [{ command: ['node', 1] }, 'command.1', 'argument must be a string, got 1'],
    [{ command: ['', 'x'] }, 'command.0', 'program name must not be empty'],
    [{ command: 'echo "x' }, 'command ', 'command cannot be split: unterminated double quote'],
    [{ cwd: '' }, 'cwd', 'cwd must be a non-empty path, got ""'],
    [{ cwd: 5 }, 'cwd', 'cwd must be a non-empty path, got 5'],
    [{ env: [] }, 'env', 'env must be an object of strings, got an array'],
    [{ env: { A: 1 } }, 'env.A', 'env value must be a string, got 1'],
    [
      { env: { 'BAD-NAME': 'x' } },
      'env.BAD-NAME',
      'env name must match [A-Za-z_][A-Za-z0-9_]*, got "BAD-NAME"',
    ],
    [
      { env: { MYNTRIX_AGENT_ID: 'x' } },
      'env.MYNTRIX_AGENT_ID',
      'MYNTRIX_AGENT_ID is set by Myntrix and cannot be overridden',
    ],
    [
      { restartPolicy: 'sometimes' },
      'restartPolicy',
      'restartPolicy must be one of always, on-failure, never, got "sometimes"',
    ],
    [{ maxRestarts: -1 }, 'maxRestarts', 'maxRestarts must be >= 0, got -1'],
    [{ maxRestarts: 1.5 }, 'maxRestarts', 'maxRestarts must be an integer, got 1.5'],
    [{ maxRestarts: '5' }, 'maxRestarts', 'maxRestarts must be an integer, got "5"'],
    [{ restartWindowMs: 10 }, 'restartWindowMs', 'restartWindowMs must be >= 100, got 10'],
    [{ stopTimeoutMs: -5 }, 'stopTimeoutMs', 'stopTimeoutMs must be >= 0, got -5'],
    [{ stopTimeoutMs: 1e9 }, 'stopTimeoutMs', 'stopTimeoutMs must be <= 600000, got 1000000000'],
    [{ maxMemoryMb: 0 }, 'maxMemoryMb', 'maxMemoryMb must be between 1 and 1048576, got 0'],
    [{ maxMemoryMb: 'big' }, 'maxMemoryMb', 'maxMemoryMb must be a number, got "big"'],
    [{ healthCheck: 'http' }, 'healthCheck', 'healthCheck must be an object, got "http"'],
    [{ healthCheck: { type: 'tcp' } }, 'healthCheck.type', 'type must be "http" or "heartbeat", got "tcp"'],
    [
      { healthCheck: { type: 'http', url: 'ftp://x' } },
      'healthCheck.url',
      'url must be an http(s) URL, got "ftp://x"',
    ],
    [{ healthCheck: { type: 'http' } }, 'healthCheck.url', 'url must be an http(s) URL, got undefined'],
    [
      { healthCheck: { type: 'http', url: 'http://x', intervalMs: 5 } },
      'healthCheck.intervalMs',
      'intervalMs must be >= 100, got 5',
    ],
    [
      { healthCheck: { type: 'heartbeat' } },
      'healthCheck.timeoutMs',
      'timeoutMs is required for a heartbeat check',
    ],
    [
      { healthCheck: { type: 'heartbeat', timeoutMs: 100, url: 'http://x' } },
      'healthCheck.url',
      'unknown healthCheck field "url" for type heartbeat',
    ],
  ])('rejects %j', (config, path, message) => {
    // A trailing space marks the cases stricter than JSON Schema can say (quoting,
    // reserved names, an empty program name): the published schema lets them through.
    const schemaAllows = path.endsWith(' ') || path === 'env.MYNTRIX_AGENT_ID' || path === 'command.0'
    expect(validateAgentConfig(config)).toEqual([{ path: path.trim(), message }])
    expect(Value.Check(AgentConfigurationSchema, config)).toBe(schemaAllows)
  })

  it('rejects a configuration that is not an object', () => {
    expect(validateAgentConfig([1])).toEqual([
      { path: '(configuration)', message: 'configuration must be an object, got an array' },
    ])
    expect(validateAgentConfig('x', 'configuration')).toEqual([
      { path: 'configuration', message: 'configuration must be an object, got "x"' },
    ])
  })

  it('prefixes paths and reports every problem at once', () => {
    expect(validateAgentConfig({ maxRestarts: -1, stopTimeoutMs: 'x' }, 'configuration')).toEqual([
      { path: 'configuration.maxRestarts', message: 'maxRestarts must be >= 0, got -1' },
      { path: 'configuration.stopTimeoutMs', message: 'stopTimeoutMs must be an integer, got "x"' },
    ])
  })
})

describe('normalizeAgentConfig', () => {
  it('applies the defaults and separates the agent’s own keys', () => {
    expect(
      normalizeAgentConfig({
        command: 'node a.js',
        model: 'm',
        healthCheck: { type: 'http', url: 'http://h/' },
      }),
    ).toEqual({
      argv: ['node', 'a.js'],
      cwd: null,
      env: {},
      restartPolicy: 'on-failure',
      maxRestarts: 5,
      restartWindowMs: 60_000,
      stopTimeoutMs: 10_000,
      healthCheck: { type: 'http', url: 'http://h/', intervalMs: 5000, timeoutMs: 2000 },
      maxMemoryMb: null,
      container: null,
      own: { model: 'm' },
    })
  })

  it('has no argv when there is no command', () => {
    expect(normalizeAgentConfig({}).argv).toBeNull()
    expect(normalizeAgentConfig(null).argv).toBeNull()
  })

  it('throws on invalid input', () => {
    expect(() => normalizeAgentConfig({ maxRestarts: -1 })).toThrow(/maxRestarts/)
  })
})
