// `line`: raw text both ways; the first line that arrives completes a command.

import type { ResolvedConfiguration } from '../configuration.js'
import type { Protocol, ProtocolEvent } from './types.js'

export class LineProtocol implements Protocol {
  readonly name = 'line'
  constructor(private readonly config: ResolvedConfiguration) {}

  encode(command: string): string {
    return command + this.config.lineEnding
  }

  onLine(_line: string, pending: string | null): ProtocolEvent[] {
    return pending === null ? [] : [{ kind: 'ok' }]
  }
}

export const line = (config: ResolvedConfiguration): Protocol => new LineProtocol(config)
