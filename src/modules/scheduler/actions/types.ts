// Task actions: one small module per action type behind one interface, and a
// registry (index.ts). A new action is one file plus one registry entry.

import type { TObject } from '@sinclair/typebox'
import type { FieldError } from '../../../errors.js'
import type { OutboundPolicy } from '../../../net/outbound-policy.js'
import type { ChildUser, ChildWorkspace } from '../../../process/child-user.js'
import type { ProcessIdentity } from '../../../process/identity.js'
import type { LogSink } from './log-sink.js'

export const ACTION_TYPES = ['agent', 'script', 'api', 'device', 'workflow'] as const
export type ActionType = (typeof ACTION_TYPES)[number]

/** Who a run acts for; services check ownership against it (null: the system, all resources). */
export interface Actor {
  ownerId: string | null
  /** The owner's role as it is now (filled in before a run); undefined is held to the outbound policy. */
  role?: string
}

export interface ControlOptions {
  actor: Actor
  signal: AbortSignal
}

/** What the `agent` action needs from the agents area (implemented there, passed in). */
export interface AgentControl {
  start(agentId: string, opts: ControlOptions): Promise<void>
  stop(agentId: string, opts: ControlOptions): Promise<void>
  restart(agentId: string, opts: ControlOptions): Promise<void>
  /** Starts the agent and resolves when its process exits; aborting `signal` stops it. */
  runToCompletion(
    agentId: string,
    opts: ControlOptions & { onLog?: (line: string) => void },
  ): Promise<{ exitCode: number | null; signal: string | null }>
}

/** What the `device` action needs from the devices area (implemented there, passed in). */
export interface DeviceControl {
  /** Sends one command and resolves with the device's reply lines. */
  command(deviceId: string, command: string, opts: ControlOptions): Promise<{ reply: string[] }>
  /** Streams a stored file to the device; resolves when the device has taken all of it. */
  sendFile(
    deviceId: string,
    fileId: string,
    opts: ControlOptions & { onProgress?: (percent: number) => void },
  ): Promise<{ linesSent?: number }>
}

/** Services and settings actions may use; anything absent makes that action fail with a clear log line. */
export interface ActionServices {
  agents?: AgentControl
  devices?: DeviceControl
  /**
   * Host names the `api` action may call (MYNTRIX_API_ACTION_ALLOW); undefined or empty: any host the
   * outbound policy allows. It narrows the policy, never widens it.
   */
  apiAllowHosts?: readonly string[]
  /** Where actions may connect, by the actor's role (MYNTRIX_OUTBOUND_ALLOW); undefined: the safe default. */
  outbound?: OutboundPolicy
  /** The OS user `script` runs as (MYNTRIX_CHILD_USER); undefined: the server's own. */
  childUser?: ChildUser
  /** Where `script` starts without a `cwd`, and its HOME (src/process/child-user.ts). */
  childWorkspace?: ChildWorkspace
}

export interface ActionContext {
  /** Aborted on timeout (reason `{ timedOut: true }`) or cancel; every action must honour it. */
  signal: AbortSignal
  log: LogSink
  actor: Actor
  services: ActionServices
  taskId?: string
  runId?: string
  /**
   * Called when an action has started a process group (pid = pgid): the engine
   * records it on the run, so that after a crash the next server ends it before
   * the run is failed (and retried).
   */
  processStarted?: (identity: ProcessIdentity) => Promise<void>
}

export interface ActionOutcome {
  ok: boolean
  /** One line on why it failed (also written to the log). */
  error?: string
  timedOut?: boolean
  canceled?: boolean
}

/** The result of run(): the outcome plus the captured log text. */
export interface ActionResult extends ActionOutcome {
  logs: string
  logTruncated: boolean
}

export type Validation<P> = { ok: true; value: P } | { ok: false; errors: FieldError[] }

/**
 * Why a payload needs more than an operator to create, change or run its
 * task: `what` completes "only an admin may create, change or run tasks
 * that ...", `detail` says why when it is not plain.
 */
export interface RoleNeed {
  role: 'admin'
  what: string
  detail?: string
}

/** What an action's role rule may look at besides the payload. */
export interface RoleContext {
  registry: ActionRegistry
  /** Agents run as the server's own OS user (no separate child user): starting one can read the server's secrets. */
  childrenShareServerUser: boolean
}

export interface Action<P = unknown> {
  readonly type: ActionType
  /** The payload's shape, for the OpenAPI document and the check (`validate` starts with it). */
  readonly payloadSchema: TObject
  /** Checks a payload; error paths are relative to the payload (`argv[0]`). */
  validate(payload: unknown, registry: ActionRegistry): Validation<P>
  /** The role this payload needs beyond operator (null: an operator may), for a payload that passed validate. */
  requiredRole(payload: P, ctx: RoleContext): RoleNeed | null
  /** Runs a validated payload. Must not throw for an ordinary failure: return `{ ok: false }`. */
  run(payload: P, ctx: ActionContext, registry: ActionRegistry): Promise<ActionOutcome>
}

export interface ActionRegistry {
  get(type: string): Action | undefined
  types(): readonly ActionType[]
}

/** The reason the engine aborts a run with when its timeout expires. */
export class ActionTimeout extends Error {
  readonly timedOut = true
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`)
    this.name = 'ActionTimeout'
  }
}

/** The reason the engine aborts a run with when a user cancels it or the task is edited/deleted. */
export class ActionCanceled extends Error {
  readonly canceled = true
  constructor(why = 'canceled') {
    super(why)
    this.name = 'ActionCanceled'
  }
}

/** How a signal was aborted, as outcome flags. */
export function abortFlags(signal: AbortSignal): { timedOut?: true; canceled?: true } {
  const reason = signal.reason as { timedOut?: boolean; name?: string } | undefined
  return reason?.timedOut || reason?.name === 'TimeoutError' ? { timedOut: true } : { canceled: true }
}

/**
 * The failure an action returns, written to the run's log as its last line
 * first, so the log says why the run failed as the run's error does.
 */
export function failureOf(ctx: ActionContext) {
  return (error: string, flags: { timedOut?: boolean; canceled?: boolean } = {}): ActionOutcome => {
    ctx.log.line(error)
    return { ok: false, error, ...flags }
  }
}

/** The abort reason's message, for the log. */
export function abortMessage(signal: AbortSignal): string {
  const reason = signal.reason as { message?: string } | undefined
  return reason?.message ?? (abortFlags(signal).timedOut ? 'timed out' : 'canceled')
}
