import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { TokenBuckets } from './rate-limit.ts'

// a rate-limited answer (HTTP, or WebSocket, whose connection is not read meanwhile) is held back this long, and
// at most this many per client at once (beyond that the refusal is sent at once and the connection closed): a
// client that ignores Retry-After then costs the node at most its limit in answered calls plus (held connections /
// hold time) in refusals
const REFUSAL_HOLD_MS = 1000
const MAX_HELD_REFUSALS_PER_CLIENT = 32
// Host headers whose verdict is remembered (a handful in practice; a table past this is dropped whole)
const MAX_HOST_VERDICTS = 64

/** geth's `--http.vhosts` default, with the loopback addresses a local client puts in its Host header. */
export const DEFAULT_VHOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1']

export interface RpcRateLimitInit {
  /** Calls per second one client (API key, or IP address without credentials) may make. @default 1000 */
  ratePerSecond?: number
  /** Calls a client may make at once before the rate applies. @default ratePerSecond */
  burst?: number
  /**
   * Calls per second of the operator (a valid bearer JWT), in a bucket of its own so that a flood from other
   * clients never starves the operator. @default 10 × ratePerSecond
   */
  operatorRatePerSecond?: number
  /** Clients tracked at once; the least recently seen is evicted beyond this. @default 10000 */
  maxClients?: number
  /** The buckets' clock in milliseconds (tests). @default performance.now */
  now?: () => number
}

export interface RpcAccessInit {
  /**
   * Host names (the request's Host header, without port) the HTTP and WebSocket endpoints answer, like geth's
   * `--http.vhosts`: a browser page on another name (DNS rebinding) is refused. `'*'` allows any.
   * @default ['localhost', '127.0.0.1', '::1']
   */
  vhosts?: readonly string[]
  /** Per-client token buckets; `false` turns the limit off. @default {} (on, with the defaults above) */
  rateLimit?: RpcRateLimitInit | false
}

/** The HTTP-level checks before a call is read: the Host allowlist and the per-client rate limit. */
export class RpcAccess {
  private readonly vhosts: ReadonlySet<string>
  private readonly clients?: TokenBuckets
  private readonly operator?: TokenBuckets
  // clients with refusals being held, and how many (entries leave when their count drops to 0)
  private readonly heldRefusals = new Map<string, number>()
  private readonly hostVerdicts = new Map<string, boolean>()

  constructor (init: RpcAccessInit = {}) {
    this.vhosts = new Set((init.vhosts ?? DEFAULT_VHOSTS).map((h) => h.toLowerCase()))
    if (init.rateLimit !== false) {
      const rate = init.rateLimit?.ratePerSecond ?? 1000
      const now = init.rateLimit?.now
      this.clients = new TokenBuckets({ ratePerSecond: rate, burst: init.rateLimit?.burst, maxClients: init.rateLimit?.maxClients, now })
      // one bucket: the operator is one client
      this.operator = new TokenBuckets({ ratePerSecond: init.rateLimit?.operatorRatePerSecond ?? rate * 10, maxClients: 1, now })
    }
  }

  /** True when the Host header names an allowed host (an absent header is allowed: it cannot come from a browser). */
  hostAllowed (hostHeader: string | undefined): boolean {
    if (this.vhosts.has('*') || hostHeader === undefined) return true
    // a client sends the same Host on every call; parsing it (an IPv6 test among others) showed in profiles
    const known = this.hostVerdicts.get(hostHeader)
    if (known !== undefined) return known
    const allowed = this.vhosts.has(hostName(hostHeader))
    if (this.hostVerdicts.size >= MAX_HOST_VERDICTS) this.hostVerdicts.clear()
    this.hostVerdicts.set(hostHeader, allowed)
    return allowed
  }

  /** Spends `calls` tokens of `client`'s bucket: 0 when allowed, else the milliseconds to wait. */
  admit (client: string, calls: number): number {
    if (client === 'operator') return this.operator?.take(client, calls) ?? 0
    return this.clients?.take(client, calls) ?? 0
  }

  /**
   * Waits out the hold of a refused answer (until `signal` aborts); false, at once, when the client already has
   * the most refusals held (the caller then closes the connection).
   */
  async holdRefusal (client: string, signal: AbortSignal): Promise<boolean> {
    const held = this.heldRefusals.get(client) ?? 0
    if (held >= MAX_HELD_REFUSALS_PER_CLIENT) return false
    this.heldRefusals.set(client, held + 1)
    try {
      await sleep(REFUSAL_HOLD_MS, undefined, { signal }).catch(() => {})
    } finally {
      const left = (this.heldRefusals.get(client) ?? 1) - 1
      if (left <= 0) this.heldRefusals.delete(client)
      else this.heldRefusals.set(client, left)
    }
    return true
  }
}

/** `example.org:9545` -> `example.org`; `[::1]:9545` -> `::1`. */
export function hostName (hostHeader: string): string {
  const host = hostHeader.trim().toLowerCase()
  if (host.startsWith('[')) {
    const end = host.indexOf(']')
    return end === -1 ? host : host.slice(1, end)
  }
  if (isIP(host) === 6) return host
  const colon = host.lastIndexOf(':')
  return colon === -1 ? host : host.slice(0, colon)
}

/** True for addresses only this machine can reach (where running without auth is allowed). */
export function isLoopbackHost (host: string): boolean {
  const h = host.toLowerCase()
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'))
}

/** Who a request counts as: the client its credentials name (`granted`), else the anonymous client of its address. */
export function clientOf (granted: string | undefined, req: Pick<IncomingMessage, 'socket'>): string {
  return granted ?? anonymousClient(req.socket.remoteAddress ?? 'unknown')
}

/**
 * The anonymous client a remote address counts as, for the rate limit and the byte budget's per-client share: an
 * IPv4 address itself (an IPv4-mapped IPv6 address as its IPv4), an IPv6 address by its /64, since one host is
 * handed a whole /64 and could otherwise claim a share per address.
 */
export function anonymousClient (remoteAddress: string): string {
  const address = remoteAddress.replace(/%.*$/, '')
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped !== null) return `ip:${mapped[1]}`
  if (isIP(address) !== 6) return `ip:${address}`
  const [head, tail = ''] = address.toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : []
  // an embedded IPv4 tail (::1.2.3.4) is two groups; only the first four groups are kept anyway
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return `ip:${groups.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}
