// `sim://marlin` and `sim://grbl`: a built-in emulator behind the same
// Transport seam as a serial port, so demos need no hardware and exercise the
// same connection and protocol code.

import type { SimFirmware } from '../connection-string.js'
import { emulators } from '../sim/index.js'
import type { FirmwareEmulator } from '../sim/types.js'
import { TransportListeners } from './listeners.js'
import { type Transport, TransportError, type TransportFactory } from './types.js'

export class SimTransport extends TransportListeners implements Transport {
  private emulator: FirmwareEmulator | null = null

  constructor(
    readonly firmware: SimFirmware,
    private readonly emulatorOptions: Record<string, unknown> = {},
  ) {
    super()
  }

  /** The emulator behind the link while open (tests drive its hooks). */
  get device(): FirmwareEmulator | null {
    return this.emulator
  }

  async open(): Promise<void> {
    const emulator = emulators[this.firmware](this.emulatorOptions)
    // Output is delivered on a later turn, as bytes from a real port would be,
    // so the connection never re-enters itself from inside write().
    emulator.onOutput((data) => {
      const chunk = Buffer.from(data, 'latin1')
      setImmediate(() => {
        if (this.emulator !== emulator) return
        this.emitData(chunk)
      })
    })
    this.emulator = emulator
  }

  async write(data: Buffer): Promise<void> {
    const emulator = this.emulator
    if (!emulator)
      throw new TransportError('simulated device is not open', 'ENOTCONN', { disconnected: true })
    const copy = Buffer.from(data)
    setImmediate(() => {
      if (this.emulator === emulator) emulator.write(copy)
    })
  }

  async close(): Promise<void> {
    const emulator = this.emulator
    this.emulator = null
    emulator?.stop()
  }

  /** Simulates the cable being pulled: the link drops as a real port would. */
  unplug(): void {
    const emulator = this.emulator
    if (!emulator) return
    this.emulator = null
    emulator.stop()
    const err = new TransportError('simulated device unplugged', 'EIO', { disconnected: true })
    this.emitClose(err)
  }
}

export const sim: TransportFactory = {
  create(target, config) {
    if (target.scheme !== 'sim') throw new TypeError(`sim transport got a ${target.scheme} target`)
    const options = config.emulator
    return new SimTransport(
      target.firmware,
      options && typeof options === 'object' ? (options as Record<string, unknown>) : {},
    )
  },
}
