// Every process runtime passes this suite: spawn, output lines, exit, stop with
// escalation, spawn errors with flags, usage of the whole tree.
import { afterEach, describe, expect, it } from 'vitest'
import { ProcessRuntime } from '../../../src/modules/agents/runtimes/process.js'
import {
  type AgentRuntime,
  type RuntimeProcess,
  RuntimeSpawnError,
} from '../../../src/modules/agents/runtimes/types.js'
import { FIXTURES, isAlive, node } from './helpers.js'

// Every runtime the server can use: a new runtime adds its entry here, and so runs this suite.
const runtimes: Record<string, () => AgentRuntime> = {
  process: () => new ProcessRuntime(),
}

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' }

describe.each(Object.entries(runtimes))('runtime %s', (_name, make) => {
  const started: RuntimeProcess[] = []
  afterEach(async () => {
    await Promise.all(started.map((p) => p.stop(100)))
    started.length = 0
  })

  async function run(argv: string[]): Promise<RuntimeProcess> {
    const p = await make().spawn({ argv, cwd: FIXTURES, env })
    started.push(p)
    return p
  }

  function nextLine(p: RuntimeProcess, match: (line: string) => boolean): Promise<string> {
    return new Promise((resolve) => p.onLine((_s, line) => match(line) && resolve(line)))
  }

  it('spawns, reports identity, streams lines and the exit', async () => {
    const p = await run(node('crashes-after-ms.mjs', 10, 7))
    const line = nextLine(p, (l) => l.startsWith('started'))
    expect(p.identity.pid).toBeGreaterThan(0)
    expect(p.identity.startTicks).toEqual(expect.any(Number))
    expect(await line).toBe(`started ${p.identity.pid}`)
    const exit = await p.exited
    expect(exit).toMatchObject({ code: 7, signal: null })
    expect(exit.at).toBeInstanceOf(Date)
  })

  it('stop ends the process with SIGTERM; a second stop returns the same result', async () => {
    const p = await run(node('prints-lines.mjs'))
    await nextLine(p, (l) => l === 'ready')
    const a = p.stop(1000)
    const b = p.stop(1000)
    expect(await a).toBe(await b)
    expect((await a).killed).toBe(false)
    expect((await a).exit.signal).toBe('SIGTERM')
  })

  it('stop escalates to SIGKILL and takes the group with it', async () => {
    const p = await run(node('spawns-grandchild.mjs'))
    const grandchild = Number((await nextLine(p, (l) => l.startsWith('grandchild '))).split(' ')[1])
    const result = await p.stop(100)
    expect(result.killed).toBe(true)
    expect(isAlive(p.identity.pid)).toBe(false)
    expect(isAlive(grandchild)).toBe(false)
  })

  it('measures the whole tree', async () => {
    const rt = make()
    const p = await rt.spawn({ argv: node('spawns-grandchild.mjs'), cwd: FIXTURES, env })
    started.push(p)
    await nextLine(p, (l) => l.startsWith('grandchild '))
    const u = rt.usage([p]).get(p)!
    expect(u.processCount).toBe(2)
    expect(u.memoryBytes).toBeGreaterThan(2 * 1024 * 1024)
    expect(u.cpuTimeMs).toBeGreaterThan(0)
    expect(rt.usage([]).size).toBe(0)
  })

  it('rejects a missing program with notFound', async () => {
    const err = await make()
      .spawn({ argv: ['/no/such/program'], cwd: FIXTURES, env })
      .catch((e) => e)
    expect(err).toBeInstanceOf(RuntimeSpawnError)
    expect(err.notFound).toBe(true)
    expect(err.cause).toBeInstanceOf(Error)
  })

  it('rejects a program it may not execute with denied', async () => {
    const err = await make()
      .spawn({ argv: [`${FIXTURES}/prints-lines.mjs`], cwd: FIXTURES, env })
      .catch((e) => e)
    expect(err).toBeInstanceOf(RuntimeSpawnError)
    expect(err.denied).toBe(true)
  })

  it('rejects a missing cwd', async () => {
    const err = await make()
      .spawn({ argv: node('prints-lines.mjs'), cwd: '/no/such/dir', env })
      .catch((e) => e)
    expect(err).toBeInstanceOf(RuntimeSpawnError)
    expect(err.message).toMatch(/cwd/)
  })
})
