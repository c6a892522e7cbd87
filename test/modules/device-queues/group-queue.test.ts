// A group of three sim printers takes a queue of five items: each goes to the
// first idle, connected member, never two at once on one device; items asking
// for a confirmation hold their member until continue; and the queue (waiting
// items, holds) survives a real restart of the app on the same database.

import { afterEach, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../helpers/app.js'
import { testEngines } from '../../helpers/engines.js'
import { jobFinished } from '../device-files/support.js'
import { queuesOf, runLedger, simPrinter, storedFile } from './support.js'

describe.each(testEngines())('group queue on $name', (engine) => {
  let t: TestApp

  afterEach(async () => {
    await t?.dispose()
  })

  async function groupOfThree() {
    const members = [await simPrinter(t, 'p1'), await simPrinter(t, 'p2'), await simPrinter(t, 'p3')]
    const fileId = await storedFile(t, members[1]!, 60)
    const group = await t.request('POST', '/api/myntrix/device-groups', {
      as: t.operator,
      body: { name: 'farm', members },
    })
    expect(group.status).toBe(201)
    return { members, fileId, groupId: group.body.id as string }
  }

  it('dispatches five items to idle members, one job per device at a time', async () => {
    t = await createTestApp(engine)
    const { members, fileId, groupId } = await groupOfThree()
    const ledger = runLedger(t)
    const added = await t.request('POST', `/api/myntrix/device-groups/${groupId}/queue`, {
      as: t.operator,
      body: { fileId, copies: 5 },
    })
    expect(added.status, added.text).toBe(201)
    const jobIds = added.body.items.map((i: { jobId: string }) => i.jobId)
    expect(jobIds).toHaveLength(5)
    for (const id of jobIds) expect((await jobFinished(t, id)).status).toBe('completed')
    expect(ledger.overlaps).toBe(0)
    // The first three went to the three members at once, in member order.
    expect(jobIds.slice(0, 3).map((id: string) => ledger.ranOn.get(id))).toEqual(members)
    for (const id of jobIds) expect(members).toContain(ledger.ranOn.get(id))
    const queue = await t.request('GET', `/api/myntrix/device-groups/${groupId}/queue`, { as: t.operator })
    expect(queue.body).toEqual({ groupId, holds: [], items: [] })
    ledger.stop()
  })

  it('holds each member after a confirm item until continue, and keeps the queue across a restart', async () => {
    t = await createTestApp(engine)
    const { members, fileId, groupId } = await groupOfThree()
    let ledger = runLedger(t)
    const added = await t.request('POST', `/api/myntrix/device-groups/${groupId}/queue`, {
      as: t.operator,
      body: { fileId, copies: 5, requireConfirm: true },
    })
    expect(added.status).toBe(201)
    const jobIds: string[] = added.body.items.map((i: { jobId: string }) => i.jobId)
    for (const id of jobIds.slice(0, 3)) expect((await jobFinished(t, id)).status).toBe('completed')
    await queuesOf(t).dispatcher.idle()
    let queue = await t.request('GET', `/api/myntrix/device-groups/${groupId}/queue`, { as: t.operator })
    expect(
      queue.body.holds.map((h: { deviceId: string; reason: string }) => [h.deviceId, h.reason]).sort(),
    ).toEqual(members.map((m) => [m, 'confirm']).sort())
    expect(
      queue.body.items.map((i: { jobId: string; status: string; position: number }) => [
        i.jobId,
        i.status,
        i.position,
      ]),
    ).toEqual([
      [jobIds[3], 'pending', 1],
      [jobIds[4], 'pending', 2],
    ])
    const pending = await t.request('GET', '/api/myntrix/jobs?status=pending', { as: t.operator })
    expect(pending.body.map((j: { id: string }) => j.id).sort()).toEqual([jobIds[3], jobIds[4]].sort())
    ledger.stop()

    // A real restart on the same database: the items wait, the holds stand.
    await t.close()
    t = await createTestApp(engine, { testDb: t.testDb, seedUsers: false })
    ledger = runLedger(t)
    await queuesOf(t).dispatcher.idle()
    queue = await t.request('GET', `/api/myntrix/device-groups/${groupId}/queue`, { as: t.operator })
    expect(queue.body.holds).toHaveLength(3)
    expect(queue.body.items.map((i: { status: string }) => i.status)).toEqual(['pending', 'pending'])

    // The devices reconnect by themselves; continue on the second member sends item 4 there.
    await waitConnected(t, members[1]!)
    const cont = await t.request('POST', `/api/myntrix/device-groups/${groupId}/queue/continue`, {
      as: t.operator,
      body: { deviceId: members[1] },
    })
    expect(cont.status, cont.text).toBe(200)
    expect((await jobFinished(t, jobIds[3]!)).status).toBe('completed')
    expect(ledger.ranOn.get(jobIds[3]!)).toBe(members[1])
    await queuesOf(t).dispatcher.idle()
    expect((await t.request('GET', `/api/myntrix/jobs/${jobIds[4]}`, { as: t.operator })).body.status).toBe(
      'pending',
    )
    // The device's own continue works as well.
    await waitConnected(t, members[2]!)
    expect(
      (await t.request('POST', `/api/myntrix/devices/${members[2]}/queue/continue`, { as: t.operator }))
        .status,
    ).toBe(200)
    expect((await jobFinished(t, jobIds[4]!)).status).toBe('completed')
    expect(ledger.ranOn.get(jobIds[4]!)).toBe(members[2])
    expect(ledger.overlaps).toBe(0)
    ledger.stop()
  })
})

async function waitConnected(t: TestApp, deviceId: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const res = await t.request('GET', `/api/myntrix/devices/${deviceId}`, { as: t.operator })
    if (res.body.status === 'connected') return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`device ${deviceId} did not reconnect`)
}
