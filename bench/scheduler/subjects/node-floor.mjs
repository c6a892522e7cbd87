// The least a process on Myntrix's stack (Node 20 + better-sqlite3 12) can be: it opens a SQLite file in WAL mode, makes one read,
// and waits on a timer. No scheduler, no tasks: a floor for the RSS row, not a peer.
// Usage: node-floor.mjs <tasks> <schedule> <seconds> (the first two are ignored)
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'

const seconds = Number(process.argv[4])
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myntrix-bench-floor-'))
const db = new Database(path.join(dir, 'floor.db'))
db.pragma('journal_mode = WAL')
db.exec('create table t (id integer primary key, next_run_at text)')
db.prepare('select min(next_run_at) from t').get()
globalThis.gc?.()
process.stdout.write('ready\n')
await new Promise((r) => setTimeout(r, seconds * 1000))
db.close()
fs.rmSync(dir, { recursive: true, force: true })
process.stdout.write(`${JSON.stringify({ lateness: { count: 0, p50: null, p99: null, max: null } })}\n`)
