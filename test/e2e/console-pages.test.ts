// The Devices, Tasks, Resources and 3D pages in real headless Chromium against
// a real server (the compiled build, started as `npm start` runs it, on a
// temporary SQLite database), driven the way a person uses them: through
// roles, labels and text. MYNTRIX_SCREENSHOTS=1 (npm run screenshots) also saves
// each page to docs/screenshots/ on the way.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { BrowserContext, Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LaunchedBrowser, launchChromium, whyNoChromium } from '../helpers/browser.js'
import { waitFor } from '../helpers/processes.js'
import { type RunningServer, root, startServer, whyNotBuilt } from '../helpers/server.js'

const skip = whyNotBuilt() ?? whyNoChromium()
if (skip) console.warn(`[myntrix tests] console page tests skipped: ${skip}`)

const SHOTS = process.env.MYNTRIX_SCREENSHOTS === '1' ? path.join(root, 'docs/screenshots') : null
const LONG = 90_000

async function shoot(page: Page, name: string, fullPage = true): Promise<void> {
  if (!SHOTS) return
  fs.mkdirSync(SHOTS, { recursive: true })
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage })
}

/**
 * How many pixels of an element's screenshot differ from its most common
 * colour: the screenshot is decoded by the browser itself (no image library
 * here), so "drawn" means the pixels a person would see.
 */
async function drawnPixels(page: Page, element: Locator): Promise<number> {
  const png = (await element.screenshot()).toString('base64')
  // Runs in the page (the server's own tsconfig has no DOM types), hence a string.
  return page.evaluate(`(async () => {
    // atob, not fetch: the console's content security policy allows no data: fetch.
    const bytes = Uint8Array.from(atob('${png}'), (c) => c.charCodeAt(0))
    const blob = new Blob([bytes], { type: 'image/png' })
    const bitmap = await createImageBitmap(blob)
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height)
    const ctx = canvas.getContext('2d')
    ctx.drawImage(bitmap, 0, 0)
    const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data
    const counts = new Map()
    for (let i = 0; i < data.length; i += 4) {
      const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2]
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    return data.length / 4 - Math.max(...counts.values())
  })()`) as Promise<number>
}

/** A scene point's normalised device coordinates for the 3D page's starting camera. */
function project([px, py, pz]: [number, number, number], aspect: number): [number, number] {
  type V3 = [number, number, number]
  const eye: V3 = [0, 60, 120]
  const len = Math.hypot(...eye)
  const forward: V3 = [-eye[0] / len, -eye[1] / len, -eye[2] / len]
  // right = forward x up (up = +y), up' = right x forward; here right is +x.
  const right: V3 = [1, 0, 0]
  const up: V3 = [0, -forward[2], forward[1]]
  const d: V3 = [px - eye[0], py - eye[1], pz - eye[2]]
  const dot = (a: V3) => a[0] * d[0] + a[1] * d[1] + a[2] * d[2]
  const tan = Math.tan((50 / 2) * (Math.PI / 180))
  return [dot(right) / (dot(forward) * tan * aspect), dot(up) / (dot(forward) * tan)]
}

describe.skipIf(skip)('console pages in Chromium', () => {
  let server: RunningServer
  let launched: LaunchedBrowser
  let context: BrowserContext
  let page: Page
  let deviceUrl = ''

  beforeAll(async () => {
    server = await startServer()
    launched = await launchChromium()
    context = await launched.browser.newContext({
      baseURL: server.baseUrl,
      viewport: { width: 1280, height: 900 },
      colorScheme: 'light',
    })
    page = await context.newPage()
    await page.goto('/')
    await page.getByLabel('Username').fill('admin')
    await page.getByLabel('Password').fill(server.adminPassword)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
  }, LONG)

  afterAll(async () => {
    await context?.close().catch(() => {})
    await launched?.close()
    await server?.stop()
  })

  it(
    'creates a sim://marlin device, connects, talks to it from the terminal, charts it and sends it a file',
    async () => {
      await page.getByRole('navigation', { name: 'Areas' }).getByRole('link', { name: 'Devices' }).click()
      await page.getByRole('heading', { name: 'Devices' }).waitFor()
      await page.getByRole('button', { name: 'New device' }).click()
      // A connection string the server refuses: its reason beside the field.
      await page.getByLabel('Name').fill('Bench printer')
      const connection = page.getByLabel('Connection string')
      await connection.fill('bogus://nowhere')
      await page.getByRole('button', { name: 'Create device' }).click()
      await waitFor(async () => (await connection.getAttribute('aria-invalid')) === 'true', {
        what: 'the connection string marked invalid',
      })
      const errorId = (await connection.getAttribute('aria-describedby'))!.split(' ').pop()!
      expect(await page.locator(`[id="${errorId}"]`).textContent()).toMatch(/sim:\/\/marlin/)

      await page.getByRole('button', { name: 'Use the sim://marlin example' }).click()
      expect(await connection.inputValue()).toBe('sim://marlin')
      await page.getByLabel('Other settings (JSON)').fill('{"temperatureIntervalMs": 500}')
      await page.getByRole('button', { name: 'Create device' }).click()

      await page.getByRole('heading', { name: 'Bench printer' }).waitFor()
      deviceUrl = new URL(page.url()).pathname
      await page.getByRole('button', { name: 'Connect Bench printer' }).click()
      await page.getByRole('button', { name: 'Disconnect Bench printer' }).waitFor()
      const readings = page.getByRole('region', { name: 'Live readings' })

      // The terminal: a command, its answer, and the wire log from the telemetry feed.
      await page.getByLabel('Command', { exact: true }).fill('M105')
      await page.getByRole('button', { name: 'Send', exact: true }).click()
      const response = page.getByRole('status', { name: 'Response' })
      await waitFor(async () => /T:\d/.test((await response.textContent()) ?? ''), {
        timeoutMs: 15_000,
        what: 'a temperature in the answer to M105',
      })
      const wire = page.getByRole('log', { name: 'Wire log' })
      await wire.getByText('M105').first().waitFor()
      await readings
        .getByText(/\d °C|\d\.\d+ °C/)
        .first()
        .waitFor()

      // The chart gets points from the live feed.
      const points = readings.getByText(/^\d+ points$/).first()
      await waitFor(async () => Number.parseInt((await points.textContent()) ?? '0', 10) >= 3, {
        timeoutMs: 20_000,
        what: 'three temperature points on the chart',
      })
      const chart = page.getByRole('img', { name: 'Temperature and target, °C' })
      expect(await drawnPixels(page, chart)).toBeGreaterThan(200)

      // A small G-code file goes to the device as a transfer job, watched to 100 %.
      const gcode = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-e2e-')), 'square.gcode')
      fs.writeFileSync(
        gcode,
        ['; a square', 'G28', 'G1 X10 Y0 F3000', 'G1 X10 Y10', 'G1 X0 Y10', 'G1 X0 Y0', 'M105', ''].join(
          '\n',
        ),
      )
      await page.getByLabel('File to send').setInputFiles(gcode)
      await page.getByRole('button', { name: 'Upload and send' }).click()
      const transfer = page.getByRole('region', { name: 'Transfer of square.gcode' })
      await transfer.getByText('completed').waitFor({ timeout: 30_000 })
      expect(
        await transfer.getByRole('progressbar', { name: 'Transfer of square.gcode' }).getAttribute('value'),
      ).toBe('100')
      await transfer.getByText('100 %').waitFor()
      await page.getByRole('rowheader', { name: 'square.gcode' }).waitFor()
      // The square ended at X0 Y0 after visiting X10: M114 reports the position, the chart draws it.
      await page.getByLabel('Command', { exact: true }).fill('M114')
      await page.getByRole('button', { name: 'Send', exact: true }).click()
      await page.getByRole('img', { name: 'Position X, Y and Z, mm' }).waitFor()

      // A slow file (each line a 300 ms dwell): pause it, resume it, cancel it.
      const dwell = path.join(path.dirname(gcode), 'dwell.gcode')
      fs.writeFileSync(dwell, `${Array.from({ length: 40 }, () => 'G4 P300').join('\n')}\n`)
      await page.getByLabel('File to send').setInputFiles(dwell)
      await page.getByRole('button', { name: 'Upload and send' }).click()
      const slow = page.getByRole('region', { name: 'Transfer of dwell.gcode' })
      await slow.getByRole('button', { name: 'Pause' }).click()
      await slow.getByText('paused', { exact: true }).waitFor()
      await slow.getByRole('button', { name: 'Resume' }).click()
      await slow.getByText('running', { exact: true }).waitFor()
      await slow.getByRole('button', { name: 'Cancel transfer' }).click()
      await slow.getByText('cancelled', { exact: true }).waitFor()
      expect(await slow.getByRole('button', { name: 'Pause' }).count()).toBe(0)
      fs.rmSync(path.dirname(gcode), { recursive: true, force: true })
      await shoot(page, 'device')

      await page.getByRole('link', { name: 'Devices', exact: true }).first().click()
      const row = page.getByRole('row', { name: /Bench printer/ })
      await row.getByText('connected').waitFor()
      await row.getByText('SIM://MARLIN').or(row.getByText('sim://marlin')).first().waitFor()
      await shoot(page, 'devices', false)
    },
    LONG,
  )

  it(
    'creates a task with a per-second schedule, previews it, and shows a run with its log',
    async () => {
      await page.getByRole('navigation', { name: 'Areas' }).getByRole('link', { name: 'Tasks' }).click()
      await page.getByRole('heading', { name: 'Tasks' }).waitFor()
      await page.getByRole('button', { name: 'New task' }).click()
      await page.getByLabel('Name').fill('Every second')
      await page.getByLabel('Schedule').fill('*/1 * * * * *')
      await page.getByLabel('Time zone').fill('Europe/Berlin')
      const preview = page.getByRole('region', { name: 'Next 5 runs' })
      // The preview follows the typing (the form's default schedule is hourly): five times, a second apart.
      const gaps = async () => {
        const times = await preview
          .locator('time')
          .evaluateAll((els) => els.map((e) => e.getAttribute('datetime')))
        return times.slice(1).map((t, i) => Date.parse(t!) - Date.parse(times[i]!))
      }
      await preview
        .getByText(/CET|CEST|GMT\+1|GMT\+2/)
        .first()
        .waitFor()
      await waitFor(async () => JSON.stringify(await gaps()) === JSON.stringify([1000, 1000, 1000, 1000]), {
        timeoutMs: 10_000,
        what: 'five previewed fire times a second apart',
      })
      await shoot(page, 'task-form')

      // A bad schedule is the server's field error, beside the field.
      await page.getByLabel('Schedule').fill('61 * * * *')
      await preview.getByText(/minute field/).waitFor()
      await page.getByLabel('Schedule').fill('*/1 * * * * *')

      await page.getByLabel('Action').selectOption('script')
      await page.getByLabel('Command').fill('echo tick from the console')
      await page.getByRole('button', { name: 'Create task' }).click()
      await page.getByRole('heading', { name: 'Every second' }).waitFor()

      const history = page.getByRole('region', { name: 'History' })
      const run = history.getByRole('row', { name: /success/ }).first()
      await run.waitFor({ timeout: 20_000 })
      await run.getByText('Log', { exact: true }).click()
      await run.getByRole('log').getByText('tick from the console').first().waitFor()
      await shoot(page, 'task')

      await page.getByRole('button', { name: 'Disable Every second' }).click()
      await page.getByRole('button', { name: 'Enable Every second' }).waitFor()
      // Run now works on a disabled task: a manual run appears in the history.
      await page.getByRole('button', { name: 'Run Every second now' }).click()
      await history
        .getByRole('row', { name: /manual/ })
        .first()
        .waitFor({ timeout: 20_000 })
      await page.getByRole('link', { name: 'Tasks', exact: true }).first().click()
      await page
        .getByRole('row', { name: /Every second/ })
        .getByText('success')
        .waitFor()
      await shoot(page, 'tasks', false)
    },
    LONG,
  )

  it(
    'draws the host charts on Resources and lists the jobs',
    async () => {
      await page.getByRole('navigation', { name: 'Areas' }).getByRole('link', { name: 'Resources' }).click()
      await page.getByRole('heading', { name: 'Resources' }).waitFor()
      for (const name of [
        'CPU %, last 15m',
        'Memory %, last 15m',
        'Disk used %, last 15m',
        'Network bytes per second, last 15m',
      ]) {
        const chart = page.getByRole('img', { name })
        await chart.waitFor()
        await waitFor(async () => (await drawnPixels(page, chart)) > 200, {
          timeoutMs: 15_000,
          what: `${name} drawn`,
        })
      }
      await page.getByRole('button', { name: '1 h' }).click()
      await page.getByRole('img', { name: 'CPU %, last 1h' }).waitFor()
      const jobs = page.getByRole('region', { name: 'Jobs' })
      await jobs.getByRole('row', { name: /square\.gcode/ }).waitFor()
      await jobs.getByLabel('Status of jobs shown').selectOption('completed')
      await jobs.getByLabel('Type of jobs shown').fill('device-transfer')
      await jobs
        .getByRole('row', { name: /square\.gcode/ })
        .getByText('100 %')
        .waitFor()
      await shoot(page, 'resources')
    },
    LONG,
  )

  it(
    'draws the 3D scene, and its list opens an entity',
    async () => {
      // An agent whose configuration names the device: the scene links the two.
      const { access_token: token } = (await (
        await fetch(`${server.baseUrl}/api/auth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'admin', password: server.adminPassword }),
        })
      ).json()) as { access_token: string }
      const created = await fetch(`${server.baseUrl}/api/myntrix/agents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'Slicer',
          type: 'slicer',
          configuration: { command: 'node -e 0', printer: deviceUrl.split('/').pop() },
        }),
      })
      expect(created.status).toBe(201)

      await page.getByRole('navigation', { name: 'Areas' }).getByRole('link', { name: '3D' }).click()
      await page.getByRole('heading', { name: '3D' }).waitFor()
      const entities = page.getByRole('navigation', { name: 'Scene entities' })
      await entities.getByRole('link', { name: 'Slicer' }).waitFor()
      await page.getByText(/1 agent, 1 device, 1 link\./).waitFor()
      const canvas = page.getByRole('img', { name: /3D scene/ }).or(page.getByLabel(/3D scene/))
      await canvas.first().waitFor()
      await waitFor(async () => (await drawnPixels(page, canvas.first())) > 1000, {
        timeoutMs: 15_000,
        what: 'the scene drawn on the canvas',
      })
      await shoot(page, 'scene', false)

      // A click on the device's box opens its page. Where the box is on screen follows from its
      // position in the scene and the page's starting camera (at (0, 60, 120), looking at the
      // origin, 50° vertical field of view); nothing has moved the camera yet.
      const scene = (await (
        await fetch(`${server.baseUrl}/api/myntrix/visualization-data`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).json()) as { devices: { id: string; position: [number, number, number] }[] }
      const device = scene.devices.find((d) => deviceUrl.endsWith(d.id))!
      const box = (await canvas.first().boundingBox())!
      const [x, y] = project(device.position, box.width / box.height)
      await page.mouse.move(box.x + ((x + 1) / 2) * box.width, box.y + ((1 - y) / 2) * box.height)
      await page.getByText('device: Bench printer').waitFor()
      await page.mouse.down()
      await page.mouse.up()
      await page.getByRole('heading', { name: 'Bench printer' }).waitFor()
      expect(new URL(page.url()).pathname).toBe(deviceUrl)
      await page.goBack()
      await page.getByRole('heading', { name: '3D' }).waitFor()
      await page
        .getByRole('navigation', { name: 'Scene entities' })
        .getByRole('link', { name: 'Bench printer' })
        .click()
      await page.getByRole('heading', { name: 'Bench printer' }).waitFor()
      expect(new URL(page.url()).pathname).toBe(deviceUrl)
    },
    LONG,
  )
})
