// Why a transfer stopped. Flags follow the driver convention (canceled,
// disconnected, timedOut); the service branches on them, never on text.

import { flaggedError } from '../../errors.js'

export interface TransferErrorFlags {
  disconnected?: boolean
  timedOut?: boolean
  /** The firmware refused a line (GRBL `error:N`) or stopped itself (alarm, halt, reset). */
  firmware?: boolean
  /** The firmware stopped itself (alarm, halt, reset): the machine, not the file, ended the job. */
  machineStopped?: boolean
  canceled?: boolean
}

export class TransferError extends flaggedError(502, 'transfer-failed', [
  'disconnected',
  'timedOut',
  'firmware',
  'machineStopped',
  'canceled',
] satisfies (keyof TransferErrorFlags)[]) {
  /** Wraps a connection's error, keeping its flags. */
  static from(err: unknown, context: string): TransferError {
    if (err instanceof TransferError) return err
    const e = err as {
      message?: string
      disconnected?: boolean
      timedOut?: boolean
      canceled?: boolean
      reset?: boolean
    }
    return new TransferError(
      `${context}: ${e?.message ?? String(err)}`,
      {
        disconnected: e?.disconnected === true,
        timedOut: e?.timedOut === true,
        canceled: e?.canceled === true,
        firmware: e?.reset === true,
        machineStopped: e?.reset === true,
      },
      err,
    )
  }
}
