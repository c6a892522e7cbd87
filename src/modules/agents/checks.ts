// Health checks that run while an agent is up. HTTP uses node:http without an
// agent (no keep-alive pool): one short connection per check, nothing left open
// between checks.

import http from 'node:http'
import https from 'node:https'
import type { CheckResult } from './health.js'

export const HEARTBEAT_LINE = '{"myntrix":"heartbeat"}'

/** True for a stdout line that is a heartbeat: the JSON object {"myntrix":"heartbeat"}. */
export function isHeartbeatLine(line: string): boolean {
  const t = line.trim()
  if (t === HEARTBEAT_LINE) return true
  if (!t.startsWith('{') || !t.includes('heartbeat')) return false
  try {
    const v = JSON.parse(t) as unknown
    return typeof v === 'object' && v !== null && (v as Record<string, unknown>).myntrix === 'heartbeat'
  } catch {
    return false
  }
}

export function heartbeatResult(
  lastBeatAt: number | null,
  since: number,
  now: number,
  timeoutMs: number,
): CheckResult {
  const ref = lastBeatAt ?? since
  const age = now - ref
  if (age <= timeoutMs) {
    return {
      ok: lastBeatAt === null ? null : true,
      detail: lastBeatAt === null ? 'waiting for the first heartbeat' : `heartbeat ${age} ms ago`,
    }
  }
  return {
    ok: false,
    detail:
      lastBeatAt === null
        ? `no heartbeat within ${timeoutMs} ms of start`
        : `last heartbeat ${age} ms ago (timeout ${timeoutMs} ms)`,
  }
}

/** GET `url`; a 2xx answer within `timeoutMs` passes. Never rejects. */
export function httpCheck(url: string, timeoutMs: number, signal?: AbortSignal): Promise<CheckResult> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve({ ok: null, detail: 'check canceled' })
      return
    }
    let settled = false
    const onAbort = () => {
      req.destroy()
      done({ ok: null, detail: 'check canceled' })
    }
    const done = (r: CheckResult) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      resolve(r)
    }
    let req: http.ClientRequest
    try {
      const mod = url.startsWith('https:') ? https : http
      req = mod.get(url, { agent: false, headers: { 'user-agent': 'myntrix-health-check' } }, (res) => {
        const code = res.statusCode ?? 0
        res.resume()
        res.on('error', () => {})
        req.destroy()
        done({ ok: code >= 200 && code < 300, detail: `GET ${url}: HTTP ${code}` })
      })
    } catch (err) {
      resolve({ ok: false, detail: `GET ${url}: ${(err as Error).message}` })
      return
    }
    const timer = setTimeout(() => {
      req.destroy()
      done({ ok: false, detail: `GET ${url}: no answer within ${timeoutMs} ms` })
    }, timeoutMs)
    signal?.addEventListener('abort', onAbort, { once: true })
    req.on('error', (err: NodeJS.ErrnoException) => {
      done({ ok: false, detail: `GET ${url}: ${err.code ?? err.message}` })
    })
  })
}
