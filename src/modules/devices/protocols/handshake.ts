// Shared by firmware handshakes: a board that resets when the port opens
// (USB DTR) is deaf while it boots and then prints a banner, which fails the
// command in flight; asking again covers both cases.

import { TimeoutError } from '../../../errors.js'
import type { CommandResult, ProtocolSession } from './types.js'

export async function askUntilAnswered(
  session: ProtocolSession,
  command: string,
  attempts = 3,
): Promise<CommandResult> {
  let last: unknown
  for (let i = 0; i < attempts; i++) {
    try {
      return await session.command(command, { timeoutMs: session.config.handshakeTimeoutMs })
    } catch (err) {
      const flags = err as { timedOut?: boolean; reset?: boolean }
      if (!flags.timedOut && !flags.reset) throw err
      last = err
    }
  }
  throw new TimeoutError(
    `the firmware did not answer ${command} (${attempts} attempts of ${session.config.handshakeTimeoutMs} ms)`,
    { cause: last },
  )
}
