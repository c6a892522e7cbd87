// Restarting an interrupted transfer from the console, in real headless
// Chromium against the compiled server: a sim:// printer whose dwell may wait
// only 100 ms for its ok interrupts a real job at its G4; the job's page offers
// Restart… to an operator, shows the server's restart preview, follows an
// edited line, and sends only after the confirmation, opening the new job,
// which completes. A viewer is never offered it.

import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LaunchedBrowser, launchChromium, logIn, whyNoChromium } from '../helpers/browser.js'
import { apiToken, jsonRequest, type RunningServer, startServer, whyNotBuilt } from '../helpers/server.js'

const skip = whyNoChromium() ?? whyNotBuilt()
if (skip) console.warn(`[myntrix tests] browser restart tests skipped: ${skip}`)

const OPERATOR = { username: 'otto', password: 'operator-password-1' }
const VIEWER = { username: 'vera', password: 'viewer-password-1' }
const FILE = 'G1 X1 F3000\nG1 X2\nG4 P1000\nG1 X3\nG1 X4\n'

type Json = Record<string, unknown>

describe.skipIf(skip)('restarting an interrupted job in the console', { timeout: 120_000 }, () => {
  let server: RunningServer
  let chromium: LaunchedBrowser
  let browser: Browser
  let operatorToken: string
  let adminToken: string
  let operatorId: string
  let jobId: string

  async function call(method: string, path: string, body?: unknown, token = operatorToken): Promise<Json> {
    const res = await jsonRequest(server.baseUrl, method, path, token, body)
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`)
    return (res.body ?? {}) as Json
  }

  async function finished(id: string): Promise<Json> {
    for (;;) {
      const job = await call('GET', `/api/myntrix/jobs/${id}`)
      if (!['pending', 'running'].includes(String(job.status))) return job
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  beforeAll(async () => {
    server = await startServer()
    chromium = await launchChromium()
    browser = chromium.browser
    adminToken = await apiToken(server.baseUrl, 'admin', server.adminPassword)
    operatorId = String(
      (await call('POST', '/api/auth/users', { ...OPERATOR, role: 'operator' }, adminToken)).id,
    )
    await call('POST', '/api/auth/users', { ...VIEWER, role: 'viewer' }, adminToken)
    operatorToken = await apiToken(server.baseUrl, OPERATOR.username, OPERATOR.password)
    const device = await call('POST', '/api/myntrix/devices', {
      name: 'sim printer',
      connectionString: 'sim://marlin',
      configuration: { temperatureReport: 'off', commandTimeouts: { G4: 100 } },
    })
    await call('POST', `/api/myntrix/devices/${String(device.id)}/connect`)
    const form = new FormData()
    form.append('file', new Blob([FILE]), 'part.gcode')
    const res = await fetch(`${server.baseUrl}/api/myntrix/devices/${String(device.id)}/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operatorToken}` },
      body: form,
    })
    expect(res.status).toBe(202)
    jobId = String(((await res.json()) as { job: { id: string } }).job.id)
    const job = await finished(jobId)
    expect(job.status).toBe('interrupted')
    expect((job.checkpoint as { lastAckedLine: number }).lastAckedLine).toBe(2)
  }, 90_000)

  afterAll(async () => {
    await chromium?.close()
    if (server) expect(await server.stop()).toBe(0)
  })

  async function pageAs(user: { username: string; password: string }): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    page.setDefaultTimeout(20_000)
    await logIn(page, server.baseUrl, user.username, user.password)
    return page
  }

  it('shows the preview, follows an edited line, and restarts only after the confirmation', async () => {
    const page = await pageAs(OPERATOR)
    try {
      await page.goto(`${server.baseUrl}/resources/jobs/${jobId}`)
      await page.getByRole('heading', { name: /^Send part\.gcode/ }).waitFor()
      await page.getByText('interrupted').first().waitFor()
      await page.getByText(`user:`).first().waitFor()

      await page.getByRole('button', { name: 'Restart…' }).click()
      const dialog = page.getByRole('dialog', { name: 'Restart from a line' })
      await dialog.waitFor()
      // The default is the line after the checkpoint, as the server plans it.
      await dialog.getByText('The last line the firmware acknowledged is 2.').waitFor()
      const confirm = dialog.getByRole('button', { name: 'Restart from line 3' })
      await confirm.waitFor()
      expect(await dialog.getByLabel('First lines').innerText()).toMatch(/^3: G4 P1000/)
      const preamble = await dialog.getByLabel('Preamble').innerText()
      expect(preamble.split('\n')).toContain('G28 X Y')
      // Nothing was sent by opening the preview.
      let jobs = (await call('GET', '/api/myntrix/jobs?type=device-transfer')) as unknown as Json[]
      expect(jobs).toHaveLength(1)

      // Past the end of the file: the server's 400, beside the field, and no way to confirm.
      await dialog.getByLabel('From line').fill('99')
      await dialog
        .getByText(/past the last/i)
        .or(dialog.getByRole('alert'))
        .first()
        .waitFor()
      expect(await dialog.getByRole('button', { name: /^Restart/ }).isDisabled()).toBe(true)

      // Past the dwell: the preview follows.
      await dialog.getByLabel('From line').fill('4')
      await dialog.getByRole('button', { name: 'Restart from line 4' }).waitFor()
      expect(await dialog.getByLabel('First lines').innerText()).toMatch(/^4: G1 X3\n5: G1 X4$/)

      // Cancel sends nothing.
      await dialog.getByRole('button', { name: 'Cancel' }).click()
      await dialog.waitFor({ state: 'hidden' })
      jobs = (await call('GET', '/api/myntrix/jobs?type=device-transfer')) as unknown as Json[]
      expect(jobs).toHaveLength(1)

      // Confirmed: the new job's page, linked to the old one, and it completes.
      await page.getByRole('button', { name: 'Restart…' }).click()
      await dialog.getByLabel('From line').fill('4')
      await dialog.getByRole('button', { name: 'Restart from line 4' }).click()
      await page.getByRole('heading', { name: /^Restart part\.gcode .* from line 4$/ }).waitFor()
      await page.getByRole('link', { name: jobId }).waitFor()
      const newId = page.url().split('/').pop()!
      expect(newId).not.toBe(jobId)
      const restarted = await finished(newId)
      expect(restarted).toMatchObject({ status: 'completed', restartOf: jobId })
      expect((restarted.details as Json).fromLine).toBe(4)
      // The completed restart offers no restart.
      await page.getByText('completed').first().waitFor()
      expect(await page.getByRole('button', { name: 'Restart…' }).count()).toBe(0)
    } finally {
      await page.context().close()
    }
  })

  it('offers a viewer no restart, also on its own interrupted job', async () => {
    // Another owner's job is not a viewer's to see: the page says so and offers nothing.
    const viewer = await pageAs(VIEWER)
    try {
      await viewer.goto(`${server.baseUrl}/resources/jobs/${jobId}`)
      await viewer.getByRole('alert').first().waitFor()
      expect(await viewer.getByRole('button', { name: 'Restart…' }).count()).toBe(0)
    } finally {
      await viewer.context().close()
    }
    // The job's own owner, demoted to viewer: the interrupted job shows, without the action.
    await call('PUT', `/api/auth/users/${operatorId}`, { role: 'viewer' }, adminToken)
    const demoted = await pageAs(OPERATOR)
    try {
      await demoted.goto(`${server.baseUrl}/resources/jobs/${jobId}`)
      await demoted.getByRole('heading', { name: /^Send part\.gcode/ }).waitFor()
      await demoted.getByText('interrupted').first().waitFor()
      expect(await demoted.getByRole('button', { name: 'Restart…' }).count()).toBe(0)
    } finally {
      await demoted.context().close()
    }
  })
})
