// Starts wire-emulator.ts on the emulator end of a pty, stdin and stdout piped
// (it exits when its stdin closes; it prints `ready`, `done ...` and with
// --echo every line it executes).

import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

export function spawnWireEmulator(ptyPath: string, expectedMoves: number, flags: string[]): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'wire-emulator.ts'), ptyPath, String(expectedMoves), ...flags],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
}
