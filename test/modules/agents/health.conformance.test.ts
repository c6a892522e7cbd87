// Health checks are the supervisor's, whatever runs the agent: the same cases (heartbeat
// beating then late, never beating; HTTP check passing and failing) over a supervisor
// with local processes and one with Docker containers (the real engine). A container
// serves HTTP with busybox httpd on the host network, as an admin's agent may.
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { SupervisorEvent } from '../../../src/modules/agents/agent-entry.js'
import { RuntimeChoice } from '../../../src/modules/agents/runtimes/choice.js'
import { DockerRuntime } from '../../../src/modules/agents/runtimes/docker.js'
import { ProcessRuntime } from '../../../src/modules/agents/runtimes/process.js'
import { DOCKER_HOST, removeNodeContainers, testImage, whyNoDocker } from '../../helpers/docker.js'
import { freePort } from '../../helpers/ports.js'
import { type Harness, harness, node } from './helpers.js'

type HealthEvent = Extract<SupervisorEvent, { type: 'health' }>

const noDocker = await whyNoDocker()
if (noDocker) console.warn(`Docker health tests skipped: ${noDocker}`)
const testNode = `test-health-${process.pid}-${Date.now().toString(36)}`
afterAll(async () => {
  if (!noDocker) await removeNodeContainers(testNode)
})

interface Subject {
  name: string
  skip: string | null
  /** Beats every 50 ms `beats` times (forever when absent), then stays up without beating. */
  heartbeat(beats?: number): Promise<Record<string, unknown>>
  /** Prints lines, never beats, stays up. */
  silent(): Promise<Record<string, unknown>>
  /** Serves 200 at /health and an error at /fail on 127.0.0.1:port; prints "listening". */
  httpServer(port: number): Promise<Record<string, unknown>>
}

const shell = async (script: string, more: Record<string, unknown> = {}) => ({
  runtime: { type: 'docker', image: await testImage(), command: ['sh', '-c', script], ...more },
})

const subjects: Subject[] = [
  {
    name: 'process',
    skip: null,
    heartbeat: async (beats) => ({ command: node('heartbeat.mjs', 50, ...(beats ? [beats] : [])) }),
    silent: async () => ({ command: node('prints-lines.mjs') }),
    httpServer: async (port) => ({ command: node('http-health-server.mjs'), env: { PORT: String(port) } }),
  },
  {
    name: 'docker',
    skip: noDocker,
    heartbeat: (beats) =>
      shell(
        `i=0; echo ready; while [ $i -lt ${beats ?? 1_000_000} ]; do echo '{"myntrix":"heartbeat"}'; ` +
          'i=$((i+1)); sleep 0.05; done; echo heartbeats stopped; while true; do sleep 1; done',
      ),
    silent: () => shell('echo ready; while true; do sleep 1; done'),
    // /dev/shm: the engine's tmpfs, writable by nobody. busybox httpd answers 404 for /fail.
    httpServer: (port) =>
      shell(
        `echo ok > /dev/shm/health; echo listening; exec /bin/busybox httpd -f -p 127.0.0.1:${port} -h /dev/shm`,
        { network: 'host' },
      ),
  },
]

describe.each(subjects)('health checks of a $name agent', (subject) => {
  let h: Harness
  afterEach(async () => {
    await h?.close()
  })

  function start(id: string, config: Record<string, unknown>): Promise<unknown> {
    h = harness({
      runtime: new RuntimeChoice(
        new ProcessRuntime(),
        new DockerRuntime({ host: DOCKER_HOST, node: testNode }),
      ),
    })
    return h.supervisor.start(id, { stopTimeoutMs: 500, ...config })
  }

  it.skipIf(subject.skip)('heartbeats keep health full; once they stop it falls to 60', async () => {
    await start('a1', { ...(await subject.heartbeat(8)), healthCheck: { type: 'heartbeat', timeoutMs: 400 } })
    await h.waitFor((e) => e.type === 'health' && e.facts.healthDetails.check.detail.startsWith('heartbeat '))
    expect(h.supervisor.status('a1').health).toBe(100)
    const low = (await h.waitFor(
      (e) => e.type === 'health' && e.facts.healthDetails.check.score === 0,
    )) as HealthEvent
    expect(low.facts.health).toBe(60)
    expect(low.facts.healthDetails.check.detail).toMatch(/last heartbeat \d+ ms ago \(timeout 400 ms\)/)
    await h.waitLog('a1', 'heartbeats stopped')
    // Heartbeat lines are signals, not log lines.
    expect(h.supervisor.logs('a1').some((l) => l.line.includes('heartbeat"'))).toBe(false)
  })

  it.skipIf(subject.skip)(
    'an agent that never beats fails its heartbeat check after the timeout',
    async () => {
      await start('a1', { ...(await subject.silent()), healthCheck: { type: 'heartbeat', timeoutMs: 300 } })
      const low = (await h.waitFor(
        (e) => e.type === 'health' && e.facts.healthDetails.check.score === 0,
      )) as HealthEvent
      expect(low.facts.healthDetails.check.detail).toBe('no heartbeat within 300 ms of start')
      expect(low.facts.status).toBe('running')
    },
  )

  it.skipIf(subject.skip)('a passing HTTP check keeps full marks, a failing one lowers health', async () => {
    const port = await freePort()
    const check = (path: string) => ({
      type: 'http',
      url: `http://127.0.0.1:${port}${path}`,
      intervalMs: 100,
      timeoutMs: 1000,
    })
    await start('ok', { ...(await subject.httpServer(port)), healthCheck: check('/health') })
    await h.waitLog('ok', 'listening')
    const good = (await h.waitFor(
      (e) =>
        e.type === 'health' && e.agentId === 'ok' && e.facts.healthDetails.check.detail.includes('HTTP 200'),
    )) as HealthEvent
    expect(good.facts.healthDetails.check.score).toBe(40)
    expect(good.facts.health).toBeGreaterThanOrEqual(95)

    await h.supervisor.start('bad', { ...(await subject.silent()), healthCheck: check('/fail') })
    const bad = (await h.waitFor(
      (e) => e.type === 'health' && e.agentId === 'bad' && e.facts.healthDetails.check.score === 0,
    )) as HealthEvent
    expect(bad.facts.healthDetails.check.detail).toMatch(
      new RegExp(`^GET http://127.0.0.1:${port}/fail: HTTP (500|404)$`),
    )
    expect(bad.facts.health).toBe(60)
  })
})
