// The webhook sink: one signed POST of the notification's JSON. The host is
// resolved once by the outbound policy for the rule owner's role and the
// request goes to that checked address (src/net/pinned-request.ts).
// Redirects are not followed: a receiver that moved answers 3xx and the
// attempt fails, rather than letting a reachable host bounce the server to one
// the owner may not reach.

import type { IncomingMessage } from 'node:http'
import {
  OutboundDeniedError,
  OutboundLookupError,
  type OutboundPolicy,
} from '../../../net/outbound-policy.js'
import { abortable, errorText, portOf, sendPinned } from '../../../net/pinned-request.js'
import { SIGNATURE_HEADER, signatureHeader } from '../signature.js'
import type { SendRequest, SendResult, Sink } from './types.js'

/** How much of a refusing receiver's answer is kept in the attempt's error. */
const ANSWER_EXCERPT_CHARS = 300
const USER_AGENT = 'Myntrix-Notifications/1'

/** Statuses worth another attempt: the receiver is busy or broken now, not refusing this request. */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500
}

async function answerExcerpt(res: IncomingMessage, signal: AbortSignal): Promise<string> {
  let text = ''
  try {
    for await (const chunk of res) {
      if (signal.aborted) break
      text += (chunk as Buffer).toString('utf8')
      if (text.length >= ANSWER_EXCERPT_CHARS) break
    }
  } catch {
    // The excerpt is for the record only; a broken body does not change the verdict.
  } finally {
    res.destroy()
  }
  return text.slice(0, ANSWER_EXCERPT_CHARS).replace(/\s+/g, ' ').trim()
}

export class WebhookSink implements Sink {
  constructor(private readonly policy: OutboundPolicy) {}

  async send(request: SendRequest): Promise<SendResult> {
    const { delivery, rule, role, attempt, signal } = request
    const fail = (error: string, retryable: boolean, statusCode: number | null = null): SendResult => ({
      ok: false,
      statusCode,
      error,
      retryable,
    })
    if (rule.sink.type !== 'webhook' || !rule.secret) return fail('the rule has no webhook settings', false)
    const url = new URL(rule.sink.url)
    let res: IncomingMessage
    try {
      const target = await abortable(
        this.policy.resolve({ role, host: url.hostname, port: portOf(url), purpose: 'notification webhook' }),
        signal,
      )
      const timestamp = Math.floor(Date.now() / 1000)
      const headers = {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'x-myntrix-event': delivery.eventKind,
        'x-myntrix-delivery': delivery.id,
        'x-myntrix-attempt': String(attempt),
        [SIGNATURE_HEADER]: signatureHeader(rule.secret, timestamp, delivery.body),
      }
      res = await sendPinned(url, { method: 'POST', headers, body: delivery.body, signal }, target)
    } catch (err) {
      if (signal.aborted) throw signal.reason
      if (err instanceof OutboundDeniedError) return fail(err.message, false)
      if (err instanceof OutboundLookupError) return fail(err.message, true)
      return fail(`request failed: ${errorText(err)}`, true)
    }
    const status = res.statusCode ?? 0
    if (status >= 200 && status < 300) {
      res.destroy()
      return { ok: true, statusCode: status, error: null, retryable: false }
    }
    const answer = await answerExcerpt(res, signal)
    if (status >= 300 && status < 400) {
      const where = res.headers.location ? ` to ${res.headers.location}` : ''
      return fail(`redirect${where} not followed: update the rule's URL`, false, status)
    }
    return fail(`HTTP ${status}${answer ? `: ${answer}` : ''}`, retryableStatus(status), status)
  }
}
