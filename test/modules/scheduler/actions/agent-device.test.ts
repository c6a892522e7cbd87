// The agent and device actions drive the services passed in. Here those
// services are small real implementations (child processes, a TCP line
// device) so the actions' success, failure and abort paths run for real.

import { type ChildProcess, spawn } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { NotFoundError } from '../../../../src/errors.js'
import {
  ActionCanceled,
  type AgentControl,
  actionErrors,
  type ControlOptions,
  type DeviceControl,
} from '../../../../src/modules/scheduler/actions/index.js'
import { registry, run } from './helpers.js'

class ProcessAgents implements AgentControl {
  readonly calls: string[] = []
  readonly running = new Map<string, ChildProcess>()
  constructor(private readonly commands: Record<string, string[]>) {}

  private spawnAgent(id: string): ChildProcess {
    const [program, ...args] = this.commands[id] ?? []
    if (program === undefined) throw new NotFoundError('agent', id)
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.running.set(id, child)
    child.once('exit', () => this.running.delete(id))
    return child
  }

  async start(id: string, opts: ControlOptions) {
    this.calls.push(`start ${id} as ${opts.actor.ownerId}`)
    this.spawnAgent(id)
  }

  async stop(id: string) {
    this.calls.push(`stop ${id}`)
    const child = this.running.get(id)
    if (!child) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }

  async restart(id: string, opts: ControlOptions) {
    await this.stop(id)
    await this.start(id, opts)
  }

  runToCompletion(id: string, opts: ControlOptions & { onLog?: (line: string) => void }) {
    const child = this.spawnAgent(id)
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      for (const line of s.split('\n')) if (line) opts.onLog?.(line)
    })
    const onAbort = () => child.kill('SIGTERM')
    opts.signal.addEventListener('abort', onAbort, { once: true })
    return new Promise<{ exitCode: number | null; signal: string | null }>((resolve) => {
      child.once('exit', (exitCode, signal) => {
        opts.signal.removeEventListener('abort', onAbort)
        resolve({ exitCode, signal })
      })
    })
  }

  async stopAll() {
    for (const id of [...this.running.keys()]) await this.stop(id)
  }
}

const agents = new ProcessAgents({
  ok: ['node', '-e', 'console.log("working"); console.log("done")'],
  fails: ['node', '-e', 'console.log("oops"); process.exit(2)'],
  forever: ['node', '-e', 'console.log("up"); setInterval(() => {}, 1000)'],
})

afterEach(async () => {
  await agents.stopAll()
})

describe('agent action', () => {
  it('run: succeeds when the agent exits 0, with its output in the log', async () => {
    const r = await run('agent', { agentId: 'ok', operation: 'run' }, { services: { agents } })
    expect(r.ok).toBe(true)
    expect(r.logs).toContain('agent ok: run\nworking\ndone\nagent exited with code 0')
  })

  it('run: fails with the exit code', async () => {
    const r = await run('agent', { agentId: 'fails', operation: 'run' }, { services: { agents } })
    expect(r).toMatchObject({ ok: false, error: 'agent exited with code 2' })
    expect(r.logs).toContain('oops')
  })

  it('run: a cancel stops the agent', async () => {
    const c = new AbortController()
    const r = await run(
      'agent',
      { agentId: 'forever', operation: 'run' },
      {
        services: { agents },
        signal: c.signal,
        onLog: (t) => t.startsWith('up') && c.abort(new ActionCanceled()),
      },
    )
    expect(r).toMatchObject({ ok: false, canceled: true })
    expect(agents.running.has('forever')).toBe(false)
  })

  it('start, restart and stop call the service as the run actor', async () => {
    expect(
      (await run('agent', { agentId: 'forever', operation: 'start' }, { services: { agents } })).ok,
    ).toBe(true)
    const first = agents.running.get('forever')?.pid
    expect(first).toBeDefined()
    expect(
      (await run('agent', { agentId: 'forever', operation: 'restart' }, { services: { agents } })).ok,
    ).toBe(true)
    expect(agents.running.get('forever')?.pid).not.toBe(first)
    expect((await run('agent', { agentId: 'forever', operation: 'stop' }, { services: { agents } })).ok).toBe(
      true,
    )
    expect(agents.running.has('forever')).toBe(false)
    expect(agents.calls).toContain('start forever as null')
  })

  it('fails with the service error for an unknown agent', async () => {
    const r = await run('agent', { agentId: 'ghost', operation: 'start' }, { services: { agents } })
    expect(r).toMatchObject({ ok: false, error: 'agent start failed: agent ghost not found' })
  })

  it('fails clearly when no agent service is wired', async () => {
    const r = await run('agent', { agentId: 'ok', operation: 'run' })
    expect(r).toMatchObject({ ok: false, error: 'agent control is not available in this server' })
  })

  it.each([
    [{}, 'payload.agentId', 'is required'],
    [{ agentId: 'a' }, 'payload.operation', 'is required; one of start, stop, restart, run'],
    [{ agentId: 'a', operation: 'pause' }, 'payload.operation', 'must be one of'],
    [{ agentId: 7, operation: 'run' }, 'payload.agentId', 'must be a non-empty string'],
  ])('rejects %j', (payload, path, message) => {
    const errors = actionErrors(registry, 'agent', payload)
    expect(errors.find((e) => e.path === path)?.message).toContain(message)
  })
})

// A line device on a real TCP socket: answers "ok" to each line, "error:20" to "BAD".
let deviceServer: net.Server
let devicePort: number
const received: string[] = []
const deviceSockets = new Set<net.Socket>()

beforeAll(async () => {
  deviceServer = net.createServer((socket) => {
    deviceSockets.add(socket)
    socket.on('close', () => deviceSockets.delete(socket))
    let buf = ''
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk
      let i = buf.indexOf('\n')
      while (i >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        received.push(line)
        if (line !== 'SILENT') socket.write(line === 'BAD' ? 'error:20\n' : 'ok\n')
        i = buf.indexOf('\n')
      }
    })
  })
  await new Promise<void>((resolve) => deviceServer.listen(0, '127.0.0.1', resolve))
  devicePort = (deviceServer.address() as AddressInfo).port
})

afterAll(async () => {
  for (const s of deviceSockets) s.destroy()
  await new Promise<void>((resolve) => deviceServer.close(() => resolve()))
})

const files: Record<string, string[]> = { 'job.gcode': ['G28', 'G1 X10', 'G1 Y10', 'M84'] }

/** Opens a connection per call; sends lines one at a time and waits for each reply. */
const devices: DeviceControl = {
  async command(deviceId, command, opts) {
    if (deviceId !== 'dev1') throw new NotFoundError('device', deviceId)
    const [reply] = await exchange([command], opts.signal)
    if (reply === undefined) throw new Error(`device sent no reply to ${command}`)
    if (reply.startsWith('error')) throw new Error(`device answered ${reply}`)
    return { reply: [reply] }
  },
  async sendFile(_deviceId, fileId, opts) {
    const lines = files[fileId]
    if (!lines) throw new NotFoundError('file', fileId)
    await exchange(lines, opts.signal, (n) => opts.onProgress?.((n / lines.length) * 100))
    return { linesSent: lines.length }
  },
}

function exchange(lines: string[], signal: AbortSignal, onReply?: (n: number) => void): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(devicePort, '127.0.0.1')
    const replies: string[] = []
    let buf = ''
    const onAbort = () => {
      socket.destroy()
      reject(Object.assign(new Error('aborted'), { canceled: true }))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    socket.on('error', reject)
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk
      let i = buf.indexOf('\n')
      while (i >= 0) {
        replies.push(buf.slice(0, i))
        buf = buf.slice(i + 1)
        onReply?.(replies.length)
        if (replies.length === lines.length) {
          signal.removeEventListener('abort', onAbort)
          socket.end()
          resolve(replies)
          return
        }
        socket.write(`${lines[replies.length]}\n`)
        i = buf.indexOf('\n')
      }
    })
    socket.write(`${lines[0]}\n`)
  })
}

describe('device action', () => {
  it('sends a command and logs the reply', async () => {
    const r = await run('device', { deviceId: 'dev1', command: 'G28' }, { services: { devices } })
    expect(r.ok).toBe(true)
    expect(r.logs).toBe('> G28\n< ok\n')
    expect(received).toContain('G28')
  })

  it('fails when the device answers an error', async () => {
    const r = await run('device', { deviceId: 'dev1', command: 'BAD' }, { services: { devices } })
    expect(r).toMatchObject({ ok: false, error: 'device action failed: device answered error:20' })
  })

  it('streams a stored file with progress', async () => {
    const r = await run('device', { deviceId: 'dev1', fileId: 'job.gcode' }, { services: { devices } })
    expect(r.ok).toBe(true)
    expect(r.logs).toContain('progress 100%')
    expect(r.logs).toContain('file sent (4 lines)')
    expect(received.slice(-4)).toEqual(files['job.gcode'])
  })

  it('a cancel while waiting for the device ends the action as canceled', async () => {
    const c = new AbortController()
    const r = await run(
      'device',
      { deviceId: 'dev1', command: 'SILENT' },
      {
        services: { devices },
        signal: c.signal,
        onLog: (t) => t.startsWith('> SILENT') && setImmediate(() => c.abort(new ActionCanceled())),
      },
    )
    expect(r).toMatchObject({ ok: false, canceled: true })
  })

  it('fails for an unknown device or file, and without a device service', async () => {
    expect(
      (await run('device', { deviceId: 'nope', command: 'G28' }, { services: { devices } })).error,
    ).toContain('device nope not found')
    expect(
      (await run('device', { deviceId: 'dev1', fileId: 'nope' }, { services: { devices } })).error,
    ).toContain('file nope not found')
    expect((await run('device', { deviceId: 'dev1', command: 'G28' })).error).toBe(
      'device control is not available in this server',
    )
  })

  it.each([
    [{ command: 'G28' }, 'payload.deviceId', 'is required'],
    [{ deviceId: 'd' }, 'payload.command', 'is required (or fileId'],
    [{ deviceId: 'd', command: 'G28', fileId: 'f' }, 'payload.fileId', 'not both'],
    [{ deviceId: 'd', command: 'G28\nM84' }, 'payload.command', 'must be one line'],
    [{ deviceId: 'd', command: '' }, 'payload.command', 'must be a non-empty string'],
  ])('rejects %j', (payload, path, message) => {
    const errors = actionErrors(registry, 'device', payload)
    expect(errors.find((e) => e.path === path)?.message).toContain(message)
  })
})
