// Protocol registry: a new firmware is one folder under src/modules/firmware/
// (protocol, emulator, streamer, wire helpers) plus one entry here; a generic
// line dialect is one file in this folder. `mqtt` is not offered in
// configuration.protocol; the mqtt transport pins it.

import { grbl } from '../../firmware/grbl/protocol.js'
import { marlin } from '../../firmware/marlin/protocol.js'
import { jsonl } from './jsonl.js'
import { line } from './line.js'
import { mqtt } from './mqtt.js'
import type { ProtocolFactory } from './types.js'

export const protocols: Record<string, ProtocolFactory> = { line, jsonl, marlin, grbl, mqtt }

export type { CommandResult, Protocol, ProtocolEvent } from './types.js'
