// The half every transport shares: who hears its bytes and its drop, and how
// a write's outcome is told. A transport calls emitData for what the device
// sent and emitClose once when the link drops by itself (never after its own
// close()), and sets closedByUs in close(), so that a write that fails after
// that is the close's doing (canceled), not a dropped link (disconnected).

import { TransportError, toTransportError } from './types.js'

export abstract class TransportListeners {
  private readonly dataListeners: ((chunk: Buffer) => void)[] = []
  private readonly closeListeners: ((err?: TransportError) => void)[] = []
  protected closedByUs = false

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

  /**
   * Runs a driver's callback-style write as a promise. `closedText` is the
   * error's message when the write failed because we closed the link.
   */
  protected written(closedText: string, write: (done: (err?: Error | null) => void) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      write((err) => {
        if (!err) resolve()
        else if (this.closedByUs) reject(new TransportError(closedText, 'ECANCELED', { canceled: true }))
        else reject(toTransportError(err, 'EIO', { disconnected: true }))
      })
    })
  }
}
