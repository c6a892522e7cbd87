// Emulator registry: a firmware's emulator lives in its folder under
// src/modules/firmware/; the generic line and jsonl echoes live here.

import { GrblEmulator } from '../../firmware/grbl/emulator.js'
import { MarlinEmulator } from '../../firmware/marlin/emulator.js'
import { JsonlEmulator, LineEchoEmulator } from './line.js'
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
