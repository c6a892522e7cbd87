// Every agent runtime passes the same lifecycle suite (start, output lines live, exit
// code, stop with SIGTERM, escalation to SIGKILL within the timeout, usage sampled, a
// missing program), each with programs it can run: node fixtures for local processes,
// busybox shell lines in the test image for Docker. Then what only one runtime has:
// process groups on the host; OOM kills, images, adoption by label for containers.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import { DockerRuntime } from '../../../src/modules/agents/runtimes/docker.js'
import { ProcessRuntime } from '../../../src/modules/agents/runtimes/process.js'
import {
  type AgentRuntime,
  type RuntimeProcess,
  RuntimeSpawnError,
  type RuntimeSpec,
} from '../../../src/modules/agents/runtimes/types.js'
import { DOCKER_HOST, docker, removeNodeContainers, testImage, whyNoDocker } from '../../helpers/docker.js'
import { FIXTURES, isAlive, node } from './helpers.js'

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' }

const noDocker = await whyNoDocker()
if (noDocker) console.warn(`Docker runtime tests skipped: ${noDocker}`)
/** This file's own node name: adoption and cleanup never reach another run's containers. */
const testNode = `test-${process.pid}-${Date.now().toString(36)}`
afterAll(async () => {
  if (!noDocker) await removeNodeContainers(testNode)
})

/** The programs each runtime runs for the shared cases. */
interface Subject {
  name: string
  skip: string | null
  make(): AgentRuntime
  spec(argv: string[]): Promise<RuntimeSpec>
  /** Prints a line starting with "started", exits with code 7 soon after. */
  exits7: string[]
  /** Prints "line 1".."line 3", "to stderr" on stderr, "ready"; runs until signalled. */
  printsLines: string[]
  /** Prints "ready" and ignores SIGTERM. */
  ignoresTerm: string[]
  /** Used some CPU, prints "ready", stays up. */
  busy: string[]
  missing: string[]
}

const subjects: Subject[] = [
  {
    name: 'process',
    skip: null,
    make: () => new ProcessRuntime(),
    spec: async (argv) => ({ argv, cwd: FIXTURES, env }),
    exits7: node('crashes-after-ms.mjs', 10, 7),
    printsLines: node('prints-lines.mjs'),
    ignoresTerm: node('ignores-sigterm.mjs'),
    busy: node('spawns-grandchild.mjs'),
    missing: ['/no/such/program'],
  },
  {
    name: 'docker',
    skip: noDocker,
    make: () => new DockerRuntime({ host: DOCKER_HOST, node: testNode }),
    spec: async (argv) => ({
      argv,
      cwd: '/',
      env: { PATH: '/bin' },
      agentId: 'conformance',
      container: { image: await testImage(), network: 'none', mounts: [] },
    }),
    // Long enough to read its host pid's start time before it ends.
    exits7: ['sh', '-c', 'echo started; sleep 0.5; exit 7'],
    printsLines: [
      'sh',
      '-c',
      'echo line 1; echo line 2; echo line 3; echo to stderr >&2; echo ready; while true; do sleep 1; done',
    ],
    ignoresTerm: ['sh', '-c', "trap '' TERM; echo ready; while true; do sleep 1; done"],
    busy: ['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo ready; sleep 600'],
    missing: ['/no/such/program'],
  },
]

function nextLine(p: RuntimeProcess, match: (line: string) => boolean): Promise<string> {
  return new Promise((resolve) => p.onLine((_s, line) => match(line) && resolve(line)))
}

describe.each(subjects)('runtime $name', (subject) => {
  const started: RuntimeProcess[] = []
  afterEach(async () => {
    await Promise.all(started.map((p) => p.stop(100)))
    started.length = 0
  })

  async function run(argv: string[], rt = subject.make()): Promise<RuntimeProcess> {
    const p = await rt.spawn(await subject.spec(argv))
    started.push(p)
    return p
  }

  describe.skipIf(subject.skip)('lifecycle', () => {
    it('starts, reports identity, streams lines and the exit code', async () => {
      const p = await run(subject.exits7)
      const line = nextLine(p, (l) => l.startsWith('started'))
      expect(p.identity.pid).toBeGreaterThan(0)
      expect(p.identity.startTicks).toEqual(expect.any(Number))
      expect(await line).toMatch(/^started/)
      const exit = await p.exited
      expect(exit).toMatchObject({ code: 7, signal: null })
      expect(exit.at).toBeInstanceOf(Date)
    })

    it('streams stdout and stderr as lines while it runs', async () => {
      const p = await run(subject.printsLines)
      const seen: [string, string][] = []
      p.onLine((stream, line) => seen.push([stream, line]))
      // stdout and stderr are two pipes: neither waits for the other.
      await Promise.all([nextLine(p, (l) => l === 'ready'), nextLine(p, (l) => l === 'to stderr')])
      expect(seen.filter(([s]) => s === 'stdout').map(([, l]) => l)).toEqual([
        'line 1',
        'line 2',
        'line 3',
        'ready',
      ])
      expect(seen).toContainEqual(['stderr', 'to stderr'])
    })

    it('stop ends it with SIGTERM; a second stop returns the same result', async () => {
      const p = await run(subject.printsLines)
      await nextLine(p, (l) => l === 'ready')
      const a = p.stop(5000)
      const b = p.stop(5000)
      expect(await a).toBe(await b)
      expect((await a).killed).toBe(false)
      expect((await a).exit.signal).toBe('SIGTERM')
    })

    it('stop escalates to SIGKILL when SIGTERM is ignored', async () => {
      const p = await run(subject.ignoresTerm)
      await nextLine(p, (l) => l === 'ready')
      const result = await p.stop(300)
      expect(result.killed).toBe(true)
      expect(result.exit.signal).toBe('SIGKILL')
    })

    it('samples CPU time, memory and processes', async () => {
      const rt = subject.make()
      const p = await run(subject.busy, rt)
      await nextLine(p, (l) => l === 'ready' || l.startsWith('grandchild '))
      const u = await vi.waitFor(
        () => {
          const sample = rt.usage([p]).get(p)
          if (!sample) throw new Error('no sample yet')
          return sample
        },
        { timeout: 10_000, interval: 100 },
      )
      expect(u.processCount).toBeGreaterThanOrEqual(2)
      expect(u.memoryBytes).toBeGreaterThan(0)
      expect(u.cpuTimeMs).toBeGreaterThan(0)
      expect(rt.usage([]).size).toBe(0)
    })

    it('rejects a missing program with notFound', async () => {
      const err = await subject
        .make()
        .spawn(await subject.spec(subject.missing))
        .catch((e) => e)
      expect(err).toBeInstanceOf(RuntimeSpawnError)
      expect(err.notFound).toBe(true)
      expect(err.cause).toBeInstanceOf(Error)
    })
  })
})

describe('runtime process only', () => {
  const started: RuntimeProcess[] = []
  afterEach(async () => {
    await Promise.all(started.map((p) => p.stop(100)))
    started.length = 0
  })
  const make = () => new ProcessRuntime()

  it('names its own pid in the first line', async () => {
    const p = await make().spawn({ argv: node('crashes-after-ms.mjs', 10, 7), cwd: FIXTURES, env })
    started.push(p)
    expect(await nextLine(p, (l) => l.startsWith('started'))).toBe(`started ${p.identity.pid}`)
  })

  it('stop escalates to SIGKILL and takes the group with it', async () => {
    const p = await make().spawn({ argv: node('spawns-grandchild.mjs'), cwd: FIXTURES, env })
    started.push(p)
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

describe.skipIf(noDocker)('runtime docker only', () => {
  const started: RuntimeProcess[] = []
  afterEach(async () => {
    await Promise.all(started.map((p) => p.stop(100)))
    started.length = 0
  })
  const make = (nodeName = testNode) => new DockerRuntime({ host: DOCKER_HOST, node: nodeName })

  type More = Partial<NonNullable<RuntimeSpec['container']>> & { env?: Record<string, string> }
  async function spec(argv: string[], { env = { PATH: '/bin' }, ...more }: More = {}): Promise<RuntimeSpec> {
    return {
      argv,
      cwd: '/',
      env,
      agentId: 'docker-only',
      container: { image: await testImage(), network: 'none', mounts: [], ...more },
    }
  }

  async function run(argv: string[], more: More = {}, rt = make()) {
    const p = await rt.spawn(await spec(argv, more))
    started.push(p)
    return p
  }

  async function containerGone(id: string): Promise<boolean> {
    return docker
      .getContainer(id)
      .inspect()
      .then(
        () => false,
        (err) => err.statusCode === 404,
      )
  }

  it('reports a kill at the memory limit as an OOM kill', async () => {
    const p = await run(['sh', '-c', 'echo ready; x=a; while true; do x="$x$x"; done'], { memoryMb: 8 })
    const exit = await p.exited
    expect(exit.oomKilled).toBe(true)
    expect(exit.signal).toBe('SIGKILL')
  })

  it('removes the container once it has ended', async () => {
    const p = await run(['sh', '-c', 'exit 3'])
    expect((await p.exited).code).toBe(3)
    expect(await containerGone(p.containerId!)).toBe(true)
  })

  it('rejects a missing image with notFound, naming the image', async () => {
    const err = await make()
      .spawn(await spec(['true'], { image: 'myntrix-test-no-such-image:0' }))
      .catch((e) => e)
    expect(err).toBeInstanceOf(RuntimeSpawnError)
    expect(err.notFound).toBe(true)
    expect(err.message).toContain('myntrix-test-no-such-image:0')
  })

  it('reports the engine reachable with its version', async () => {
    expect(await make().status()).toMatchObject({ reachable: true, version: expect.stringMatching(/^\d+\./) })
  })

  it('says the engine is unavailable when its socket is missing', async () => {
    const rt = new DockerRuntime({ host: 'unix:///no/such/docker.sock', node: testNode })
    expect(await rt.status()).toEqual({
      reachable: false,
      reason: expect.stringContaining('/no/such/docker.sock'),
    })
    const err = await rt.spawn(await spec(['true'])).catch((e) => e)
    expect(err).toBeInstanceOf(RuntimeSpawnError)
    expect(err.unavailable).toBe(true)
    expect(err.message).toContain('/no/such/docker.sock')
  })

  it('gives the container only the env it is handed, its working dir, user, read-only mounts, no network', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'myntrix-mount-'))
    chmodSync(shared, 0o755)
    writeFileSync(join(shared, 'hello'), 'hello from the host\n')
    onTestFinished(() => rmSync(shared, { recursive: true, force: true }))
    const p = await run(
      ['sh', '-c', 'env; pwd; id -u; cat /m/hello; echo x > /m/new || echo refused; ls /sys/class/net'],
      {
        workingDir: '/tmp',
        user: '65534',
        mounts: [{ source: shared, target: '/m', readOnly: true }],
        env: { PATH: '/bin', GIVEN: 'yes' },
      },
    )
    const lines: string[] = []
    p.onLine((_s, l) => lines.push(l))
    await p.exited
    expect(lines).toContain('GIVEN=yes')
    // Set by the engine (HOSTNAME, HOME) or the shell itself (PWD, SHLVL): nothing of the server's.
    const names = lines.filter((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l)).map((l) => l.split('=')[0])
    expect(names.sort()).toEqual(['GIVEN', 'HOME', 'HOSTNAME', 'PATH', 'PWD', 'SHLVL'])
    expect(lines).toContain('/tmp')
    expect(lines).toContain('65534')
    expect(lines).toContain('hello from the host')
    expect(lines).toContain('refused')
    expect(existsSync(join(shared, 'new'))).toBe(false)
    expect(lines.filter((l) => /^(lo|eth\d|ens\w+)$/.test(l))).toEqual(['lo'])
  })

  it('adopts by label what an earlier runtime of the same node left running, and only that', async () => {
    const first = await make().spawn(await spec(['sh', '-c', 'while true; do echo tick; sleep 0.2; done']))
    await nextLine(first, (l) => l === 'tick')
    const other = await make(`${testNode}-other`).adopt()
    expect(other).toEqual([])
    const adopted = await make().adopt()
    expect(adopted).toHaveLength(1)
    expect(adopted[0]).toMatchObject({ agentId: 'docker-only', running: true })
    const [only] = adopted
    if (only === undefined) throw new Error('nothing was adopted')
    const p = only.process
    started.push(p)
    expect(p.containerId).toBe(first.containerId)
    expect(p.identity.pid).toBe(first.identity.pid)
    await nextLine(p, (l) => l === 'tick')
    await p.stop(1000)
    expect(await containerGone(first.containerId!)).toBe(true)
  })

  it('sees a container removed behind its back as exited', async () => {
    const p = await run(['sh', '-c', 'echo ready; while true; do sleep 1; done'])
    await nextLine(p, (l) => l === 'ready')
    await docker.getContainer(p.containerId!).remove({ force: true })
    const exit = await p.exited
    expect(exit.reason).toMatch(/removed outside Myntrix/)
  })
})
