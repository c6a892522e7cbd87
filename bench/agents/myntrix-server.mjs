// A Myntrix server for the agents benchmarks: started from a built entry (the esbuild
// bundle of src/main.ts, or dist/main.js) on a free 127.0.0.1 port with a temporary data
// dir, logged in as the admin, with a small JSON client for its API.

import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** `env`: added to the server's own (e.g. MYNTRIX_NODE_NAME). Resolves once it answers. */
export async function startMyntrix(main, { cwd, env = {} }) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-bench-'))
  const port = await freePort()
  const password = 'bench-password-1'
  const server = spawn(process.execPath, [main], {
    cwd,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MYNTRIX_DATA_DIR: dataDir,
      MYNTRIX_PORT: String(port),
      MYNTRIX_HOST: '127.0.0.1',
      MYNTRIX_ADMIN_PASSWORD: password,
      MYNTRIX_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  let ended = false
  const exited = new Promise((r) => server.once('exit', r))
  void exited.then(() => {
    ended = true
  })
  const base = `http://127.0.0.1:${port}`
  for (;;) {
    if (ended) throw new Error('the server ended before it answered /healthz')
    if (
      await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break
    await sleep(50)
  }
  const login = await fetch(`${base}/api/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  })
  const { access_token: token } = await login.json()
  return {
    pid: server.pid,
    /** The parsed JSON answer; throws with the status and body on anything but 2xx. */
    async api(method, url, body) {
      const res = await fetch(`${base}${url}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      })
      const json = await res.json()
      if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`)
      return json
    },
    /** SIGTERM (the server stops its agents), then its data dir is removed. */
    async stop() {
      server.kill('SIGTERM')
      await exited
      fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
