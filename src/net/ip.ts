// IP address parsing and classification for the outbound policy. Addresses are
// compared as numbers (IPv4 as a 32-bit value, IPv6 as 128 bits) so that every
// spelling of one address (`::ffff:7f00:1`, `::ffff:127.0.0.1`, `127.0.0.1`)
// lands in the same place.

import { isIPv4, isIPv6 } from 'node:net'

export interface Ip {
  family: 4 | 6
  value: bigint
  /** Canonical text: dotted quad, or RFC 5952 compressed IPv6 without brackets. */
  text: string
}

export type AddressCategory =
  | 'unspecified'
  | 'loopback'
  | 'link-local'
  | 'metadata'
  | 'multicast'
  | 'broadcast'
  | 'private'
  | 'public'

export interface Cidr {
  ip: Ip
  prefix: number
}

function ipv4Value(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n)
}

function ipv4Text(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => Number((value >> shift) & 0xffn)).join('.')
}

function ipv6Value(text: string): bigint {
  let head = text
  let tail: number[] = []
  // An embedded IPv4 tail (`::ffff:127.0.0.1`) is two groups.
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(head)
  if (v4) {
    const [, groups = '', dotted = ''] = v4
    const n = ipv4Value(dotted)
    head = groups.endsWith('::') ? groups : groups.slice(0, -1)
    tail = [Number(n >> 16n), Number(n & 0xffffn)]
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined]
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : [])
  const l = groups(left)
  const r = [...groups(right), ...tail]
  const fill = right === undefined ? [] : new Array(8 - l.length - r.length).fill(0)
  return [...l, ...fill, ...r].reduce((acc, g) => (acc << 16n) | BigInt(g), 0n)
}

function ipv6Text(value: bigint): string {
  // The WHATWG URL host serialiser writes RFC 5952 form; one well-kept implementation.
  const groups: string[] = []
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16))
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1)
}

const MAPPED_PREFIX = 0xffffn << 32n

/**
 * Parses an IP literal in its standard form (no brackets, no legacy IPv4
 * spellings: those are host names until the resolver says otherwise). An
 * IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) becomes the IPv4 address, since
 * a socket to it reaches that IPv4 host. A zone id (`fe80::1%eth0`) is dropped.
 */
export function parseIp(text: string): Ip | null {
  const bare = text.replace(/%.*$/, '')
  if (isIPv4(bare)) {
    const value = ipv4Value(bare)
    return { family: 4, value, text: ipv4Text(value) }
  }
  if (!isIPv6(bare)) return null
  const value = ipv6Value(bare)
  if (value >> 32n === MAPPED_PREFIX >> 32n) {
    const v4 = value & 0xffffffffn
    return { family: 4, value: v4, text: ipv4Text(v4) }
  }
  return { family: 6, value, text: ipv6Text(value) }
}

/**
 * What a URL parser would make of a host written in a legacy IPv4 form
 * (`127.1`, `0x7f.1`, `2130706433`, `0177.0.0.1`): the C resolver reads them
 * the same way, so such a host string already shows its address.
 */
export function parseIpLoose(host: string): Ip | null {
  const direct = parseIp(host.replace(/^\[(.*)\]$/, '$1'))
  if (direct) return direct
  if (!/^[0-9a-fA-FxX.]+$/.test(host)) return null
  try {
    return parseIp(new URL(`http://${host}/`).hostname)
  } catch {
    return null
  }
}

export function parseCidr(text: string): Cidr | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text)
  if (!m) return null
  const [, bare = '', bits = ''] = m
  // The prefix counts bits of the address as written; a mapped address is not folded here.
  const family = isIPv4(bare) ? 4 : isIPv6(bare) ? 6 : 0
  if (family === 0) return null
  const prefix = Number(bits)
  if (prefix > (family === 4 ? 32 : 128)) return null
  const value = family === 4 ? ipv4Value(bare) : ipv6Value(bare)
  const ip: Ip = { family, value, text: family === 4 ? ipv4Text(value) : ipv6Text(value) }
  if (family === 6 && value >> 32n === MAPPED_PREFIX >> 32n && prefix >= 96) {
    // `::ffff:10.0.0.0/104` means 10.0.0.0/8.
    const v4 = value & 0xffffffffn
    return { ip: { family: 4, value: v4, text: ipv4Text(v4) }, prefix: prefix - 96 }
  }
  return { ip, prefix }
}

export function inCidr(ip: Ip, cidr: Cidr): boolean {
  if (ip.family !== cidr.ip.family) return false
  const bits = BigInt(ip.family === 4 ? 32 : 128)
  const shift = bits - BigInt(cidr.prefix)
  return ip.value >> shift === cidr.ip.value >> shift
}

function cidrs(list: string[]): Cidr[] {
  return list.map((c) => {
    const parsed = parseCidr(c)
    if (!parsed) throw new Error(`bad built-in CIDR ${c}`)
    return parsed
  })
}

// Order matters: the first matching category wins (metadata before link-local and private).
const CATEGORIES: [AddressCategory, Cidr[]][] = [
  [
    'metadata',
    // AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba Cloud.
    cidrs(['169.254.169.254/32', 'fd00:ec2::254/128', '100.100.100.200/32']),
  ],
  ['unspecified', cidrs(['0.0.0.0/8', '::/128'])],
  ['loopback', cidrs(['127.0.0.0/8', '::1/128'])],
  ['link-local', cidrs(['169.254.0.0/16', 'fe80::/10'])],
  ['multicast', cidrs(['224.0.0.0/4', 'ff00::/8'])],
  ['broadcast', cidrs(['255.255.255.255/32'])],
  [
    'private',
    // RFC 1918, carrier-grade NAT (RFC 6598), IPv6 unique local (RFC 4193).
    cidrs(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7']),
  ],
]

// IPv6 forms that carry an IPv4 address another hop unwraps: IPv4-compatible
// (::a.b.c.d, deprecated) and the NAT64 well-known prefix. They are judged by
// the IPv4 address inside, so `64:ff9b::a9fe:a9fe` is metadata too.
const EMBEDDING = cidrs(['::/96', '64:ff9b::/96'])

export function classify(ip: Ip): AddressCategory {
  for (const [category, ranges] of CATEGORIES) {
    if (ranges.some((r) => inCidr(ip, r))) return category
  }
  if (ip.family === 6 && EMBEDDING.some((r) => inCidr(ip, r))) {
    const v4 = ip.value & 0xffffffffn
    return classify({ family: 4, value: v4, text: ipv4Text(v4) })
  }
  return 'public'
}

/** `host:port` as a URL would write it (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}
