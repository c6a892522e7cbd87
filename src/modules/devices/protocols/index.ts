// Protocol registry: a new firmware dialect is one file plus one entry here.
// `mqtt` is not offered in configuration.protocol; the mqtt transport pins it.

import { grbl } from './grbl.js'
import { jsonl } from './jsonl.js'
import { line } from './line.js'
import { marlin } from './marlin.js'
import { mqtt } from './mqtt.js'
import type { ProtocolFactory } from './types.js'

export const protocols: Record<string, ProtocolFactory> = { line, jsonl, marlin, grbl, mqtt }

export type { CommandResult, Protocol, ProtocolEvent } from './types.js'
