// The one rule for every connection the server opens on a user's behalf (TCP
// and MQTT devices, the scheduler's `api` action, later webhooks). Domain code
// asks `resolve({role, host, port})` and connects to the address it answers:
// the name is resolved once here, every address it resolves to is checked,
// and the caller connects to that checked address, so a DNS answer that
// changes between the check and the connect (rebinding) cannot swap it.
// docs/SECURITY.md ("Outbound connections") explains the default.

import { lookup as dnsLookup } from 'node:dns/promises'
import { networkInterfaces } from 'node:os'
import { ConfigError, MyntrixError } from '../errors.js'
import {
  type AddressCategory,
  type Cidr,
  classify,
  hostPort,
  type Ip,
  inCidr,
  parseCidr,
  parseIp,
  parseIpLoose,
} from './ip.js'

export const OUTBOUND_ALLOW_SETTING = 'MYNTRIX_OUTBOUND_ALLOW'
export const OUTBOUND_PRIVATE_SETTING = 'MYNTRIX_OUTBOUND_PRIVATE'

/** One MYNTRIX_OUTBOUND_ALLOW entry: a host name (`*.` for subdomains), an address or a CIDR, and maybe a port. */
export type AllowEntry =
  | { kind: 'name'; name: string; port?: number; text: string }
  | { kind: 'cidr'; cidr: Cidr; port?: number; text: string }

/** Well-known ports of services such a server usually runs beside it: PostgreSQL, Redis. */
export const WELL_KNOWN_SERVICE_PORTS = [5432, 6379] as const

/** Names that always mean loopback or a metadata service, refused before any lookup. */
const DENIED_NAMES: [RegExp, AddressCategory][] = [
  [/^localhost$|\.localhost$/, 'loopback'],
  [/^metadata\.google\.internal$|^metadata\.goog$/, 'metadata'],
]

const CATEGORY_TEXT: Record<Exclude<AddressCategory, 'public' | 'private'>, string> = {
  unspecified: 'an unspecified address (it reaches this host)',
  loopback: 'a loopback address (this host)',
  'link-local': 'a link-local address',
  metadata: 'a cloud metadata address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
}

export interface CheckedAddress {
  /** The host as asked for (a name or an address). */
  host: string
  /** The checked address to connect to (IPv4-mapped IPv6 given as IPv4). */
  address: string
  family: 4 | 6
  port: number
}

export interface OutboundRequest {
  /**
   * The role the connection is opened for: the least of everyone it acts for
   * (see `actingRole`). Only `admin` passes unchecked; anything else, or
   * undefined, is held to the policy.
   */
  role: string | undefined
  host: string
  port: number
  /** What opens it, for the message (`tcp device`, `api action`). */
  purpose?: string
}

/** 403: the policy refuses this destination for this role. */
export class OutboundDeniedError extends MyntrixError {
  readonly status = 403
  readonly type = 'outbound-denied'
  /** As a socket would say it, for drivers that report OS codes. */
  readonly code = 'EACCES'
  constructor(
    readonly host: string,
    readonly port: number,
    readonly address: string,
    readonly reason: string,
    purpose: string | undefined,
    path?: string,
  ) {
    const target = hostPort(host, port)
    const via = host === address ? '' : ` (${host} resolves to ${address})`
    const allow = hostPort(address, port)
    const message =
      `${purpose ? `${purpose}: ` : ''}outbound connection to ${target} refused${via}: ${address} is ${reason}, ` +
      `which only admins may reach; an admin may allow it for everyone with ${OUTBOUND_ALLOW_SETTING}=${allow}`
    super(message, path ? { errors: [{ path, message }] } : undefined)
  }
}

/**
 * The role a connection acts with when several people stand behind it: a
 * device's owner and whoever connects it. It is `admin` only when all are,
 * so an operator cannot borrow an admin's reach (or lend a device to one).
 */
export function actingRole(...roles: (string | undefined)[]): string | undefined {
  return roles.every((r) => r === 'admin') && roles.length > 0
    ? 'admin'
    : (roles.find((r) => r !== 'admin') ?? undefined)
}

function parsePortText(raw: string): number | undefined {
  if (!/^\d{1,5}$/.test(raw)) return undefined
  const port = Number(raw)
  return port >= 1 && port <= 65535 ? port : undefined
}

const NAME = /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/

/** One entry; undefined when it is none of the accepted forms. */
export function parseAllowEntry(raw: string): AllowEntry | undefined {
  const text = raw.trim().toLowerCase()
  if (text === '') return undefined
  let body = text
  let port: number | undefined
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  if (bracketed) {
    body = bracketed[1] ?? ''
    if (bracketed[2] !== undefined) {
      port = parsePortText(bracketed[2])
      if (port === undefined) return undefined
    }
  } else if ((text.match(/:/g) ?? []).length === 1) {
    // One colon: host:port or v4cidr:port. Two or more: a bare IPv6 address or CIDR, which cannot carry a port.
    const i = text.lastIndexOf(':')
    body = text.slice(0, i)
    port = parsePortText(text.slice(i + 1))
    if (port === undefined) return undefined
  }
  if (body.includes('/')) {
    const cidr = parseCidr(body)
    return cidr ? { kind: 'cidr', cidr, port, text } : undefined
  }
  const ip = parseIp(body)
  if (ip) return { kind: 'cidr', cidr: { ip, prefix: ip.family === 4 ? 32 : 128 }, port, text }
  if (bracketed || !NAME.test(body) || /^[0-9.]+$/.test(body)) return undefined
  return { kind: 'name', name: body.replace(/\.$/, ''), port, text }
}

/** MYNTRIX_OUTBOUND_ALLOW: comma-separated entries; a bad one stops start-up naming the variable. */
export function parseOutboundAllow(
  value: string | undefined,
  variable = OUTBOUND_ALLOW_SETTING,
): AllowEntry[] {
  if (value === undefined) return []
  const entries: AllowEntry[] = []
  for (const raw of value.split(',')) {
    if (raw.trim() === '') continue
    const entry = parseAllowEntry(raw)
    if (!entry) {
      throw new ConfigError(
        variable,
        `entry "${raw.trim()}" is not a host, IP address or CIDR, optionally with :port ` +
          '(e.g. printer.lan, 10.0.0.0/8, 127.0.0.1:8081, [::1]:8081, 10.0.0.0/8:502)',
      )
    }
    entries.push(entry)
  }
  return entries
}

/** Another service this server talks to (its database, Redis), refused to non-admins wherever it runs. */
export interface ProtectedEndpoint {
  host: string
  port: number
  what: string
}

export type Lookup = (host: string) => Promise<{ address: string; family: number }[]>

export interface OutboundPolicyOptions {
  allow?: AllowEntry[]
  /** Whether non-admins may reach private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7). Default true. */
  allowPrivate?: boolean
  /** Ports refused on this host's own addresses: the server's port, PostgreSQL, Redis... */
  protectedPorts?: number[]
  protectedEndpoints?: ProtectedEndpoint[]
  /** Resolves a name to all its addresses; defaults to dns.lookup (the system resolver, as a socket would use). */
  lookup?: Lookup
  /** This host's own addresses; defaults to the network interfaces', read at each check. */
  localAddresses?: () => string[]
}

const systemLookup: Lookup = (host) => dnsLookup(host, { all: true, verbatim: true })

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address))
}

/** Lookup failures keep the resolver's code (ENOTFOUND, EAI_AGAIN) so callers report them as today. */
export class OutboundLookupError extends Error {
  constructor(
    readonly host: string,
    readonly code: string,
    cause: unknown,
  ) {
    super(`cannot resolve ${host}: ${code}`, { cause })
    this.name = 'OutboundLookupError'
  }
}

export class OutboundPolicy {
  private readonly allow: AllowEntry[]
  private readonly allowPrivate: boolean
  private readonly protectedPorts: Set<number>
  private readonly protectedEndpoints: ProtectedEndpoint[]
  private readonly lookup: Lookup
  private readonly localAddresses: () => string[]

  constructor(options: OutboundPolicyOptions = {}) {
    this.allow = options.allow ?? []
    this.allowPrivate = options.allowPrivate ?? true
    this.protectedPorts = new Set([...WELL_KNOWN_SERVICE_PORTS, ...(options.protectedPorts ?? [])])
    this.protectedEndpoints = options.protectedEndpoints ?? []
    this.lookup = options.lookup ?? systemLookup
    this.localAddresses = options.localAddresses ?? interfaceAddresses
  }

  /**
   * Resolves `host` once, checks every address it resolves to, and answers the
   * first (in the resolver's order) to connect to. Throws OutboundDeniedError
   * when any address is refused for the role (a name that resolves to a public
   * address and to 127.0.0.1 is refused: the resolver's order is not ours to
   * trust), OutboundLookupError when the name does not resolve.
   */
  async resolve(request: OutboundRequest): Promise<CheckedAddress> {
    const host = request.host.replace(/^\[(.*)\]$/, '$1')
    const literal = parseIpLoose(host)
    let addresses: Ip[]
    if (literal) addresses = [literal]
    else {
      if (request.role !== 'admin') this.checkName(request, host)
      let answers: { address: string; family: number }[]
      try {
        answers = await this.lookup(host)
      } catch (err) {
        const code = (err as { code?: unknown }).code
        throw new OutboundLookupError(host, typeof code === 'string' ? code : 'ENOTFOUND', err)
      }
      addresses = answers.map((a) => parseIp(a.address)).filter((ip): ip is Ip => ip !== null)
      if (addresses.length === 0) throw new OutboundLookupError(host, 'ENOTFOUND', undefined)
    }
    if (request.role !== 'admin') {
      for (const ip of addresses) await this.checkAddress(request, host, ip)
    }
    // Non-empty: a literal is one address, and an empty lookup threw above.
    const chosen = addresses[0]!
    return { host, address: chosen.text, family: chosen.family, port: request.port }
  }

  /**
   * The check that needs no lookup, for create and update: a host written as
   * an address (in any spelling the resolver accepts) or a name that always
   * means loopback or metadata. `path` names the field in the 4xx.
   */
  checkLiteral(request: OutboundRequest, path?: string): void {
    if (request.role === 'admin') return
    const host = request.host.replace(/^\[(.*)\]$/, '$1')
    const ip = parseIpLoose(host)
    if (!ip) {
      this.checkName(request, host, path)
      return
    }
    if (this.allowed(host, ip, request.port)) return
    const reason = this.staticReason(ip, request.port)
    if (reason) throw new OutboundDeniedError(host, request.port, ip.text, reason, request.purpose, path)
  }

  private checkName(request: OutboundRequest, host: string, path?: string): void {
    const name = host.toLowerCase().replace(/\.$/, '')
    const denied = DENIED_NAMES.find(([re]) => re.test(name))
    if (!denied || this.allowedName(name, request.port)) return
    const reason = CATEGORY_TEXT[denied[1] as keyof typeof CATEGORY_TEXT]
    throw new OutboundDeniedError(host, request.port, host, reason, request.purpose, path)
  }

  private async checkAddress(request: OutboundRequest, host: string, ip: Ip): Promise<void> {
    if (this.allowed(host, ip, request.port)) return
    const reason = this.staticReason(ip, request.port) ?? (await this.endpointReason(host, ip, request.port))
    if (reason) throw new OutboundDeniedError(host, request.port, ip.text, reason, request.purpose)
  }

  /** Why the address is refused for a non-admin, judging the address alone; null when it is not. */
  private staticReason(ip: Ip, port: number): string | null {
    const category = classify(ip)
    if (category === 'public') return this.ownPort(ip, port)
    if (category === 'private') {
      if (!this.allowPrivate) return `a private address (${OUTBOUND_PRIVATE_SETTING}=deny)`
      return this.ownPort(ip, port)
    }
    return CATEGORY_TEXT[category]
  }

  private ownPort(ip: Ip, port: number): string | null {
    if (!this.protectedPorts.has(port)) return null
    const own = this.localAddresses().some(
      (a) => parseIp(a)?.value === ip.value && parseIp(a)?.family === ip.family,
    )
    return own ? `this server's own address, and port ${port} is a service of this host` : null
  }

  /** The server's database or Redis, by name or by any address their names resolve to now. */
  private async endpointReason(host: string, ip: Ip, port: number): Promise<string | null> {
    for (const endpoint of this.protectedEndpoints) {
      if (endpoint.port !== port) continue
      if (endpoint.host.toLowerCase() === host.toLowerCase()) return `this server's ${endpoint.what}`
      const literal = parseIp(endpoint.host)
      let addresses: Ip[] = literal ? [literal] : []
      if (!literal) {
        const answers = await this.lookup(endpoint.host).catch(() => [])
        addresses = answers.map((a) => parseIp(a.address)).filter((x): x is Ip => x !== null)
      }
      if (addresses.some((a) => a.family === ip.family && a.value === ip.value))
        return `this server's ${endpoint.what}`
    }
    return null
  }

  private allowed(host: string, ip: Ip, port: number): boolean {
    return this.allow.some((entry) => {
      if (entry.port !== undefined && entry.port !== port) return false
      if (entry.kind === 'cidr') return inCidr(ip, entry.cidr)
      return nameMatches(entry.name, host)
    })
  }

  private allowedName(name: string, port: number): boolean {
    return this.allow.some(
      (entry) =>
        entry.kind === 'name' &&
        (entry.port === undefined || entry.port === port) &&
        nameMatches(entry.name, name),
    )
  }
}

function nameMatches(pattern: string, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '')
  if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1))
  return name === pattern
}

/** Host and port of a service URL (postgres://, redis://), or undefined for anything else. */
function endpointOf(
  url: string | undefined,
  defaultPort: number,
  what: string,
): ProtectedEndpoint | undefined {
  if (!url) return undefined
  try {
    const u = new URL(url)
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1')
    if (host === '') return undefined
    return { host, port: u.port ? Number(u.port) : defaultPort, what }
  } catch {
    return undefined
  }
}

/**
 * The policy for this server, from its settings (src/config validated them): the
 * outbound section, plus the server's own port and database, which it protects.
 */
export function createOutboundPolicy(settings: {
  allow: AllowEntry[]
  allowPrivate: boolean
  redisUrl: string | undefined
  port: number
  databaseUrl: string
}): OutboundPolicy {
  const database = settings.databaseUrl.startsWith('postgres')
    ? endpointOf(settings.databaseUrl, 5432, 'database')
    : undefined
  const redis = endpointOf(settings.redisUrl, 6379, 'Redis')
  const endpoints = [database, redis].filter((e): e is ProtectedEndpoint => e !== undefined)
  return new OutboundPolicy({
    allow: settings.allow,
    allowPrivate: settings.allowPrivate,
    // Port 0 means "any free port" (tests); the real one is not known here.
    protectedPorts: [...(settings.port > 0 ? [settings.port] : []), ...endpoints.map((e) => e.port)],
    protectedEndpoints: endpoints,
  })
}
