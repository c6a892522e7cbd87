// A status as a coloured dot plus its word: the colour helps, the text is what
// a screen reader and a colour-blind eye read. Every status the server can
// report has a tone; the table is typed by the API's own status unions, so a
// status added on the server fails the console's typecheck until it is given one.

import type { Agent, Device, Job, TaskRun } from '../api/types'

export type Tone = 'good' | 'busy' | 'waiting' | 'warn' | 'bad' | 'off'

type KnownStatus =
  | Agent['status']
  | Job['status']
  | TaskRun['status']
  | Device['status']
  // The host core in the 3D scene, tasks, users and live feeds.
  | 'ok'
  | 'busy'
  | 'overloaded'
  | 'enabled'
  | 'disabled'
  | 'open'
  | 'reconnecting'
  | 'closed'
  // The dashboard's own words, in case an older client's data shows up.
  | 'online'
  | 'offline'
  | 'idle'
  | 'degraded'

export const STATUS_TONES: Record<KnownStatus, Tone> = {
  running: 'good',
  connected: 'good',
  completed: 'good',
  success: 'good',
  ok: 'good',
  enabled: 'good',
  open: 'good',
  online: 'good',
  starting: 'busy',
  stopping: 'busy',
  restarting: 'busy',
  connecting: 'busy',
  reconnecting: 'busy',
  pending: 'waiting',
  idle: 'waiting',
  busy: 'waiting',
  degraded: 'warn',
  overloaded: 'warn',
  // Stopped from outside with a checkpoint: it waits for an operator to restart it.
  interrupted: 'warn',
  error: 'bad',
  failed: 'bad',
  stopped: 'off',
  disconnected: 'off',
  cancelled: 'off',
  skipped: 'off',
  disabled: 'off',
  closed: 'off',
  offline: 'off',
}

export function toneOf(status: string): Tone | 'unknown' {
  return (STATUS_TONES as Record<string, Tone>)[status] ?? 'unknown'
}

export function StatusDot({ status, label }: { status: string; label?: string }) {
  return (
    <span className={`status status-${toneOf(status)}`}>
      <span className="status-dot" aria-hidden="true" />
      <span className="status-text">{label ?? status}</span>
    </span>
  )
}
