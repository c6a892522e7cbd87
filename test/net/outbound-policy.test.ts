// The address classifier and the policy's decisions, table-driven, plus a
// property check: every spelling of one address (dotted, mapped IPv6 in both
// forms, legacy integer/hex/short IPv4) is judged the same way.

import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { classify, parseIp, parseIpLoose } from '../../src/net/ip.js'
import {
  actingRole,
  OutboundDeniedError,
  OutboundPolicy,
  parseOutboundAllow,
} from '../../src/net/outbound-policy.js'

describe('classify', () => {
  const table: [string, string][] = [
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:0001', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['169.254.169.254', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['::127.0.0.1', 'loopback'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.20', 'private'],
    ['100.64.0.1', 'private'],
    ['fd12:3456::1', 'private'],
    ['172.32.0.1', 'public'],
    ['8.8.8.8', 'public'],
    ['2001:db8::1', 'public'],
    ['fec0::1', 'public'],
  ]
  it.each(table)('%s is %s', (text, category) => {
    const ip = parseIp(text)
    expect(ip).not.toBeNull()
    expect(classify(ip!)).toBe(category)
  })

  it('normalises IPv4-mapped IPv6 to IPv4 and writes IPv6 canonically', () => {
    expect(parseIp('::ffff:7f00:1')).toMatchObject({ family: 4, text: '127.0.0.1' })
    expect(parseIp('2001:0db8:0000:0000:0000:0000:0000:0001')).toMatchObject({
      family: 6,
      text: '2001:db8::1',
    })
  })

  it('reads the legacy IPv4 spellings the C resolver accepts', () => {
    for (const spelling of [
      '127.1',
      '0x7f.1',
      '0x7f000001',
      '2130706433',
      '017700000001',
      '0177.0.0.1',
      '[::1]',
    ])
      expect(classify(parseIpLoose(spelling)!), spelling).toBe('loopback')
    expect(parseIpLoose('printer.lan')).toBeNull()
    expect(parseIpLoose('cafe')).toBeNull()
  })

  it('judges every spelling of an address alike (property, 2,000 random addresses)', () => {
    // A small deterministic generator (xorshift) keeps the run reproducible.
    let seed = 0x2545f491
    const next = () => {
      seed ^= seed << 13
      seed ^= seed >>> 17
      seed ^= seed << 5
      return seed >>> 0
    }
    // Bias towards the interesting ranges so every category is hit.
    const firstOctets = [0, 10, 100, 127, 169, 172, 192, 224, 255, 8, 1]
    for (let i = 0; i < 2000; i++) {
      const n =
        i % 2 === 0
          ? next()
          : (((firstOctets[next() % firstOctets.length] ?? 0) << 24) | (next() & 0xffffff)) >>> 0
      const dotted = [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.')
      const hex = n.toString(16).padStart(8, '0')
      const expected = classify(parseIp(dotted)!)
      const spellings = [
        parseIp(`::ffff:${dotted}`),
        parseIp(`::ffff:${hex.slice(0, 4)}:${hex.slice(4)}`),
        parseIpLoose(String(n)),
        parseIpLoose(`0x${hex}`),
        parseIpLoose(`${(n >>> 24) & 0xff}.${n & 0xffffff}`),
      ]
      for (const ip of spellings) {
        expect(ip?.text, `${dotted}`).toBe(dotted)
        expect(classify(ip!), dotted).toBe(expected)
      }
    }
  })
})

describe('MYNTRIX_OUTBOUND_ALLOW', () => {
  it('accepts hosts, addresses, CIDRs, each with or without a port', () => {
    const entries = parseOutboundAllow(
      'printer.lan, *.farm.example, 127.0.0.1:8081, [::1]:8081, ::1, 10.0.0.0/8, 10.0.0.0/8:502, [fd00::/8]:502, fd00::/8',
    )
    expect(entries.map((e) => [e.kind, e.port])).toEqual([
      ['name', undefined],
      ['name', undefined],
      ['cidr', 8081],
      ['cidr', 8081],
      ['cidr', undefined],
      ['cidr', undefined],
      ['cidr', 502],
      ['cidr', 502],
      ['cidr', undefined],
    ])
  })

  it.each(['127.0.0.1:0', 'host:99999', '10.0.0.0/33', 'a b', 'http://x', '[printer]:1', '1.2.3', 'x:'])(
    'refuses %j with a one-line error naming the variable',
    (entry) => {
      let error: unknown
      try {
        parseOutboundAllow(`ok.example, ${entry}`)
      } catch (err) {
        error = err
      }
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as Error).message).toMatch(/^MYNTRIX_OUTBOUND_ALLOW: entry ".*" is not/)
      expect((error as Error).message).not.toContain('\n')
    },
  )
})

describe('actingRole', () => {
  it('is admin only when everyone behind the connection is', () => {
    expect(actingRole('admin', 'admin')).toBe('admin')
    expect(actingRole('admin', 'operator')).toBe('operator')
    expect(actingRole('operator', 'admin')).toBe('operator')
    expect(actingRole('admin', undefined)).toBeUndefined()
    expect(actingRole()).toBeUndefined()
  })
})

describe('OutboundPolicy', () => {
  // A fixed resolver: the tests must not depend on this host's DNS.
  const names: Record<string, string[]> = {
    'printer.lan': ['192.168.1.20'],
    'evil.example': ['93.184.216.34', '127.0.0.1'],
    'public.example': ['93.184.216.34'],
    'db.internal': ['10.0.0.5'],
    localhost: ['::1', '127.0.0.1'],
    'app.localhost': ['127.0.0.1'],
    'metadata.google.internal': ['169.254.169.254'],
  }
  const policy = (options: ConstructorParameters<typeof OutboundPolicy>[0] = {}) =>
    new OutboundPolicy({
      lookup: async (host) => {
        const list = names[host]
        if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
        return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
      },
      localAddresses: () => ['127.0.0.1', '::1', '192.168.1.5'],
      protectedPorts: [8080],
      ...options,
    })
  const denied = async (p: OutboundPolicy, host: string, port: number, role = 'operator') => {
    try {
      await p.resolve({ role, host, port })
      return null
    } catch (err) {
      if (err instanceof OutboundDeniedError) return err
      throw err
    }
  }

  it('lets a non-admin reach public and private hosts, and answers the checked address', async () => {
    expect(await policy().resolve({ role: 'operator', host: 'printer.lan', port: 23 })).toEqual({
      host: 'printer.lan',
      address: '192.168.1.20',
      family: 4,
      port: 23,
    })
    expect(await denied(policy(), 'public.example', 443)).toBeNull()
    expect(await denied(policy(), '10.1.2.3', 502)).toBeNull()
  })

  it.each([
    ['127.0.0.1', 6379, 'loopback'],
    ['localhost', 80, 'loopback'],
    ['app.localhost', 80, 'loopback'],
    ['127.1', 80, 'loopback'],
    ['0x7f.1', 80, 'loopback'],
    ['2130706433', 80, 'loopback'],
    ['[::1]', 80, 'loopback'],
    ['::ffff:127.0.0.1', 80, 'loopback'],
    ['0.0.0.0', 80, 'unspecified'],
    ['169.254.169.254', 80, 'metadata'],
    ['metadata.google.internal', 80, 'metadata'],
    ['fd00:ec2::254', 80, 'metadata'],
    ['169.254.10.10', 80, 'link-local'],
    ['fe80::1', 80, 'link-local'],
    ['evil.example', 80, 'loopback'],
    ['192.168.1.5', 5432, 'own address'],
    ['192.168.1.5', 6379, 'own address'],
    ['192.168.1.5', 8080, 'own address'],
  ])('refuses an operator %s:%d (%s)', async (host, port) => {
    const err = await denied(policy(), host, port)
    expect(err).not.toBeNull()
    expect(err!.status).toBe(403)
    expect(err!.type).toBe('outbound-denied')
    expect(err!.message).toContain('MYNTRIX_OUTBOUND_ALLOW=')
    // An admin may reach anything.
    expect(await denied(policy(), host, port, 'admin')).toBeNull()
  })

  it("lets a non-admin reach this host's other ports on its LAN address", async () => {
    expect(await denied(policy(), '192.168.1.5', 8081)).toBeNull()
  })

  it('refuses an unknown role the same as an operator', async () => {
    expect(await denied(policy(), '127.0.0.1', 80, undefined as unknown as string)).not.toBeNull()
  })

  it('names the resolved address and the exact entry that would allow it', async () => {
    const err = await denied(policy(), 'evil.example', 8081)
    expect(err!.message).toContain('evil.example:8081')
    expect(err!.message).toContain('resolves to 127.0.0.1')
    expect(err!.message).toContain('MYNTRIX_OUTBOUND_ALLOW=127.0.0.1:8081')
  })

  it('an allow-list entry with a port opens exactly that port', async () => {
    const p = policy({ allow: parseOutboundAllow('127.0.0.1:8081,[::1]:9000') })
    expect(await denied(p, '127.0.0.1', 8081)).toBeNull()
    expect(await denied(p, '127.0.0.1', 8082)).not.toBeNull()
    expect(await denied(p, '::1', 9000)).toBeNull()
    expect(await denied(p, '::ffff:127.0.0.1', 8081)).toBeNull()
    expect(await denied(p, '::1', 8081)).not.toBeNull()
  })

  it('an allow-list CIDR or name opens all its ports', async () => {
    const p = policy({ allow: parseOutboundAllow('169.254.0.0/16,localhost') })
    expect(await denied(p, '169.254.3.4', 1)).toBeNull()
    expect(await denied(p, 'localhost', 5)).toBeNull()
  })

  it("refuses the server's database wherever it runs, by name and by address", async () => {
    const p = policy({ protectedEndpoints: [{ host: 'db.internal', port: 5432, what: 'database' }] })
    expect((await denied(p, 'db.internal', 5432))?.message).toContain("this server's database")
    expect((await denied(p, '10.0.0.5', 5432))?.message).toContain("this server's database")
    expect(await denied(p, '10.0.0.5', 22)).toBeNull()
  })

  it('MYNTRIX_OUTBOUND_PRIVATE=deny refuses private ranges unless listed', async () => {
    const p = policy({ allowPrivate: false, allow: parseOutboundAllow('printer.lan') })
    expect((await denied(p, '10.1.2.3', 502))?.message).toContain('MYNTRIX_OUTBOUND_PRIVATE=deny')
    expect(await denied(p, 'printer.lan', 23)).toBeNull()
    expect(await denied(p, 'public.example', 443)).toBeNull()
  })

  it('checks a literal at create time without a lookup, names the field', () => {
    const p = policy()
    expect(() => p.checkLiteral({ role: 'operator', host: '0x7f.1', port: 23 }, 'connectionString')).toThrow(
      OutboundDeniedError,
    )
    try {
      p.checkLiteral({ role: 'operator', host: 'localhost', port: 23 }, 'connectionString')
    } catch (err) {
      expect((err as OutboundDeniedError).errors?.[0]?.path).toBe('connectionString')
    }
    // Names need the resolver: left to connect time.
    expect(() => p.checkLiteral({ role: 'operator', host: 'evil.example', port: 23 })).not.toThrow()
    expect(() => p.checkLiteral({ role: 'admin', host: '127.0.0.1', port: 23 })).not.toThrow()
  })

  it('reports a name that does not resolve with the resolver code', async () => {
    await expect(
      policy().resolve({ role: 'operator', host: 'nowhere.example', port: 1 }),
    ).rejects.toMatchObject({
      code: 'ENOTFOUND',
    })
  })
})
