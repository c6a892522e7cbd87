// Orphan recovery with real orphans: a stand-in server is killed with SIGKILL and
// leaves its agent (and the agent's grandchild) running.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { ProcessIdentity } from '../../../src/process/identity.js'
import { endOrphan, inspectOrphan } from '../../../src/process/orphans.js'
import { parseProcStat, readBootId } from '../../../src/process/proc.js'
import { fixture, isAlive } from './helpers.js'

interface Orphan extends ProcessIdentity {
  grandchild: number
}

let host: ChildProcess | null = null
let leftovers: number[] = []
let dir: string | null = null

afterEach(async () => {
  if (host && host.exitCode === null && host.signalCode === null) {
    host.kill('SIGKILL')
    await new Promise((r) => host!.once('exit', r))
  }
  host = null
  for (const pgid of leftovers) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // gone
    }
  }
  leftovers = []
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = null
})

/** Starts the stand-in server, waits for its agent, kills the server with SIGKILL. */
async function orphanAnAgent(): Promise<Orphan> {
  dir = mkdtempSync(join(tmpdir(), 'myntrix-orphans-'))
  host = spawn(process.execPath, ['--import', 'tsx', fixture('hosts-supervisor.mjs'), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const h = host
  const record = await new Promise<Orphan>((resolve, reject) => {
    let buf = ''
    h.stdout!.on('data', (c: Buffer) => {
      buf += c.toString()
      const nl = buf.indexOf('\n')
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)))
    })
    h.once('exit', (code) => reject(new Error(`host exited early with ${code}`)))
  })
  leftovers.push(record.pid)
  h.kill('SIGKILL')
  await new Promise((r) => h.once('exit', r))
  return record
}

describe('orphan recovery', () => {
  it('finds the agent left by a killed server and ends its whole group', async () => {
    const orphan = await orphanAnAgent()
    expect(isAlive(orphan.pid)).toBe(true)
    expect(isAlive(orphan.grandchild)).toBe(true)
    expect(inspectOrphan(orphan)).toBe('leader-alive')
    // The grandchild ignores SIGTERM, so ending the group needs SIGKILL.
    const result = await endOrphan(orphan, 200)
    expect(result).toEqual({ verdict: 'leader-alive', ended: true, killed: true })
    expect(isAlive(orphan.pid)).toBe(false)
    expect(isAlive(orphan.grandchild)).toBe(false)
    expect(inspectOrphan(orphan)).toBe('gone')
    expect(await endOrphan(orphan, 200)).toEqual({ verdict: 'gone', ended: false, killed: false })
  })

  it('ends what is left of the group when the leader itself already died', async () => {
    const orphan = await orphanAnAgent()
    process.kill(orphan.pid, 'SIGKILL')
    // Wait until the leader is no longer a live process (it may linger as a zombie).
    while (isAlive(orphan.pid)) await new Promise((r) => setTimeout(r, 10))
    expect(inspectOrphan(orphan)).toBe('group-alive')
    const result = await endOrphan(orphan, 100)
    expect(result.ended).toBe(true)
    expect(isAlive(orphan.grandchild)).toBe(false)
  })

  it('never touches a pid that now belongs to another process', async () => {
    const orphan = await orphanAnAgent()
    const impostor = { ...orphan, startTicks: (orphan.startTicks ?? 0) + 1 }
    expect(inspectOrphan(impostor)).toBe('reused')
    expect(await endOrphan(impostor, 100)).toEqual({ verdict: 'reused', ended: false, killed: false })
    expect(isAlive(orphan.pid)).toBe(true)
  })

  it('refuses a record without start time, and one from another boot', async () => {
    const orphan = await orphanAnAgent()
    expect(inspectOrphan({ ...orphan, startTicks: null })).toBe('unverifiable')
    expect(inspectOrphan({ ...orphan, bootId: 'another-boot' })).toBe('gone')
    expect(isAlive(orphan.pid)).toBe(true)
  })

  it('says gone for a pid that does not exist', () => {
    expect(inspectOrphan({ pid: 2 ** 22 + 7, startTicks: 1, bootId: readBootId() })).toBe('gone')
  })
})

describe('parseProcStat', () => {
  it('reads fields after a comm that contains spaces and parentheses', () => {
    const text =
      '4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 98765 1000000 250 18446744073709551615'
    expect(parseProcStat(text)).toEqual({
      pid: 4242,
      comm: 'we (ird) name',
      state: 'S',
      ppid: 1,
      pgrp: 4242,
      cpuTicks: 13,
      startTicks: 98765,
      rssPages: 250,
    })
  })

  it('returns null for garbage', () => {
    expect(parseProcStat('nonsense')).toBeNull()
    expect(parseProcStat('1 (x) S 1 2')).toBeNull()
  })
})
