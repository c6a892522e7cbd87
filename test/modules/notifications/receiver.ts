// A real webhook receiver on 127.0.0.1: answers each request with the next
// status of a script (200 once the script is used up), checks every request's
// signature with the secret the test gives it, and lets a test await the n-th
// request instead of sleeping.

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach } from 'vitest'
import { verifySignature } from '../../../src/modules/notifications/signature.js'

/** A scripted status that never answers. */
export const HANG = 0

export interface Received {
  path: string
  headers: IncomingHttpHeaders
  text: string
  body: any
  /** Whether X-Myntrix-Signature verified with the secret of the request's path. */
  signed: boolean
}

export class Receiver {
  readonly received: Received[] = []
  private readonly statuses = new Map<string, number[]>()
  private readonly secrets = new Map<string, string>()
  private readonly waiters: { path: string; n: number; resolve: () => void }[] = []
  private server!: Server
  url = ''

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        const path = req.url ?? '/'
        let body: unknown
        try {
          body = JSON.parse(text)
        } catch {
          body = undefined
        }
        const secret = this.secrets.get(path)
        const header = req.headers['x-myntrix-signature']
        const signed =
          secret !== undefined && verifySignature(secret, Array.isArray(header) ? header[0] : header, text)
        this.received.push({ path, headers: req.headers, text, body, signed })
        const status = this.statuses.get(path)?.shift() ?? 200
        this.notify()
        // HANG: keep the request open without an answer (a receiver that times out).
        if (status === HANG) return
        res.writeHead(status, { 'content-type': 'text/plain' })
        res.end(status >= 300 ? `receiver answered ${status}` : 'ok')
      })
    })
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  /** The statuses the next requests to `path` get, in order (HANG: none, the request is held open). */
  script(path: string, statuses: number[]): void {
    this.statuses.set(path, [...statuses])
  }

  /** The secret requests to `path` are signed with (the one the rule's creation answered). */
  expectSecret(path: string, secret: string): void {
    this.secrets.set(path, secret)
  }

  to(path: string): Received[] {
    return this.received.filter((r) => r.path === path)
  }

  /** Resolves when `path` has had `n` requests. */
  waitFor(path: string, n: number): Promise<Received[]> {
    return new Promise((resolve) => {
      const done = () => resolve(this.to(path))
      if (this.to(path).length >= n) done()
      else this.waiters.push({ path, n, resolve: done })
    })
  }

  private notify(): void {
    for (const w of [...this.waiters]) {
      if (this.to(w.path).length >= w.n) {
        this.waiters.splice(this.waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  }

  /** Forgets what earlier tests (or an earlier try of a retried test) received and scripted. */
  reset(): void {
    this.received.length = 0
    this.statuses.clear()
    this.secrets.clear()
    this.waiters.length = 0
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/** One receiver for a suite: started before its tests, emptied before each, stopped after them. */
export function useReceiver(): () => Receiver {
  const receiver = new Receiver()
  beforeAll(async () => {
    await receiver.start()
  })
  beforeEach(() => receiver.reset())
  afterAll(async () => {
    await receiver.stop()
  })
  return () => receiver
}
