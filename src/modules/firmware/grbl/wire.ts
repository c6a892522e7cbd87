// What GRBL 1.1 reads off the wire besides lines: the real-time bytes it
// picks out of the stream wherever they appear, and the receive buffer a host
// may fill (the last field of `$I`'s OPT; 128 bytes on an Arduino Uno build).

export const GRBL_REALTIME = {
  statusQuery: 0x3f, // ?
  feedHold: 0x21, // !
  cycleStart: 0x7e, // ~
  softReset: 0x18, // Ctrl-X
} as const

/** The receive buffer until the firmware says otherwise. */
export const GRBL_DEFAULT_RX_BUFFER = 128
