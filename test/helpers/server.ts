// A real Myntrix server as an operator runs it: the compiled build in dist/
// (and the console in web/dist), started as its own process on a free port
// with a temporary data directory on SQLite. Used by the start-up and
// browser tests; they skip with the reason from whyNotBuilt() when there is
// no fresh build (CI builds first; locally run `npm run build`).

import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort } from './ports.js'

export const root = path.resolve(import.meta.dirname, '../..')

export function newestMtimeMs(dir: string): number {
  let newest = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs)
  }
  return newest
}

/** Null when dist/ and web/dist/ hold a build at least as new as the sources, else why not. */
export function whyNotBuilt(): string | null {
  const server = path.join(root, 'dist/main.js')
  const console = path.join(root, 'web/dist/index.html')
  if (!fs.existsSync(server)) return 'no server build (dist/main.js); run `npm run build`'
  if (!fs.existsSync(console)) return 'no console build (web/dist/index.html); run `npm run build`'
  if (newestMtimeMs(path.join(root, 'src')) > fs.statSync(server).mtimeMs) {
    return 'dist/ is older than src/; run `npm run build`'
  }
  if (newestMtimeMs(path.join(root, 'web/src')) > fs.statSync(console).mtimeMs) {
    return 'web/dist/ is older than web/src/; run `npm run build`'
  }
  return null
}

export interface RunningServer {
  child: ChildProcess
  baseUrl: string
  port: number
  dataDir: string
  adminPassword: string
  output(): string
  /** Resolves with the exit code, or the signal's name when a signal ended it. */
  exited: Promise<number | string>
  /** SIGTERM, wait for the exit, remove the data directory. */
  stop(): Promise<number | string>
}

export interface StartOptions {
  /** argv: default the command `npm start` runs after its build. */
  command?: string[]
  env?: Record<string, string>
}

export const ADMIN_PASSWORD = 'admin-password-1'

export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-server-'))
  const port = await freePort()
  const [cmd, ...args] = options.command ?? ['node', 'dist/main.js']
  const child = spawn(cmd!, args, {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: os.tmpdir(),
      MYNTRIX_DATA_DIR: dataDir,
      MYNTRIX_PORT: String(port),
      MYNTRIX_ADMIN_PASSWORD: ADMIN_PASSWORD,
      MYNTRIX_LOG_LEVEL: 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d) => {
    out += d
  })
  child.stderr!.on('data', (d) => {
    out += d
  })
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  )
  const baseUrl = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  let up = false
  let ended = false
  void exited.then(() => {
    ended = true
  })
  while (!up && !ended && Date.now() < deadline) {
    up = (await fetch(`${baseUrl}/healthz`).catch(() => undefined))?.status === 200
    if (!up) await new Promise((r) => setTimeout(r, 50))
  }
  if (!up) {
    child.kill('SIGKILL')
    await exited
    fs.rmSync(dataDir, { recursive: true, force: true })
    throw new Error(`server did not answer /healthz: ${out.slice(-2000)}`)
  }
  return {
    child,
    baseUrl,
    port,
    dataDir,
    adminPassword: ADMIN_PASSWORD,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const code = await exited
      fs.rmSync(dataDir, { recursive: true, force: true })
      return code
    },
  }
}

/** One JSON call with a bearer token: the status and the parsed body (undefined when empty). */
export async function jsonRequest(
  baseUrl: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

/** A bearer token for a user of a running server, from its login endpoint. */
export async function apiToken(baseUrl: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${baseUrl}/api/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  if (res.status !== 200) throw new Error(`login ${username} failed: ${res.status}`)
  return ((await res.json()) as { access_token: string }).access_token
}
