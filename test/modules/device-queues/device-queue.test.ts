// One device's queue over a sim printer: order by position and priority,
// reorder, cancel (DELETE and the jobs API), copies, an interrupted item that
// holds the queue until continue, and a dispatcher asked twice at once that
// starts one transfer.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { jobFinished, jobWhere } from '../device-files/support.js'
import { queuesOf, runLedger, simPrinter, storedFile } from './support.js'

describe.each(testEngines())('device queue on $name', (engine) => {
  let t: TestApp
  let deviceId: string
  let fileId: string

  beforeEach(async () => {
    t = await createTestApp(engine)
    deviceId = await simPrinter(t, 'printer')
    fileId = await storedFile(t, deviceId, 30)
  })
  afterEach(async () => {
    await t.dispose()
  })

  const base = () => `/api/myntrix/devices/${deviceId}/queue`
  const add = (body: unknown) => t.request('POST', base(), { as: t.operator, body })
  const queue = async () => (await t.request('GET', base(), { as: t.operator })).body
  const disconnect = () =>
    t.request('POST', `/api/myntrix/devices/${deviceId}/disconnect`, { as: t.operator })
  const connect = () => t.request('POST', `/api/myntrix/devices/${deviceId}/connect`, { as: t.operator })

  it('runs items by position and priority, after reorders and cancels', async () => {
    await disconnect()
    const ids: Record<string, { id: string; jobId: string }> = {}
    for (const [name, priority] of [
      ['a', 0],
      ['b', 0],
      ['c', 5],
      ['d', 0],
      ['e', -1],
      ['f', 0],
    ] as const) {
      const res = await add({ fileId, priority })
      expect(res.status, res.text).toBe(201)
      ids[name] = res.body.items[0]
    }
    const order = async () => {
      const names = Object.fromEntries(Object.entries(ids).map(([k, v]) => [v.id, k]))
      return (await queue()).items.map((i: { id: string }) => names[i.id]).join('')
    }
    // Priority 5 first; 0s in arrival order; -1 last (f, a later 0, goes before it).
    expect(await order()).toBe('cabdfe')
    const moved = await t.request('PATCH', `${base()}/${ids.d!.id}`, {
      as: t.operator,
      body: { position: 1 },
    })
    expect(moved.status, moved.text).toBe(200)
    expect(moved.body.item.position).toBe(1)
    expect(await order()).toBe('dcabfe')
    // A new priority places the item again: after every waiting item of that priority or higher.
    expect(
      (await t.request('PATCH', `${base()}/${ids.e!.id}`, { as: t.operator, body: { priority: 5 } })).status,
    ).toBe(200)
    expect(await order()).toBe('dceabf')
    // Cancel one with DELETE, another through the jobs API: both leave the queue.
    const cancelled = await t.request('DELETE', `${base()}/${ids.a!.id}`, { as: t.operator })
    expect(cancelled.status).toBe(200)
    expect(cancelled.body.item.status).toBe('cancelled')
    expect(
      (await t.request('POST', `/api/myntrix/jobs/${ids.f!.jobId}/cancel`, { as: t.operator })).status,
    ).toBe(200)
    expect(await order()).toBe('dceb')
    expect(
      (await t.request('GET', `/api/myntrix/jobs/${ids.f!.jobId}`, { as: t.operator })).body.status,
    ).toBe('cancelled')

    const ledger = runLedger(t)
    const started: string[] = []
    const off = t.app.myntrix.context.bus.on('job.updated', ({ job }) => {
      if (job.status === 'running' && !started.includes(job.id)) started.push(job.id)
    })
    expect((await connect()).status).toBe(200)
    for (const k of ['d', 'c', 'e', 'b'])
      expect((await jobFinished(t, ids[k]!.jobId)).status).toBe('completed')
    off()
    expect(started).toEqual(['d', 'c', 'e', 'b'].map((k) => ids[k]!.jobId))
    // The queue started them (job attribution), not the operator who queued them.
    const ran = await t.request('GET', `/api/myntrix/jobs/${ids.d!.jobId}`, { as: t.operator })
    expect(ran.body.startedBy).toBe('queue')
    expect(ledger.overlaps).toBe(0)
    ledger.stop()
    expect(await queue()).toEqual({ deviceId, hold: null, items: [] })
  })

  it('copies=3 runs three jobs, one after another', async () => {
    const ledger = runLedger(t)
    const res = await add({ fileId, copies: 3 })
    expect(res.status).toBe(201)
    expect(res.body.items.map((i: { name: string }) => i.name)).toEqual([
      'Queue part.gcode on printer (copy 1 of 3)',
      'Queue part.gcode on printer (copy 2 of 3)',
      'Queue part.gcode on printer (copy 3 of 3)',
    ])
    const jobs = res.body.items.map((i: { jobId: string }) => i.jobId)
    expect(new Set(jobs).size).toBe(3)
    for (const id of jobs) {
      const done = await jobFinished(t, id)
      expect(done.status).toBe('completed')
      expect(done.details).toMatchObject({ deviceId, linesAcknowledged: 30, totalLines: 30 })
    }
    expect(ledger.overlaps).toBe(0)
    ledger.stop()
  })

  it('an item interrupted by a server stop holds the queue after the restart until continue', async () => {
    // Dwells (10 ms each, about 30 s in all): still streaming when the server stops, however fast
    // the machine (3,000 plain moves can finish before the first throttled progress report).
    const big = await storedFile(t, deviceId, 0, t.operator, 'G4 P10\n'.repeat(3000))
    const first = (await add({ fileId: big })).body.items[0]
    const second = (await add({ fileId })).body.items[0]
    await jobWhere(t, first.jobId, (j) => j.status === 'running' && j.progress > 0)
    // A graceful stop ends the running transfer interrupted, with its checkpoint.
    await t.close()
    t = await createTestApp(engine, { testDb: t.testDb, seedUsers: false })
    const ended = (await t.request('GET', `/api/myntrix/jobs/${first.jobId}`, { as: t.operator })).body
    expect(ended.status, JSON.stringify(ended)).toBe('interrupted')
    expect(ended.checkpoint.lastAckedLine).toBeGreaterThan(0)
    // The printer is reopened by itself; the queue does not go on past the interrupted job.
    expect((await connect()).status).toBe(200)
    await queuesOf(t).dispatcher.pass()
    await queuesOf(t).dispatcher.idle()
    const held = await queue()
    expect(held.hold).toMatchObject({ deviceId, reason: 'interrupted', jobId: first.jobId })
    expect(held.items.map((i: { id: string; status: string }) => [i.id, i.status])).toEqual([
      [second.id, 'pending'],
    ])
    expect(
      (await t.request('GET', `/api/myntrix/jobs/${second.jobId}`, { as: t.operator })).body.status,
    ).toBe('pending')
    const cont = await t.request('POST', `${base()}/continue`, { as: t.operator })
    expect(cont.status).toBe(200)
    expect((await jobFinished(t, second.jobId)).status).toBe('completed')
    // Nothing is held any more: a second continue is a conflict.
    expect((await t.request('POST', `${base()}/continue`, { as: t.operator })).status).toBe(409)
  })

  it('two dispatch passes at once start one transfer on the device', async () => {
    await disconnect()
    const items = (await add({ fileId, copies: 2 })).body.items
    const ledger = runLedger(t)
    expect((await connect()).status).toBe(200)
    await queuesOf(t).dispatcher.idle()
    const dispatcher = queuesOf(t).dispatcher
    const counts = await Promise.all([dispatcher.pass(), dispatcher.pass(), dispatcher.pass()])
    expect(counts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1)
    for (const i of items) expect((await jobFinished(t, i.jobId)).status).toBe('completed')
    expect(ledger.overlaps).toBe(0)
    ledger.stop()
  })
})
