// Real headless Chromium (Debian's package) driven by playwright-core: no
// browser is downloaded, nothing phones home.

import fs from 'node:fs'
import { type Browser, chromium, type Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

/** Null when Chromium is there, else why the browser tests skip. */
export function whyNoChromium(): string | null {
  return fs.existsSync(CHROMIUM) ? null : `no ${CHROMIUM} (apt-get install chromium)`
}

export interface LaunchedBrowser {
  browser: Browser
  close(): Promise<void>
}

export async function launchChromium(): Promise<LaunchedBrowser> {
  // playwright-core itself starts Chromium with a fresh temporary --user-data-dir per launch
  // (and refuses one in args), so no profile carries over between runs.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // playwright-core adds its own headless and automation switches; these are the ones a
    // shared CI box needs: no sandbox as root, no GPU, no first-run or background traffic.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  })
  return {
    browser,
    async close() {
      await browser.close().catch(() => {})
    },
  }
}

/** Logs in through the console's form, as a person would, and waits for the session. */
export async function logIn(page: Page, baseUrl: string, username: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/`)
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByText(`Logged in as ${username}`).waitFor()
}
