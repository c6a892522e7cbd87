import { randomFillSync } from 'node:crypto'

// UUID v7: 48-bit millisecond timestamp + random bits, so ids sort by creation
// time (index-friendly on both engines). A counter keeps ids from one process
// monotonic within a millisecond.
let lastMs = 0
let seq = 0

// Random bytes are drawn from the CSPRNG 4 KiB at a time: a busy scheduler
// second makes hundreds of ids, and one randomBytes() call per id (a Buffer
// and a trip into OpenSSL each) showed up in its profile.
const POOL_SIZE = 4096
const pool = Buffer.alloc(POOL_SIZE)
let poolOffset = POOL_SIZE
/** 16 bytes of id, then 2 that seed the in-millisecond counter. */
const id = Buffer.alloc(18)

function takeRandom(into: Buffer, count: number): void {
  if (poolOffset + count > POOL_SIZE) {
    randomFillSync(pool)
    poolOffset = 0
  }
  pool.copy(into, 0, poolOffset, poolOffset + count)
  // Bytes handed out are overwritten so nothing else can read them from the pool.
  pool.fill(0, poolOffset, poolOffset + count)
  poolOffset += count
}

export function newId(): string {
  let ms = Date.now()
  takeRandom(id, 18)
  if (ms <= lastMs) {
    ms = lastMs
    seq = (seq + 1) & 0xfff
    if (seq === 0) ms = ++lastMs
  } else {
    seq = id.readUInt16BE(16) & 0x7ff
  }
  lastMs = ms
  id.writeUIntBE(ms, 0, 6)
  id[6] = 0x70 | (seq >> 8)
  id[7] = seq & 0xff
  id[8] = 0x80 | (id[8]! & 0x3f)
  const h = id.toString('hex', 0, 16)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
