import { describe, expect, it } from 'vitest'
import { newId } from '../../src/db/ids.js'

describe('newId', () => {
  it('makes UUID v7 ids that are unique and sort in creation order', () => {
    const ids = Array.from({ length: 20_000 }, () => newId())
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(new Set(ids).size).toBe(ids.length)
    expect([...ids].sort()).toEqual(ids)
  })
})
