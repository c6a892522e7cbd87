// Sealing what nodes put in Redis (src/cluster/message-seal.ts): a message
// opens only with the key it was sealed with, for the channel it was sealed
// for, unaltered, and within the age the receiver allows on either side of its
// clock; anything else (including generated garbage) is refused without a throw.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MessageSeal } from '../../src/cluster/message-seal.js'
import { RecentIds } from '../../src/cluster/recent-ids.js'

const SECRET = 'the JWT secret every node of the cluster shares, 32+'
const MINUTE = 60_000

describe('MessageSeal', () => {
  it('opens what it sealed, for the same channel, and hides the text', () => {
    const seal = new MessageSeal(SECRET)
    const sealed = seal.seal('myx.node.a.rpc', '{"method":"devices.command","text":"G28"}')
    expect(sealed).toMatch(/^m1\.[0-9a-z]+\.[A-Za-z0-9+/=]+$/)
    expect(sealed).not.toContain('G28')
    expect(seal.open('myx.node.a.rpc', sealed, MINUTE)).toEqual({
      ok: true,
      text: '{"method":"devices.command","text":"G28"}',
    })
    // Another node of the same cluster derives the same key.
    expect(new MessageSeal(SECRET).open('myx.node.a.rpc', sealed, MINUTE).ok).toBe(true)
    // Two seals of one text differ (a fresh IV each time).
    expect(seal.seal('c', 'same')).not.toBe(seal.seal('c', 'same'))
  })

  it('refuses another channel, another key, an altered byte, and a changed time', () => {
    const seal = new MessageSeal(SECRET)
    const sealed = seal.seal('myx.node.a.rpc', 'start agent 1')
    expect(seal.open('myx.node.b.rpc', sealed, MINUTE)).toEqual({ ok: false, reason: 'forged' })
    expect(new MessageSeal(`${SECRET}!`).open('myx.node.a.rpc', sealed, MINUTE)).toEqual({
      ok: false,
      reason: 'forged',
    })
    const [version, sentAt, body] = sealed.split('.') as [string, string, string]
    const raw = Buffer.from(body, 'base64')
    for (const i of [0, 12, 28, raw.length - 1]) {
      const altered = Buffer.from(raw)
      altered[i] = (altered[i] as number) ^ 1
      expect(
        seal.open('myx.node.a.rpc', `${version}.${sentAt}.${altered.toString('base64')}`, MINUTE),
      ).toEqual({
        ok: false,
        reason: 'forged',
      })
    }
    // The time is authenticated: moving it (to get past the age check) breaks the seal.
    const later = (Number.parseInt(sentAt, 36) + 1).toString(36)
    expect(seal.open('myx.node.a.rpc', `${version}.${later}.${body}`, MINUTE)).toEqual({
      ok: false,
      reason: 'forged',
    })
  })

  it('refuses a message sealed longer ago than the age allowed, or that far ahead', () => {
    let now = 1_000_000_000_000
    const seal = new MessageSeal(SECRET, () => now)
    const sealed = seal.seal('c', 'x')
    now += MINUTE
    expect(seal.open('c', sealed, MINUTE).ok).toBe(true)
    now += 1
    expect(seal.open('c', sealed, MINUTE)).toEqual({ ok: false, reason: 'stale' })
    now -= 2 * MINUTE + 2
    expect(seal.open('c', sealed, MINUTE)).toEqual({ ok: false, reason: 'stale' })
  })

  it('refuses what is not a sealed message at all', () => {
    const seal = new MessageSeal(SECRET)
    for (const message of [
      '',
      '{"id":"1"}',
      'm1',
      'm1.',
      'm1..',
      'm2.abc.AAAA',
      'm1.abc.AAAA',
      'm1.-1.' + 'A'.repeat(60),
    ]) {
      expect(seal.open('c', message, MINUTE)).toEqual({ ok: false, reason: 'malformed' })
    }
  })

  it('round-trips any text, and never throws on or opens generated garbage', () => {
    const seal = new MessageSeal(SECRET)
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 200 }),
        fc.string({ maxLength: 40 }),
        (text, channel) => {
          expect(seal.open(channel, seal.seal(channel, text), MINUTE)).toEqual({ ok: true, text })
        },
      ),
    )
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (garbage) => {
        expect(seal.open('c', garbage, MINUTE).ok).toBe(false)
        expect(seal.open('c', `m1.${Date.now().toString(36)}.${garbage}`, MINUTE).ok).toBe(false)
      }),
    )
  })
})

describe('RecentIds', () => {
  it('says yes once per id for at least the span, and forgets after two', () => {
    let now = 0
    const ids = new RecentIds(1000, () => now)
    expect(ids.firstSeen('a')).toBe(true)
    expect(ids.firstSeen('a')).toBe(false)
    now = 999
    expect(ids.firstSeen('a')).toBe(false)
    now = 1500 // rotated once: 'a' is in the previous generation, still remembered
    expect(ids.firstSeen('a')).toBe(false)
    expect(ids.firstSeen('b')).toBe(true)
    now = 2600 // rotated again: 'a' (seen at 0) is gone, 'b' (seen at 1500) is kept
    expect(ids.firstSeen('b')).toBe(false)
    expect(ids.firstSeen('a')).toBe(true)
    now = 10_000 // long quiet: everything forgotten
    expect(ids.firstSeen('b')).toBe(true)
  })
})
