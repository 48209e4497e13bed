import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns'
import { lookup as dnsLookupAsync } from 'node:dns/promises'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import { WebhookError } from './types.ts'

// Where a webhook may POST. A node's admin credentials (an API key with scope admin) must not make it POST into its
// own network (SSRF: the cloud metadata service at 169.254.169.254, an admin port on 127.0.0.1, a router at
// 192.168.1.1): unless the operator allows private targets, a hook's host may not be, or resolve to, an address
// below. The check runs at registration (an early, clear error) and again on every delivery, on the addresses the
// connection itself uses (a host name can resolve elsewhere later: DNS rebinding).

// IANA special-purpose ranges that are not the public Internet (RFC 6890 and its updates). IPv4-mapped IPv6
// addresses (::ffff:127.0.0.1) are checked against the IPv4 list by BlockList itself.
const PRIVATE_V4: ReadonlyArray<[string, number]> = [
  ['0.0.0.0', 8], // "this network"; 0.0.0.0 reaches the local host
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT, shared address space
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata services)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4] // reserved, broadcast
]
const PRIVATE_V6: ReadonlyArray<[string, number]> = [
  ['::', 96], // unspecified, loopback (::1), IPv4-compatible
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8] // multicast
]

const privateRanges = new BlockList()
for (const [network, prefix] of PRIVATE_V4) privateRanges.addSubnet(network, prefix, 'ipv4')
for (const [network, prefix] of PRIVATE_V6) privateRanges.addSubnet(network, prefix, 'ipv6')

/** True for an IP address that is loopback, private, link-local or otherwise not on the public Internet. */
export function isPrivateAddress (address: string): boolean {
  const family = isIP(address)
  if (family === 0) return false
  return privateRanges.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

/** The host of a URL as an address or name: `[::1]` -> `::1`. */
function hostOf (url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
}

function refused (host: string, address: string): WebhookError {
  const via = host === address ? '' : ` (it resolves to ${address})`
  return new WebhookError('WEBHOOK_TARGET_PRIVATE',
    `the webhook host ${host.slice(0, 80)}${via} is a loopback, private or link-local address, which this node does not POST to; allow such targets with allow-private-webhooks: true (--allow-private-webhooks), as a devnet does`,
    { host: host.slice(0, 80), address })
}

/**
 * At registration: WEBHOOK_TARGET_PRIVATE when `url`'s host is a private address or resolves to one. A name that
 * does not resolve now is accepted: its deliveries are checked (and fail, and are retried) when they connect.
 */
export async function checkTarget (url: URL): Promise<void> {
  const host = hostOf(url)
  if (isIP(host) !== 0) {
    if (isPrivateAddress(host)) throw refused(host, host)
    return
  }
  let addresses: LookupAddress[]
  try {
    addresses = await dnsLookupAsync(host, { all: true })
  } catch {
    return
  }
  const inside = addresses.find((a) => isPrivateAddress(a.address))
  if (inside !== undefined) throw refused(host, inside.address)
}

/**
 * For a delivery: the refusal when `url`'s host is a private address (a connection to an address skips the
 * lookup), else undefined; a host name is checked by `guardedLookup` as the connection resolves it.
 */
export function privateAddressTarget (url: URL): WebhookError | undefined {
  const host = hostOf(url)
  return isIP(host) !== 0 && isPrivateAddress(host) ? refused(host, host) : undefined
}

/**
 * A `lookup` for node:http(s) that refuses (error code WEBHOOK_TARGET_PRIVATE) a name resolving to any private
 * address, so the connection never reaches one, whatever the name resolved to at registration.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...(options as LookupOptions), all: true }, (err, addresses) => {
    if (err !== null) { callback(err, '', 4); return }
    const inside = addresses.find((a) => isPrivateAddress(a.address))
    if (inside !== undefined) { callback(refused(hostname, inside.address) as unknown as NodeJS.ErrnoException, '', 4); return }
    if ((options as LookupOptions).all === true) { callback(null, addresses); return }
    const [first] = addresses
    if (first === undefined) { callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 4); return }
    callback(null, first.address, first.family)
  })
}
