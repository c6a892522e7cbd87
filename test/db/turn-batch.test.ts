import { describe, expect, it } from 'vitest'
import { TurnBatch } from '../../src/db/turn-batch.js'

describe('TurnBatch', () => {
  it('writes the items added in one turn with one call and answers each in order', async () => {
    const calls: number[][] = []
    const batch = new TurnBatch<number, number>(async (items) => {
      calls.push(items)
      return items.map((n) => n * 10)
    })
    const answers = await Promise.all([1, 2, 3].map((n) => batch.add(n)))
    expect(answers).toEqual([10, 20, 30])
    expect(calls).toEqual([[1, 2, 3]])
    // A later turn is a new batch.
    expect(await batch.add(4)).toBe(40)
    expect(calls).toEqual([[1, 2, 3], [4]])
  })

  it('splits a turn into statements of at most maxBatch items', async () => {
    const calls: number[][] = []
    const batch = new TurnBatch<number, number>(async (items) => {
      calls.push(items)
      return items
    }, 2)
    expect(await Promise.all([1, 2, 3, 4, 5].map((n) => batch.add(n)))).toEqual([1, 2, 3, 4, 5])
    expect(calls).toEqual([[1, 2], [3, 4], [5]])
  })

  it('when the shared write fails, retries each item alone so only the bad one fails', async () => {
    const batch = new TurnBatch<number, number>(async (items) => {
      if (items.includes(2)) throw new Error(`bad item in ${items.join(',')}`)
      return items
    })
    const results = await Promise.allSettled([1, 2, 3].map((n) => batch.add(n)))
    expect(results[0]).toEqual({ status: 'fulfilled', value: 1 })
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { message: 'bad item in 2' } })
    expect(results[2]).toEqual({ status: 'fulfilled', value: 3 })
  })
})
