// A container agent through the console in real Chromium against a real server and the
// real Docker engine: an admin creates one through the form (runtime, image, command,
// limits), starts it and sees it running with its image and container id; one killed at
// its memory limit shows the OOM kill; an operator's form has no admin-only fields.
// Skips with the reason when Chromium, the build or the engine is missing.

import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LaunchedBrowser, launchChromium, logIn, whyNoChromium } from '../helpers/browser.js'
import { docker, removeNodeContainers, testImage, whyNoDocker } from '../helpers/docker.js'
import { apiToken, type RunningServer, startServer, whyNotBuilt } from '../helpers/server.js'

const skip = whyNoChromium() ?? whyNotBuilt() ?? (await whyNoDocker())
if (skip) console.warn(`[myntrix tests] console container tests skipped: ${skip}`)
const nodeName = `test-console-${process.pid}-${Date.now().toString(36)}`
const OPERATOR = { username: 'otto', password: 'operator-password-1' }

/** New agent → a Docker container with this name, image and command (one argument a line). */
async function fillContainerForm(page: Page, name: string, image: string, argv: string[]): Promise<void> {
  await page.getByRole('navigation').getByRole('link', { name: 'Agents' }).click()
  await page.getByRole('button', { name: 'New agent' }).click()
  await page.getByLabel('Name', { exact: true }).fill(name)
  await page.getByLabel('Runs as').selectOption('docker')
  await page.getByLabel('Image', { exact: true }).fill(image)
  await page.getByLabel('Container command', { exact: true }).fill(argv.join('\n'))
}

async function startFromPage(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name: `Start ${name}`, exact: true }).click()
  await page
    .getByRole('dialog', { name: 'Start agent' })
    .getByRole('button', { name: 'Start', exact: true })
    .click()
}

describe.skipIf(skip)('container agents in the console', { timeout: 180_000 }, () => {
  let server: RunningServer
  let chromium: LaunchedBrowser
  let browser: Browser
  let image: string

  beforeAll(async () => {
    image = await testImage()
    server = await startServer({
      env: { MYNTRIX_NODE_NAME: nodeName, MYNTRIX_AGENT_SAMPLE_INTERVAL_MS: '500' },
    })
    chromium = await launchChromium()
    browser = chromium.browser
    // Otto is an admin who gives an agent the host's network, then is demoted to operator.
    const send = (token: string, method: string, url: string, body: unknown) =>
      fetch(`${server.baseUrl}${url}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const admin = await apiToken(server.baseUrl, 'admin', server.adminPassword)
    const otto = await send(admin, 'POST', '/api/auth/users', { ...OPERATOR, role: 'admin' })
    expect(otto.status).toBe(201)
    const ottoToken = await apiToken(server.baseUrl, OPERATOR.username, OPERATOR.password)
    const hosted = await send(ottoToken, 'POST', '/api/myntrix/agents', {
      name: 'hosted box',
      configuration: { runtime: { type: 'docker', image, command: ['true'], network: 'host' } },
    })
    expect(hosted.status).toBe(201)
    const ottoId = ((await otto.json()) as { id: string }).id
    expect((await send(admin, 'PUT', `/api/auth/users/${ottoId}`, { role: 'operator' })).status).toBe(200)
  }, 90_000)

  afterAll(async () => {
    await chromium?.close()
    if (server) expect(await server.stop()).toBe(0)
    if (!skip) await removeNodeContainers(nodeName)
  })

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    page.setDefaultTimeout(30_000)
    return page
  }

  it('an admin creates a container agent through the form and sees it running', async () => {
    const page = await newPage()
    try {
      await logIn(page, server.baseUrl, 'admin', server.adminPassword)
      await fillContainerForm(page, 'boxed worker', image, [
        'sh',
        '-c',
        'echo hello from the box; while true; do sleep 1; done',
      ])
      // Admin-only fields are there for an admin.
      await page.getByLabel('Network', { exact: true }).waitFor()
      await page.getByLabel('Host mounts', { exact: true }).waitFor()
      await page.getByLabel('Container memory (MB)').fill('64')
      await page.getByLabel('CPUs', { exact: true }).fill('0.5')
      await page.getByLabel('Stop timeout (ms)').fill('500')
      await page.getByRole('button', { name: 'Create agent' }).click()
      await page.getByRole('heading', { name: 'boxed worker', level: 1 }).waitFor()

      await startFromPage(page, 'boxed worker')
      const log = page.getByRole('log', { name: 'Agent output' })
      await log.getByText('hello from the box').waitFor()
      await page.getByRole('button', { name: 'Stop boxed worker', exact: true }).waitFor()
      const facts = page.getByRole('region', { name: 'Container' })
      await facts.getByText(image).waitFor()
      await facts.getByText('docker', { exact: true }).waitFor()
      // The id shown is the one of the container the engine runs for this agent.
      const [running] = await docker.listContainers({
        filters: { label: [`myntrix.node=${nodeName}`], status: ['running'] },
      })
      expect(running).toBeDefined()
      await facts.getByText(running.Id.slice(0, 12), { exact: true }).waitFor()
      await page.getByText('64 MB memory').waitFor()

      // Edit keeps what was saved, one argument a line.
      await page.getByRole('button', { name: 'Edit' }).click()
      expect(await page.getByLabel('Runs as').inputValue()).toBe('docker')
      expect(await page.getByLabel('Container command', { exact: true }).inputValue()).toBe(
        'sh\n-c\necho hello from the box; while true; do sleep 1; done',
      )
      await page.getByRole('button', { name: 'Cancel' }).click()

      await page.getByRole('button', { name: 'Stop boxed worker', exact: true }).click()
      await page
        .getByRole('dialog', { name: 'Stop agent' })
        .getByRole('button', { name: 'Stop', exact: true })
        .click()
      await page.getByRole('button', { name: 'Start boxed worker', exact: true }).waitFor()
      // Stopped means removed: nothing of this node is left on the engine.
      const left = () =>
        docker.listContainers({ all: true, filters: { label: [`myntrix.node=${nodeName}`] } })
      await expect.poll(async () => (await left()).length, { timeout: 20_000 }).toBe(0)
      await page.getByRole('main').getByText('stopped', { exact: true }).first().waitFor()
    } finally {
      await page.context().close()
    }
  })

  it('shows an OOM kill at the container memory limit in the last exit', async () => {
    const page = await newPage()
    try {
      await logIn(page, server.baseUrl, 'admin', server.adminPassword)
      await fillContainerForm(page, 'greedy', image, ['sh', '-c', 'x=a; while true; do x="$x$x"; done'])
      await page.getByLabel('Container memory (MB)').fill('8')
      await page.getByLabel('Restart policy').selectOption('never')
      await page.getByRole('button', { name: 'Create agent' }).click()
      await page.getByRole('heading', { name: 'greedy', level: 1 }).waitFor()
      await startFromPage(page, 'greedy')
      // The page learns of the new status from the live feed and fetches the exit with it.
      await page.getByText(/SIGKILL \(out of memory: OOM kill\)/).waitFor()
      await page.getByText(/out of memory at its memory limit \(OOM\)/).waitFor()
    } finally {
      await page.context().close()
    }
  })

  it("an operator's form has no host mounts or host network unless their agent has them; a bad image is refused", async () => {
    const page = await newPage()
    try {
      await logIn(page, server.baseUrl, OPERATOR.username, OPERATOR.password)
      await fillContainerForm(page, 'op box', 'Not An Image', ['true'])
      await page.getByLabel('User', { exact: true }).waitFor()
      expect(await page.getByLabel('Network', { exact: true }).count()).toBe(0)
      expect(await page.getByLabel('Host mounts', { exact: true }).count()).toBe(0)
      await page.getByRole('button', { name: 'Create agent' }).click()
      const imageField = page.getByLabel('Image', { exact: true })
      await expect.poll(() => imageField.getAttribute('aria-invalid'), { timeout: 20_000 }).toBe('true')
      await page.getByRole('button', { name: 'Cancel' }).click()

      // Their own agent from when they were an admin: the host network is shown, so it can go.
      await page.getByRole('link', { name: 'hosted box' }).click()
      await page.getByRole('button', { name: 'Edit' }).click()
      const network = page.getByLabel('Network', { exact: true })
      expect(await network.inputValue()).toBe('host')
      await network.selectOption('none')
      await page.getByRole('button', { name: 'Save' }).click()
      await page.getByRole('button', { name: 'Edit' }).waitFor()
      const admin = await apiToken(server.baseUrl, 'admin', server.adminPassword)
      const agents = (await fetch(`${server.baseUrl}/api/myntrix/agents`, {
        headers: { authorization: `Bearer ${admin}` },
      }).then((r) => r.json())) as { name: string; configuration: { runtime: Record<string, unknown> } }[]
      const saved = agents.find((a) => a.name === 'hosted box')!.configuration.runtime
      expect(saved).toEqual({ type: 'docker', image, command: ['true'] })
    } finally {
      await page.context().close()
    }
  })
})
