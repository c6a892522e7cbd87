// How a line looks on Marlin's wire: `N<n> <cmd>*<checksum>`, the framing
// OctoPrint and printcore send. The protocol frames with it, the emulator checks
// with it, and a host that streams without the connection (the minimal-loop
// benchmark) frames with it too: one checksum for all of them.

/** Marlin's checksum: XOR of every byte before the `*`. */
export function marlinChecksum(text: string): number {
  let cs = 0
  for (let i = 0; i < text.length; i++) cs ^= text.charCodeAt(i) & 0xff
  return cs
}

/** `N<n> <cmd>*<checksum>` without the line ending. */
export function marlinFrame(lineNumber: number, command: string): string {
  if (!Number.isInteger(lineNumber) || lineNumber < 0) {
    throw new RangeError(`lineNumber must be an integer >= 0, got ${lineNumber}`)
  }
  const body = `N${lineNumber} ${command}`
  return `${body}*${marlinChecksum(body)}`
}
