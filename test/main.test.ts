// The real entry point as an operator runs it: a bad setting stops start-up
// with one line; a good one serves, prints the generated admin password once,
// and exits 0 on SIGTERM.

import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { freePort } from './helpers/ports.js'

const root = path.resolve(import.meta.dirname, '..')
const tsx = path.join(root, 'node_modules/.bin/tsx')

function run(env: Record<string, string>) {
  const child = spawn(tsx, ['src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d) => {
    out += d
  })
  child.stderr.on('data', (d) => {
    out += d
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output: () => out, exited }
}

describe('main', () => {
  it('stops with one clear line for a bad setting', async () => {
    const p = run({ MYNTRIX_PORT: 'abc' })
    expect(await p.exited).toBe(2)
    const lines = p.output().trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('MYNTRIX_PORT')
    expect(lines[0]).toContain('integer between 0 and 65535')
  })

  it('stops with one clear line for a bad area setting', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-main-'))
    try {
      const p = run({
        MYNTRIX_DATA_DIR: dataDir,
        MYNTRIX_AGENT_LOG_FILES: 'many',
        MYNTRIX_LOG_LEVEL: 'silent',
      })
      expect(await p.exited).toBe(2)
      const lines = p.output().trim().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain('MYNTRIX_AGENT_LOG_FILES')
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it.skipIf(process.getuid?.() !== 0)(
    'as root: tightens the data directory to 0700 and warns loudly when children run as root',
    async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-main-'))
      fs.chmodSync(dataDir, 0o755)
      const port = await freePort()
      const p = run({ MYNTRIX_DATA_DIR: dataDir, MYNTRIX_PORT: String(port), MYNTRIX_CHILD_USER: 'root' })
      try {
        let ok = false
        for (let i = 0; i < 400 && !ok; i++) {
          ok = (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200
          if (!ok) await new Promise((r) => setTimeout(r, 50))
        }
        expect(ok).toBe(true)
        expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700)
        expect(p.output()).toContain('AGENTS AND SCRIPT TASKS RUN AS ROOT')
        p.child.kill('SIGTERM')
        expect(await p.exited).toBe(0)
      } finally {
        p.child.kill('SIGKILL')
        fs.rmSync(dataDir, { recursive: true, force: true })
      }
    },
  )

  it('serves, prints the admin password once, and shuts down cleanly on SIGTERM', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-main-'))
    const port = await freePort()
    const p = run({ MYNTRIX_DATA_DIR: dataDir, MYNTRIX_PORT: String(port) })
    try {
      const base = `http://127.0.0.1:${port}`
      let health: Response | undefined
      for (let i = 0; i < 200 && !health; i++) {
        health = await fetch(`${base}/healthz`).catch(() => undefined)
        if (!health) await new Promise((r) => setTimeout(r, 50))
      }
      expect(health?.status).toBe(200)
      const match = /generated password (\S+)/.exec(p.output())
      expect(match).not.toBeNull()
      // The start-up line names where to go and where the state lives.
      const started = p
        .output()
        .split('\n')
        .find((l) => l.includes('Myntrix listening on'))
      expect(started).toContain(`http://127.0.0.1:${port}`)
      expect(started).toContain('database: sqlite')
      expect(started).toContain(dataDir)
      expect(started).toContain(`http://127.0.0.1:${port}/docs`)
      const token = await fetch(`${base}/api/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: match![1] }),
      }).then((r) => r.json() as Promise<{ access_token: string }>)
      const me = await fetch(`${base}/api/auth/me`, {
        headers: { authorization: `Bearer ${token.access_token}` },
      })
      expect(me.status).toBe(200)
      expect(p.output()).not.toContain(token.access_token)
      p.child.kill('SIGTERM')
      expect(await p.exited).toBe(0)

      // A second start on the same data: no new password, migrations are a no-op.
      const again = run({ MYNTRIX_DATA_DIR: dataDir, MYNTRIX_PORT: String(port) })
      let ok = false
      for (let i = 0; i < 200 && !ok; i++) {
        ok = (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200
        if (!ok) await new Promise((r) => setTimeout(r, 50))
      }
      expect(ok).toBe(true)
      expect(again.output()).not.toContain('generated password')
      again.child.kill('SIGTERM')
      expect(await again.exited).toBe(0)
    } finally {
      p.child.kill('SIGKILL')
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
