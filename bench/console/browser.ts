// The console in real headless Chromium (Debian's), against the built server
// on a temporary SQLite database, as an operator's browser meets it:
//
// 1. Navigation to the agents list with 1,000 agents: from navigation start
//    (the page's time origin) to the list's rows in the DOM, a first visit
//    (fresh browser context, empty cache) and repeat visits (assets cached, as
//    their hashed names allow). The floor is the same answer drawn with
//    nothing else: a page on the same origin that fetches the same first page
//    of agents with the same cookie and appends the rows with plain DOM calls.
// 2. The overview while 100 devices stream telemetry at 10 Hz: 100 `jsonl`
//    devices over TCP from a feeder in this process (one JSON object a device
//    every 100 ms), connected through the API; the overview open for
//    BENCH_SECONDS; the browser's own Long Tasks API counts every task over
//    50 ms, and the target is none over 200 ms.
//
//   npm run build && npx tsx bench/console/browser.ts     # BENCH_RUNS=10 BENCH_SECONDS=30

import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { launchChromium } from '../../test/helpers/browser.js'
import { startServer } from '../../test/helpers/server.js'

// The console's page size, read from its source so the two never disagree.
const PAGE_SIZE = Number(
  /export const PAGE_SIZE = (\d+)/.exec(
    fs.readFileSync(path.resolve(import.meta.dirname, '../../web/src/api/paging.ts'), 'utf8'),
  )?.[1],
)
const RUNS = Number(process.env.BENCH_RUNS ?? 10)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30)
const AGENTS = 1000
const DEVICES = 100
const HZ = 10

const server = await startServer({ env: { MYNTRIX_LOG_LEVEL: 'warn' } })
const chromium = await launchChromium()
const feeder = net.createServer()
const sockets = new Set<net.Socket>()

async function main() {
  const base = server.baseUrl
  const token = await fetch(`${base}/api/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: server.adminPassword }),
  }).then((r) => r.json() as Promise<{ access_token: string }>)
  const api = (path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (r) => {
      if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`)
      return r.json() as Promise<{ id: string }>
    })

  for (let i = 0; i < AGENTS; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, k) =>
        api('/api/myntrix/agents', {
          name: `agent-${String(i + k).padStart(4, '0')}`,
          command: 'sleep 3600',
        }),
      ),
    )
  }
  const rows = Math.min(AGENTS, PAGE_SIZE)

  const session = async (): Promise<BrowserContext> => {
    const context = await chromium.browser.newContext({ baseURL: base })
    const r = await context.request.post('/api/auth/session', {
      data: { username: 'admin', password: server.adminPassword },
    })
    if (!r.ok()) throw new Error(`session: ${r.status()}`)
    return context
  }

  /** Navigation start to `rows` rows in the first table, read in the page (rAF polling). */
  const drawn = async (page: Page, url: string) => {
    await page.goto(url, { waitUntil: 'commit' })
    // A function, not a string: the console's CSP forbids eval. Typed through globalThis,
    // since this file is compiled without the DOM library.
    await page.waitForFunction(
      (n: number) =>
        (
          globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }
        ).document.querySelectorAll('table tbody tr').length >= n,
      rows,
      { polling: 'raf', timeout: 60_000 },
    )
    return page.evaluate<number>('performance.now()')
  }

  // The floor: the same first page of agents, fetched with the same cookie, drawn with plain DOM.
  const floorHtml = `<!doctype html><meta charset="utf-8"><title>floor</title><table><tbody></tbody></table>
<script type="module">
const r = await fetch('/api/myntrix/agents?offset=0&limit=${PAGE_SIZE}', { credentials: 'include' })
const tbody = document.querySelector('tbody')
const frag = document.createDocumentFragment()
for (const a of await r.json()) {
  const tr = document.createElement('tr')
  for (const v of [a.name, a.type, a.status, a.health, a.cpuPercent, a.memoryBytes, a.restarts, a.lastRun]) {
    const td = document.createElement('td'); td.textContent = String(v ?? '—'); tr.append(td)
  }
  frag.append(tr)
}
tbody.append(frag)
</script>`

  const subjects = [
    { name: 'console /agents', url: `${base}/agents` },
    { name: 'floor (same fetch, plain DOM)', url: `${base}/bench-floor` },
  ]
  const results: Record<string, { first: number; repeat: number[] }> = {}
  for (const subject of subjects) {
    const context = await session()
    await context.route(`${base}/bench-floor`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: floorHtml }),
    )
    const page = await context.newPage()
    const first = await drawn(page, subject.url)
    const repeat: number[] = []
    for (let i = 0; i < RUNS; i++) {
      await page.goto('about:blank')
      repeat.push(await drawn(page, subject.url))
    }
    results[subject.name] = { first, repeat }
    await context.close()
  }

  // 2. The overview with 100 devices streaming at 10 Hz.
  await new Promise<void>((resolve) => feeder.listen(0, '127.0.0.1', resolve))
  const port = (feeder.address() as net.AddressInfo).port
  let lines = 0
  feeder.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  const ids: string[] = []
  for (let i = 0; i < DEVICES; i++) {
    const d = await api('/api/myntrix/devices', {
      name: `sensor-${String(i).padStart(3, '0')}`,
      type: 'sensor',
      connectionString: `tcp://127.0.0.1:${port}`,
      configuration: { protocol: 'jsonl' },
    })
    ids.push(d.id)
  }
  for (let i = 0; i < DEVICES; i += 20) {
    await Promise.all(ids.slice(i, i + 20).map((id) => api(`/api/myntrix/devices/${id}/connect`, {})))
  }
  let tick = 0
  const timer = setInterval(() => {
    tick++
    for (const s of sockets) {
      s.write(
        `${JSON.stringify({ temperature: 20 + Math.sin(tick / 10) * 5, humidity: 40 + (tick % 7), tick })}\n`,
      )
      lines++
    }
  }, 1000 / HZ)

  const context = await session()
  const page = await context.newPage()
  // Page scripts are strings: this file is compiled without the DOM library.
  const LONG_TASKS = 'window.longTasks'
  await page.addInitScript({
    content: `window.longTasks = []
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.longTasks.push(e.duration) })
  .observe({ type: 'longtask', buffered: true })`,
  })
  let frames = 0
  page.on('websocket', (ws) => {
    if (ws.url().endsWith('/ws/myntrix/visualization')) ws.on('framereceived', () => frames++)
  })
  await page.goto(`${base}/`)
  await page.getByRole('heading', { name: 'Overview' }).waitFor()
  // Start counting once the page has settled after its first paint.
  await page.evaluate(`${LONG_TASKS} = []`)
  const framesBefore = frames
  const linesBefore = lines
  await new Promise((r) => setTimeout(r, SECONDS * 1000))
  const longTasks = await page.evaluate<number[]>(LONG_TASKS)
  const sceneFrames = frames - framesBefore
  const fed = lines - linesBefore
  clearInterval(timer)
  // The observer's self-check: a 250 ms busy loop in the page must be reported as a long
  // task, or a count of zero above would mean nothing.
  // A task of the page's own event loop (a script evaluated from outside is not one).
  await page.evaluate(`${LONG_TASKS} = []
setTimeout(() => { const t = performance.now(); while (performance.now() - t < 250) {} }, 0)`)
  await page.waitForTimeout(1000)
  const check = await page.evaluate<number[]>(LONG_TASKS)
  if (!check.some((d) => d >= 250)) throw new Error(`the long-task observer missed a 250 ms task: ${check}`)
  await context.close()

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const p95 = (xs: number[]) =>
    [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)]!
  const load = os.loadavg()[0]!.toFixed(2)
  console.log(
    `\nNode ${process.version}, ${os.cpus().length} cores, load ${load}; ${AGENTS} agents, page size ${PAGE_SIZE}, ${RUNS} repeat visits`,
  )
  console.log('\n| navigation → agents list drawn | first visit ms | repeat median ms | repeat p95 ms |')
  console.log('| --- | ---: | ---: | ---: |')
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `| ${name} | ${r.first.toFixed(0)} | ${median(r.repeat).toFixed(0)} | ${p95(r.repeat).toFixed(0)} |`,
    )
  }
  const c = results[subjects[0]!.name]!
  const f = results[subjects[1]!.name]!
  console.log(`\nconsole / floor, repeat median: ${(median(c.repeat) / median(f.repeat)).toFixed(2)}`)
  const over200 = longTasks.filter((d) => d > 200).length
  console.log(`\n| overview, ${DEVICES} devices at ${HZ} Hz for ${SECONDS} s | value |`)
  console.log('| --- | ---: |')
  console.log(`| telemetry lines fed | ${fed} (${(fed / SECONDS).toFixed(0)}/s) |`)
  console.log(`| scene feed messages received | ${sceneFrames} (${(sceneFrames / SECONDS).toFixed(1)}/s) |`)
  console.log(`| long tasks (> 50 ms) | ${longTasks.length} |`)
  console.log(`| longest task ms | ${longTasks.length ? Math.max(...longTasks).toFixed(0) : '—'} |`)
  console.log(
    `| total blocking (sum of task - 50 ms) ms | ${longTasks.reduce((s, d) => s + d - 50, 0).toFixed(0)} |`,
  )
  console.log(`| tasks over 200 ms (target 0) | ${over200} |`)
  console.log(`| observer self-check: a 250 ms busy loop seen as | ${Math.max(...check).toFixed(0)} ms |`)
}

try {
  await main()
} finally {
  for (const s of sockets) s.destroy()
  feeder.close()
  await chromium.close()
  await server.stop()
}
