// Emulator registry: a new simulated firmware is one file plus one entry.

import { GrblEmulator } from './grbl.js'
import { JsonlEmulator, LineEchoEmulator } from './line.js'
import { MarlinEmulator } from './marlin.js'
import type { FirmwareEmulator } from './types.js'

export type EmulatorName = 'marlin' | 'grbl' | 'line' | 'jsonl'

export const emulators: Record<EmulatorName, (options?: Record<string, unknown>) => FirmwareEmulator> = {
  marlin: (o) => new MarlinEmulator(o),
  grbl: (o) => new GrblEmulator(o),
  line: () => new LineEchoEmulator(),
  jsonl: (o) => new JsonlEmulator(o),
}

export type { FirmwareEmulator } from './types.js'
export { GrblEmulator, JsonlEmulator, LineEchoEmulator, MarlinEmulator }
