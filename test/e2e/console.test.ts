// The console in real headless Chromium against a real server: the compiled
// build started as the README does (node dist/main.js after npm run build), a
// temporary SQLite data directory, a free port. Everything is found the way a
// person finds it: by role, label and text.
//
// Skips with the reason when Chromium or the build is missing; CI installs
// Chromium and builds first, and test/ci-guard.test.ts fails there if either
// is absent. MYNTRIX_SCREENSHOTS=1 (npm run screenshots) also writes a
// screenshot of every page to docs/screenshots/.

import fs from 'node:fs'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LaunchedBrowser, launchChromium, logIn, whyNoChromium } from '../helpers/browser.js'
import { apiToken, type RunningServer, root, startServer, whyNotBuilt } from '../helpers/server.js'

const skip = whyNoChromium() ?? whyNotBuilt()
if (skip) console.warn(`[myntrix tests] browser tests skipped: ${skip}`)

const SCREENSHOTS = process.env.MYNTRIX_SCREENSHOTS === '1' ? path.join(root, 'docs/screenshots') : null
const VIEWER = { username: 'vera', password: 'viewer-password-1' }
const fixture = path.join(root, 'test/fixtures/agents/prints-lines.mjs')
const VIEW_CONTROLS: Record<string, string[]> = {
  Resources: [
    'button:15 m',
    'button:1 h',
    'button:24 h',
    'button:7 d',
    'combobox:Status of jobs shown',
    'combobox:Type of jobs shown',
  ],
}

async function shoot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return
  fs.mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true })
}

/** Names of every enabled control on the page that a person could operate. */
async function enabledControls(page: Page): Promise<string[]> {
  const names: string[] = []
  for (const role of ['button', 'textbox', 'combobox', 'checkbox', 'spinbutton', 'searchbox'] as const) {
    for (const el of await page.getByRole(role).all()) {
      if (!(await el.isVisible()) || !(await el.isEnabled())) continue
      const label = (await el.getAttribute('aria-label')) ?? (await el.innerText().catch(() => '')) ?? ''
      names.push(`${role}:${label.trim() || (await el.evaluate((e) => (e as { id: string }).id))}`)
    }
  }
  return names
}

// Real browser, real server, on a shared 2-core machine: generous limits, never a sleep.
describe.skipIf(skip)('the console in Chromium', { timeout: 120_000 }, () => {
  let server: RunningServer
  let chromium: LaunchedBrowser
  let browser: Browser
  let adminToken: string

  beforeAll(async () => {
    server = await startServer()
    chromium = await launchChromium()
    browser = chromium.browser
    adminToken = await apiToken(server.baseUrl, 'admin', server.adminPassword)
    const viewer = await fetch(`${server.baseUrl}/api/auth/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...VIEWER, role: 'viewer' }),
    })
    expect(viewer.status).toBe(201)
  }, 60_000)

  afterAll(async () => {
    await chromium?.close()
    if (server) expect(await server.stop()).toBe(0)
  })

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const page = await context.newPage()
    // Fail on the step that waits, well inside the test's own timeout.
    page.setDefaultTimeout(20_000)
    return { context, page }
  }

  it('logs in through the form from the keyboard; a wrong password shows the problem detail', async () => {
    const { context, page } = await newPage()
    try {
      await page.goto(`${server.baseUrl}/agents`)
      // Waited for: isVisible() looks once, and the page may not have rendered yet.
      await page.getByRole('heading', { name: 'Log in to Myntrix' }).waitFor()
      await shoot(page, 'login')

      await page.getByLabel('Username').fill('admin')
      await page.getByLabel('Password').fill('not-the-password')
      await page.getByRole('button', { name: 'Log in' }).click()
      const alert = page.getByRole('alert')
      await alert.waitFor()
      expect(await alert.innerText()).toContain('invalid username or password')

      // Keyboard only: the fields and the button are reachable in order, Enter submits.
      await page.getByLabel('Username').focus()
      await page.keyboard.press('Tab')
      await page.keyboard.press('ControlOrMeta+a')
      await page.keyboard.type(server.adminPassword)
      await page.keyboard.press('Enter')
      await page.getByText('Logged in as admin').waitFor()
      // The deep link asked for is the page shown after logging in.
      await page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor()
      expect(await page.getByText('admin', { exact: true }).first().isVisible()).toBe(true)

      const nav = page.getByRole('navigation', { name: 'Areas' })
      const links = await nav.getByRole('link').allInnerTexts()
      expect(links).toEqual(['Overview', 'Agents', 'Devices', 'Resources', 'Tasks', '3D', 'Admin'])
    } finally {
      await context.close()
    }
  })

  it('logs out: the session cookie no longer works for the API', async () => {
    const { context, page } = await newPage()
    try {
      await logIn(page, server.baseUrl, 'admin', server.adminPassword)
      const cookie = (await context.cookies()).find((c) => c.name === 'myntrix_session')
      expect(cookie?.httpOnly).toBe(true)
      const asCookie = () =>
        fetch(`${server.baseUrl}/api/auth/me`, { headers: { cookie: `myntrix_session=${cookie!.value}` } })
      expect((await asCookie()).status).toBe(200)

      await page.getByRole('button', { name: 'Log out' }).click()
      await page.getByRole('heading', { name: 'Log in to Myntrix' }).waitFor()
      expect((await asCookie()).status).toBe(401)
      // A reload does not bring the session back.
      await page.reload()
      await page.getByRole('heading', { name: 'Log in to Myntrix' }).waitFor()
    } finally {
      await context.close()
    }
  })

  it('creates an agent running a script, starts it, shows its output live, stops and deletes it', async () => {
    const { context, page } = await newPage()
    try {
      await logIn(page, server.baseUrl, 'admin', server.adminPassword)
      await page.getByRole('navigation').getByRole('link', { name: 'Agents' }).click()
      await page.getByRole('button', { name: 'New agent' }).click()
      await page.getByLabel('Name').fill('e2e printer watcher')
      await page.getByLabel('Command').fill(`node ${fixture} 2`)
      // A value the server refuses: its message appears beside the field, the form stays.
      await page.getByLabel('Max restarts').fill('5000')
      await page.getByRole('button', { name: 'Create agent' }).click()
      const maxRestarts = page.getByLabel('Max restarts')
      await expect
        .poll(async () => maxRestarts.getAttribute('aria-invalid'), { timeout: 20_000 })
        .toBe('true')
      const describedBy = (await maxRestarts.getAttribute('aria-describedby'))!.split(' ')
      const fieldError = await page.locator(`[id="${describedBy[describedBy.length - 1]}"]`).innerText()
      expect(fieldError).toMatch(/maxRestarts/)
      await shoot(page, 'agent-new')

      await maxRestarts.fill('3')
      await page.getByRole('button', { name: 'Create agent' }).click()
      await page.getByRole('heading', { name: 'e2e printer watcher', level: 1 }).waitFor()
      // Edit: the form opens with what was saved; the change shows once saved.
      await page.getByRole('button', { name: 'Edit' }).click()
      expect(await page.getByLabel('Command').inputValue()).toBe(`node ${fixture} 2`)
      await page.getByLabel('Memory limit (MB)').fill('256')
      await page.getByRole('button', { name: 'Save' }).click()
      await page.getByText('256 MB').waitFor()
      const log = page.getByRole('log', { name: 'Agent output' })
      await log.getByText('No output yet.').waitFor()

      await page.getByRole('button', { name: 'Start e2e printer watcher', exact: true }).click()
      const dialog = page.getByRole('dialog', { name: 'Start agent' })
      await dialog.getByRole('button', { name: 'Start', exact: true }).click()
      // The lines arrive over the live feed: no reload.
      await log.getByText('ready').waitFor({ timeout: 30_000 })
      expect(await log.innerText()).toContain('line 2')
      await page.getByRole('button', { name: 'Stop e2e printer watcher', exact: true }).waitFor()
      await page.getByRole('main').getByText('running', { exact: true }).first().waitFor()

      // Search narrows the tail to matching lines.
      await page.getByRole('searchbox', { name: 'Search' }).fill('line 1')
      await expect.poll(() => log.innerText(), { timeout: 20_000 }).not.toContain('ready')
      await page.getByRole('searchbox', { name: 'Search' }).fill('')
      await shoot(page, 'agent')

      await page.getByRole('navigation').getByRole('link', { name: 'Agents' }).click()
      const row = page.getByRole('row', { name: /e2e printer watcher/ })
      await row.getByText('running').waitFor()
      await shoot(page, 'agents')
      await page.getByRole('navigation').getByRole('link', { name: 'Overview' }).click()
      await page.getByRole('heading', { name: 'Host now' }).waitFor()
      await page.getByText('1 running').waitFor()
      await shoot(page, 'overview')

      await page.getByRole('navigation').getByRole('link', { name: 'Agents' }).click()
      await page.getByRole('link', { name: 'e2e printer watcher' }).click()
      await page.getByRole('button', { name: 'Stop e2e printer watcher', exact: true }).click()
      await page
        .getByRole('dialog', { name: 'Stop agent' })
        .getByRole('button', { name: 'Stop', exact: true })
        .click()
      await page
        .getByRole('button', { name: 'Start e2e printer watcher', exact: true })
        .waitFor({ timeout: 30_000 })

      await page.getByRole('button', { name: 'Delete e2e printer watcher', exact: true }).click()
      await page
        .getByRole('dialog', { name: 'Delete agent' })
        .getByRole('button', { name: 'Delete', exact: true })
        .click()
      await page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor()
      await page.getByText('No agents yet.').waitFor()
      const left = await fetch(`${server.baseUrl}/api/myntrix/agents`, {
        headers: { authorization: `Bearer ${adminToken}` },
      }).then((r) => r.json() as Promise<unknown[]>)
      expect(left).toEqual([])
    } finally {
      await context.close()
    }
  })

  it('shows users, API keys (a new key once) and the audit log to an admin', async () => {
    const { context, page } = await newPage()
    try {
      await logIn(page, server.baseUrl, 'admin', server.adminPassword)
      await page.getByRole('navigation').getByRole('link', { name: 'Admin' }).click()
      await page.getByRole('row', { name: /vera/ }).waitFor()
      await page.getByLabel('Key name').fill('ci exporter')
      await page.getByRole('button', { name: 'Create key' }).click()
      const key = page.getByLabel('The new key, shown once')
      await key.waitFor()
      expect(await key.inputValue()).toMatch(/^myx_/)
      await page.getByRole('button', { name: 'Done' }).click()
      // Revoking asks in its own dialog (the page has others: each is named by its own title).
      await page.getByRole('button', { name: 'Revoke ci exporter' }).click()
      await page
        .getByRole('dialog', { name: 'Revoke API key' })
        .getByRole('button', { name: 'Revoke' })
        .click()
      await page
        .getByRole('row', { name: /ci exporter/ })
        .getByText('revoked')
        .waitFor()
      // The audit log filters by action. A refused login of this test's own, under its action:
      const refused = await fetch(`${server.baseUrl}/api/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: 'not-the-password' }),
      })
      expect(refused.status).toBe(401)
      const audit = page.getByRole('table', { name: 'Audit log' })
      // An action cell reads "login" or "login ×3" (coalesced repeats).
      const cells = (action: string) =>
        audit.getByRole('cell', { name: new RegExp(`^${action.replace('.', '\\.')}( ×\\d+)?$`) }).count()
      // While a filter's answer loads, the table still shows the previous one: wait for the counts
      // only the filtered answer gives, never for the first matching cell.
      await page.getByLabel('Filter by action').fill('login.failed')
      await expect
        .poll(async () => [(await cells('login.failed')) > 0, await cells('login')], { timeout: 20_000 })
        .toEqual([true, 0])
      // The admin's logins, without the refused ones.
      await page.getByLabel('Filter by action').fill('login')
      await expect
        .poll(async () => [(await cells('login')) > 0, await cells('login.failed')], { timeout: 20_000 })
        .toEqual([true, 0])
      await shoot(page, 'admin')
    } finally {
      await context.close()
    }
  })

  it('gives a viewer no enabled control that would change anything', async () => {
    const { context, page } = await newPage()
    try {
      await logIn(page, server.baseUrl, VIEWER.username, VIEWER.password)
      expect(await page.getByText('viewer', { exact: true }).first().isVisible()).toBe(true)
      for (const area of ['Overview', 'Agents', 'Devices', 'Resources', 'Tasks', '3D', 'Admin']) {
        await page.getByRole('navigation').getByRole('link', { name: area }).click()
        await page.getByRole('heading', { level: 1, name: area }).waitFor()
        // Let the page's data arrive before looking for controls.
        await page.getByRole('status').filter({ hasText: 'Loading' }).first().waitFor({ state: 'detached' })
        // Controls that only choose what is shown (the Resources window and job filters) change nothing.
        const viewOnly = VIEW_CONTROLS[area] ?? []
        expect((await enabledControls(page)).sort(), area).toEqual(['button:Log out', ...viewOnly].sort())
      }
      await shoot(page, 'viewer-admin')
    } finally {
      await context.close()
    }
  })

  it('shows a lost live feed as reconnecting, and recovers by itself', async () => {
    const { context, page } = await newPage()
    try {
      // The scene feed goes through the test: it can drop the connection and refuse new ones.
      let refuse = false
      let live: import('playwright-core').WebSocketRoute | null = null
      await page.routeWebSocket('**/ws/myntrix/visualization', (ws) => {
        if (refuse) {
          ws.close({ code: 1011, reason: 'test: server away' })
          return
        }
        ws.connectToServer()
        live = ws
      })
      await logIn(page, server.baseUrl, 'admin', server.adminPassword)
      await page.getByRole('navigation').getByRole('link', { name: 'Agents' }).click()
      await page.getByText('No agents yet.').waitFor()
      await expect.poll(() => live !== null, { timeout: 20_000 }).toBe(true)

      refuse = true
      await live!.close({ code: 1011, reason: 'test: connection lost' })
      const banner = page.getByRole('status').filter({ hasText: 'Live updates reconnecting' })
      await banner.waitFor()

      refuse = false
      await banner.waitFor({ state: 'detached', timeout: 20_000 })
      // The feed is back: an agent created elsewhere shows up without a reload.
      const created = await fetch(`${server.baseUrl}/api/myntrix/agents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'made elsewhere' }),
      }).then((r) => r.json() as Promise<{ id: string }>)
      await page.getByRole('link', { name: 'made elsewhere' }).waitFor()
      await fetch(`${server.baseUrl}/api/myntrix/agents/${created.id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${adminToken}` },
      })
    } finally {
      await context.close()
    }
  })

  it('pages a list longer than a page, keeps the page in the address, and counts every agent', async () => {
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${server.baseUrl}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      })
    const ids: string[] = []
    for (let i = 0; i < 105; i += 15) {
      const batch = Array.from({ length: Math.min(15, 105 - i) }, (_, k) =>
        api('/api/myntrix/agents', {
          method: 'POST',
          body: JSON.stringify({ name: `paged-${String(i + k).padStart(3, '0')}` }),
        }).then((r) => r.json() as Promise<{ id: string }>),
      )
      for (const created of await Promise.all(batch)) ids.push(created.id)
    }
    const { context, page } = await newPage()
    try {
      await logIn(page, server.baseUrl, 'admin', server.adminPassword)
      await page.getByRole('navigation').getByRole('link', { name: 'Agents' }).click()
      const pager = page.getByRole('navigation', { name: 'Pages of agents' })
      await pager.getByText('1–100 of 105 agents').waitFor()
      expect(await page.getByRole('table').getByRole('row').count()).toBe(101)
      // The total counts every agent, not the page.
      await expect.poll(() => page.getByRole('definition').first().innerText()).toBe('105')
      await pager.getByRole('button', { name: 'Next page' }).click()
      await pager.getByText('101–105 of 105 agents').waitFor()
      expect(new URL(page.url()).searchParams.get('page')).toBe('2')
      expect(await page.getByRole('table').getByRole('row').count()).toBe(6)
      expect(await pager.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true)
      // A reload keeps the page; Back returns to the first.
      await page.reload()
      await pager.getByText('101–105 of 105 agents').waitFor()
      await page.goBack()
      await pager.getByText('1–100 of 105 agents').waitFor()
    } finally {
      await context.close()
      for (const id of ids) await api(`/api/myntrix/agents/${id}`, { method: 'DELETE' })
    }
  })
})
