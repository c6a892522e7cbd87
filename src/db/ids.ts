import { randomBytes } from 'node:crypto'

// UUID v7: 48-bit millisecond timestamp + random bits, so ids sort by creation
// time (index-friendly on both engines). A counter keeps ids from one process
// monotonic within a millisecond.
let lastMs = 0
let seq = 0

export function newId(): string {
  let ms = Date.now()
  if (ms <= lastMs) {
    ms = lastMs
    seq = (seq + 1) & 0xfff
    if (seq === 0) ms = ++lastMs
  } else {
    seq = randomBytes(2).readUInt16BE(0) & 0x7ff
  }
  lastMs = ms
  const b = randomBytes(16)
  b.writeUIntBE(ms, 0, 6)
  b[6] = 0x70 | (seq >> 8)
  b[7] = seq & 0xff
  b[8] = 0x80 | (b[8] & 0x3f)
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
