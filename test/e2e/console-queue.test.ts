// The device page's queue panel in real headless Chromium against the built
// server: queue copies of a stored file with a confirmation between them, see
// the hold, continue, cancel a waiting copy, as an operator would.

import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LaunchedBrowser, launchChromium, logIn, whyNoChromium } from '../helpers/browser.js'
import { apiToken, type RunningServer, startServer, whyNotBuilt } from '../helpers/server.js'

const skip = whyNotBuilt() ?? whyNoChromium()
if (skip) console.warn(`[myntrix tests] console queue tests skipped: ${skip}`)
const LONG = 90_000

describe.skipIf(skip)('the device queue panel in Chromium', () => {
  // The server, the browser and its page, set up once for the panel's walk-through.
  let [server, launched, context, page] = [] as unknown as [
    RunningServer,
    LaunchedBrowser,
    BrowserContext,
    Page,
  ]
  let deviceId = ''

  beforeAll(async () => {
    server = await startServer()
    const token = await apiToken(server.baseUrl, 'admin', server.adminPassword)
    const call = async (
      method: string,
      url: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ) => {
      const res = await fetch(`${server.baseUrl}${url}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined && !(body instanceof FormData)
            ? { 'content-type': 'application/json' }
            : {}),
          ...headers,
        },
        body: body instanceof FormData ? body : body === undefined ? undefined : JSON.stringify(body),
      })
      if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`)
      return res.json() as Promise<Record<string, any>>
    }
    const device = await call('POST', '/api/myntrix/devices', {
      name: 'Farm printer',
      connectionString: 'sim://marlin',
      configuration: { temperatureReport: 'off' },
    })
    deviceId = device.id
    await call('POST', `/api/myntrix/devices/${deviceId}/connect`)
    // Each copy takes about a second: ten 100 ms dwells.
    const form = new FormData()
    form.append(
      'file',
      new Blob([`${Array.from({ length: 10 }, () => 'G4 P100').join('\n')}\n`]),
      'dwell.gcode',
    )
    await call('POST', `/api/myntrix/devices/${deviceId}/upload?send=false`, form)

    launched = await launchChromium()
    context = await launched.browser.newContext({
      baseURL: server.baseUrl,
      viewport: { width: 1280, height: 900 },
    })
    page = await context.newPage()
    await logIn(page, server.baseUrl, 'admin', server.adminPassword)
  }, LONG)

  afterAll(async () => {
    await Promise.all([context?.close().catch(() => {}), launched?.close()])
    await server?.stop()
  })

  it(
    'queues three copies with a confirmation, holds after each, continues and cancels',
    async () => {
      await page.goto(`/devices/${deviceId}`)
      const queue = page.getByRole('region', { name: 'Queue' })
      await queue.getByText('Nothing queued.').waitFor()
      await queue.getByLabel('File to queue').selectOption({ label: 'dwell.gcode' })
      await queue.getByLabel('Copies').fill('3')
      await queue.getByLabel('Confirm between items').check()
      await queue.getByRole('button', { name: 'Add to queue' }).click()

      const copy = (n: number) => `Queue dwell.gcode on Farm printer (copy ${n} of 3)`
      await queue.getByRole('rowheader', { name: /copy 3 of 3/ }).waitFor()
      // The first copy runs and ends; the queue then waits for the operator.
      const held = queue.getByRole('status').filter({ hasText: 'Held: confirm' })
      await held.waitFor({ timeout: 30_000 })
      expect(await queue.getByRole('rowheader', { name: /copy 1 of 3/ }).count()).toBe(0)
      // The third copy is cancelled while it waits.
      await queue.getByRole('button', { name: `Cancel ${copy(3)}` }).click()
      await queue.getByRole('rowheader', { name: /copy 3 of 3/ }).waitFor({ state: 'detached' })
      // Continue: the second copy runs, and the queue holds again after it.
      await held.getByRole('button', { name: 'Continue' }).click()
      await queue
        .getByRole('rowheader', { name: /copy 2 of 3/ })
        .waitFor({ state: 'detached', timeout: 30_000 })
      await queue.getByText('Nothing queued.').waitFor()
      await held.waitFor()
      await held.getByRole('button', { name: 'Continue' }).click()
      await held.waitFor({ state: 'detached' })

      const jobs = await page.evaluate(async () => {
        const res = await fetch('/api/myntrix/jobs?type=device-transfer&limit=10', { credentials: 'include' })
        return (await res.json()) as { name: string; status: string }[]
      })
      expect(jobs.map((j) => [j.name, j.status]).sort()).toEqual(
        [
          [copy(1), 'completed'],
          [copy(2), 'completed'],
          [copy(3), 'cancelled'],
        ].sort(),
      )
    },
    LONG,
  )
})
