// Tells this process that another one committed to the shared database, so a
// sleeping engine can act on another process's edit at once instead of polling
// for it. Nothing wakes while nobody writes.
//
// - SQLite: an inotify watch (fs.watch) on the database's folder, filtered to
//   the database's own files; each burst of events reads `PRAGMA data_version`,
//   which changes only when another connection has committed. Our own writes
//   fire the watch too and are filtered out by that check.
// - PostgreSQL: LISTEN on one dedicated connection; writers that matter (task
//   edits, a process registering) call announceChange(), a pg_notify whose
//   payload is the schema, because a channel is shared by every schema of the
//   database.

import fs from 'node:fs'
import path from 'node:path'
import { type Kysely, sql } from 'kysely'
import pg from 'pg'
import type { DbEngine } from './types.js'

export const CHANGE_CHANNEL = 'myntrix_changes'

export interface ChangeWatch {
  close(): Promise<void>
}

export interface ChangeHandlers {
  /** Another process committed (SQLite: anything; PostgreSQL: an announced change). */
  onChange: () => void
  /** The feed stopped working (watch error, lost connection): poll from now on. */
  onLost: (err: Error) => void
}

/** Starts watching; null when the database cannot be shared (in memory) and nothing needs watching. */
export type WatchChanges = (handlers: ChangeHandlers) => Promise<ChangeWatch | null>

/**
 * A commit's WAL frames are written (and the watch fires) a moment before the
 * shared-memory index says the commit is there: a second look after this long
 * catches a commit the first look was too early for.
 */
const SQLITE_RECHECK_MS = 25

export function watchSqliteFile(file: string, dataVersion: () => number): WatchChanges {
  return async ({ onChange, onLost }) => {
    const base = path.basename(file)
    let seen = dataVersion()
    let immediate: NodeJS.Immediate | null = null
    let recheck: NodeJS.Timeout | null = null
    let closed = false
    const watcher = fs.watch(path.dirname(file), { persistent: false })
    const fail = (err: Error) => {
      if (closed) return
      closed = true
      watcher.close()
      onLost(err)
    }
    const look = () => {
      if (closed) return
      let now: number
      try {
        now = dataVersion()
      } catch (err) {
        // The connection was closed under the watch: report it rather than throw from a timer.
        fail(err as Error)
        return
      }
      if (now !== seen) {
        seen = now
        onChange()
      }
    }
    watcher.on('change', (_event, name) => {
      if (closed || (name && !String(name).startsWith(base))) return
      immediate ??= setImmediate(() => {
        immediate = null
        look()
      })
      if (recheck) recheck.refresh()
      else {
        recheck = setTimeout(() => {
          recheck = null
          look()
        }, SQLITE_RECHECK_MS)
        recheck.unref()
      }
    })
    watcher.on('error', fail)
    return {
      async close() {
        closed = true
        if (immediate) clearImmediate(immediate)
        if (recheck) clearTimeout(recheck)
        watcher.close()
      },
    }
  }
}

export function listenPostgres(config: pg.ClientConfig): WatchChanges {
  return async ({ onChange, onLost }) => {
    // TCP keep-alive (probed by the kernel, no wake-up here) so that a connection
    // a middlebox dropped without a word ends, and the engine falls back to polling.
    const client = new pg.Client({ ...config, keepAlive: true, keepAliveInitialDelayMillis: 60_000 })
    let closed = false
    const lost = (err: Error) => {
      if (closed) return
      closed = true
      void client.end().catch(() => {})
      onLost(err)
    }
    client.on('error', lost)
    client.on('end', () => lost(new Error('the LISTEN connection to PostgreSQL ended')))
    try {
      await client.connect()
      const schema = (await client.query<{ s: string }>('select current_schema() as s')).rows[0]!.s
      client.on('notification', (n) => {
        if (n.channel === CHANGE_CHANNEL && n.payload === schema) onChange()
      })
      await client.query(`listen ${CHANGE_CHANNEL}`)
    } catch (err) {
      closed = true
      await client.end().catch(() => {})
      throw err
    }
    return {
      async close() {
        closed = true
        await client.end().catch(() => {})
      },
    }
  }
}

/** Wakes the other processes' feeds (PostgreSQL; on SQLite the commit itself does). */
export async function announceChange(
  // biome-ignore lint/suspicious/noExplicitAny: any database or transaction
  db: Kysely<any>,
  engine: DbEngine,
): Promise<void> {
  if (engine !== 'postgres') return
  await sql`select pg_notify(${CHANGE_CHANNEL}, current_schema())`.execute(db)
}
