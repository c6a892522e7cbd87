// Request/reply between nodes over Redis: a service that does not hold a
// resource asks the node that does, on `myx.node.<nodeId>.rpc`, and waits for
// the answer on its own reply channel, up to a deadline. The answer is the
// holder's own result or problem (the holder checks the caller's rights again
// with the forwarded principal). A holder that is not subscribed, or is silent
// past the deadline, gives 503 naming it: the caller never guesses. Requests
// and replies are sealed by the link (message-seal.ts); a sealed request seen
// again (a copy replayed from Redis) is ignored, and so is one that arrives after
// its caller stopped waiting (held back, then let through): the caller answered
// 503, so acting on it then would do what the user was told did not happen.

import { randomUUID } from 'node:crypto'
import { MyntrixError } from '../errors.js'
import type { Logger } from '../logger.js'
import { HolderUnavailableError, type RemoteProblem, RemoteProblemError } from './errors.js'
import { RecentIds } from './recent-ids.js'
import { MESSAGE_MAX_AGE_MS, type RedisLink } from './redis-link.js'

export type RpcHandler = (params: unknown) => Promise<unknown>

interface RpcRequest {
  id: string
  replyTo: string
  /** When the caller stops waiting, on its clock (ms since the epoch). */
  deadline: number
  method: string
  params: unknown
}

/** How far apart two nodes' clocks may be before a request in time is taken for a late one. */
const CLOCK_MARGIN_MS = 2000

type RpcReply = { id: string; ok: true; result: unknown } | { id: string; ok: false; problem: RemoteProblem }

interface Pending {
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
  timer: NodeJS.Timeout
}

export const rpcChannel = (nodeId: string) => `myx.node.${nodeId}.rpc`
const replyChannel = (nodeId: string) => `myx.node.${nodeId}.reply`

export interface NodeRpcOptions {
  link: RedisLink
  nodeId: string
  timeoutMs: number
  logger: Logger
}

export class NodeRpc {
  private readonly handlers = new Map<string, RpcHandler>()
  private readonly pending = new Map<string, Pending>()
  /** The link drops a message older than its max age (either way on the clock): twice that covers a replay. */
  private readonly answered = new RecentIds(2 * MESSAGE_MAX_AGE_MS)
  private offs: (() => Promise<void>)[] = []
  private stopped = false

  constructor(private readonly opts: NodeRpcOptions) {}

  /** What this node answers for `method` (`agents.start`, ...). One handler per method. */
  handle(method: string, handler: RpcHandler): void {
    this.handlers.set(method, handler)
  }

  /** Listens for requests and replies; resolves once Redis confirmed both. */
  async start(): Promise<void> {
    const { link, nodeId } = this.opts
    this.offs.push(await link.subscribe(replyChannel(nodeId), (m) => this.onReply(m)))
    this.offs.push(await link.subscribe(rpcChannel(nodeId), (m) => void this.onRequest(m)))
  }

  /** Idempotent: stops listening; calls still waiting fail as if the holder were silent. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const off of this.offs.splice(0)) await off()
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer)
      p.reject(new Error('this node is stopping'))
      this.pending.delete(id)
    }
  }

  /**
   * Calls `method` on `node` and resolves with its result; rejects with the holder's
   * problem, or HolderUnavailableError naming `what` when it does not answer in time.
   */
  async call<T>(
    node: { id: string; name: string },
    method: string,
    params: unknown,
    what: string,
    timeoutMs = this.opts.timeoutMs,
  ): Promise<T> {
    const request: RpcRequest = {
      id: randomUUID(),
      replyTo: replyChannel(this.opts.nodeId),
      deadline: Date.now() + timeoutMs,
      method,
      params,
    }
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(request.id)
        reject(new HolderUnavailableError(what, node, timeoutMs))
      }, timeoutMs)
      this.pending.set(request.id, { resolve, reject, timer })
    })
    // Awaited below; a publish failure settles it first, so it never rejects unheard.
    answer.catch(() => {})
    let receivers: number
    try {
      receivers = await this.opts.link.publish(rpcChannel(node.id), JSON.stringify(request))
    } catch (err) {
      this.settle(request.id)
      throw err
    }
    if (receivers === 0) {
      this.settle(request.id)
      throw new HolderUnavailableError(what, node, null)
    }
    return (await answer) as T
  }

  private settle(id: string): Pending | undefined {
    const p = this.pending.get(id)
    if (!p) return undefined
    clearTimeout(p.timer)
    this.pending.delete(id)
    return p
  }

  private onReply(message: string): void {
    let reply: RpcReply
    try {
      reply = JSON.parse(message) as RpcReply
    } catch {
      return
    }
    const p = this.settle(reply.id)
    if (!p) return // too late: the caller already answered 503
    if (reply.ok) p.resolve(reply.result)
    else p.reject(new RemoteProblemError(reply.problem))
  }

  private async onRequest(message: string): Promise<void> {
    let request: RpcRequest
    try {
      request = JSON.parse(message) as RpcRequest
    } catch {
      return
    }
    if (typeof request?.id !== 'string' || typeof request.replyTo !== 'string') return
    if (typeof request.deadline !== 'number' || Date.now() > request.deadline + CLOCK_MARGIN_MS) {
      this.opts.logger.warn(
        { method: request.method },
        'cluster: ignored a forwarded request that arrived after its caller stopped waiting',
      )
      return
    }
    if (!this.answered.firstSeen(request.id)) {
      this.opts.logger.warn(
        { method: request.method },
        'cluster: ignored a forwarded request seen before (a replay)',
      )
      return
    }
    const reply = await this.answer(request)
    try {
      await this.opts.link.publish(request.replyTo, JSON.stringify(reply))
    } catch (err) {
      // Too large, or Redis gone: the caller gets its problem instead of waiting out the deadline.
      const problem = problemOf(err) ?? { status: 502, type: 'upstream-error', detail: 'the reply was lost' }
      await this.opts.link
        .publish(request.replyTo, JSON.stringify({ id: request.id, ok: false, problem }))
        .catch(() => {})
    }
  }

  private async answer(request: RpcRequest): Promise<RpcReply> {
    const handler = this.handlers.get(request.method)
    if (!handler) {
      return {
        id: request.id,
        ok: false,
        problem: { status: 501, type: 'not-implemented', detail: `node does not answer ${request.method}` },
      }
    }
    try {
      return { id: request.id, ok: true, result: (await handler(request.params)) ?? null }
    } catch (err) {
      const problem = problemOf(err)
      if (problem) return { id: request.id, ok: false, problem }
      this.opts.logger.error({ err, method: request.method }, 'a forwarded request failed')
      // Like the problem handler's bare 500: the cause is in this node's log, not in the answer.
      return {
        id: request.id,
        ok: false,
        problem: { status: 500, type: 'internal-error', detail: 'the holder node failed; see its log' },
      }
    }
  }
}

function problemOf(err: unknown): RemoteProblem | undefined {
  if (!(err instanceof MyntrixError)) return undefined
  return {
    status: err.status,
    type: err.type,
    detail: err.message,
    ...(err.errors ? { errors: err.errors } : {}),
  }
}
