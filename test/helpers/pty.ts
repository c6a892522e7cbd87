// Pseudo-terminal pairs through socat: the device under test opens one end
// through the real serialport stack, an emulator holds the other. Killing the
// pair is what a pulled USB cable looks like to the device side.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const hasSocat = spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0

export interface PtyPair {
  /** The end the device under test opens. */
  readonly devicePath: string
  /** The end the emulator opens. */
  readonly emulatorPath: string
  readonly pid: number
  /** Kills socat by pid and waits for it to exit; idempotent. */
  stop(): Promise<void>
}

/** A fresh temporary directory for pty links (removed by removePtyDir). */
export function makePtyDir(): string {
  return mkdtempSync(join(tmpdir(), 'myntrix-pty-'))
}

export function removePtyDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

/**
 * Starts `socat` with two linked ptys at `<dir>/device` and `<dir>/emulator`.
 * Calling it again with the same dir after stop() recreates the same paths,
 * as a device plugged back in would. `deviceName` puts the device end
 * elsewhere, for a test that moves it into place once the emulator listens.
 */
export function startPtyPair(dir: string, deviceName = 'device'): Promise<PtyPair> {
  const devicePath = join(dir, deviceName)
  const emulatorPath = join(dir, 'emulator')
  const child: ChildProcess = spawn(
    'socat',
    ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${emulatorPath}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
  return new Promise((resolve, reject) => {
    let stderr = ''
    const onData = (chunk: Buffer) => {
      stderr += chunk.toString()
      // socat logs this once both ptys exist and their links are in place.
      if (stderr.includes('starting data transfer loop')) {
        child.stderr?.off('data', onData)
        child.stderr?.resume()
        resolve({ devicePath, emulatorPath, pid: child.pid!, stop })
      }
    }
    child.stderr?.on('data', onData)
    child.once('error', reject)
    child.once('exit', (code) =>
      reject(new Error(`socat exited with ${code} before it was ready: ${stderr}`)),
    )
  })
}
