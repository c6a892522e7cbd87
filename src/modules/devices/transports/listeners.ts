// The half every transport shares: who hears its bytes and its drop. A
// transport calls emitData for what the device sent and emitClose once when the
// link drops by itself (never after its own close()).

import type { TransportError } from './types.js'

export abstract class TransportListeners {
  private readonly dataListeners: ((chunk: Buffer) => void)[] = []
  private readonly closeListeners: ((err?: TransportError) => void)[] = []

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener)
  }

  onClose(listener: (err?: TransportError) => void): void {
    this.closeListeners.push(listener)
  }

  protected emitData(chunk: Buffer): void {
    for (const l of this.dataListeners) l(chunk)
  }

  protected emitClose(reason: TransportError): void {
    for (const l of this.closeListeners) l(reason)
  }
}
