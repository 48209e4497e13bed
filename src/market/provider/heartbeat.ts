import type { PeerId } from '@libp2p/interface'
import { addressFromPublicKey } from '../../core/address.ts'
import { Reader, Writer } from '../../core/codec.ts'
import { errorMessage } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { ML_DSA65_PUBLIC_KEY_BYTES, ML_DSA65_SIGNATURE_BYTES, sign, signingMessage, verify } from '../../core/crypto.ts'
import { type GossipRegistry, GossipValidationError, type GossipVerdict } from '../../network/gossip.ts'
import { GOSSIP_TOPICS } from '../../network/protocols.ts'
import type { ProviderKeys } from './challenge.ts'

/**
 * Provider heartbeats on gossip (`harmony/1/provider`): a registered provider says, signed with its ML-DSA key,
 * that it is up, how many tasks it holds and its capacity. Every node keeps the last one per provider (bounded),
 * so `market_providers` can show who is live; the ledger never depends on them (a missed deadline is judged on the
 * DAG). Only registered providers' heartbeats are relayed, a replayed or stale one is ignored, a forged one rejected.
 */

const VERSION = 1
const TAG = 'HARMONY/market/provider-heartbeat/v1'
const HEARTBEAT_BYTES = 1 + ML_DSA65_PUBLIC_KEY_BYTES + 8 + 8 + 2 + 2 + ML_DSA65_SIGNATURE_BYTES
/** A heartbeat more than this far from our clock is ignored (clocks drift; a replay is old). */
const MAX_SKEW_MS = 60_000

export interface Heartbeat {
  publicKey: Uint8Array
  timeMs: number
  /** Grows with every heartbeat of one provider: a replay carries an old one. */
  seq: bigint
  active: number
  capacity: number
  signature: Uint8Array
}

function body (chainId: string, h: Omit<Heartbeat, 'signature'>): Uint8Array {
  return signingMessage(TAG, chainId, new Writer(2000).fixed(h.publicKey, ML_DSA65_PUBLIC_KEY_BYTES).u64(BigInt(h.timeMs)).u64(h.seq).u16(h.active).u16(h.capacity).finish())
}

export function signHeartbeat (chainId: string, keys: ProviderKeys, h: Omit<Heartbeat, 'signature' | 'publicKey'>): Heartbeat {
  const unsigned = { ...h, publicKey: keys.publicKey, active: Math.min(h.active, 0xffff), capacity: Math.min(h.capacity, 0xffff) }
  return { ...unsigned, signature: sign(body(chainId, unsigned), keys.secretKey) }
}

export function encodeHeartbeat (h: Heartbeat): Uint8Array {
  return new Writer(HEARTBEAT_BYTES).u8(VERSION).fixed(h.publicKey, ML_DSA65_PUBLIC_KEY_BYTES).u64(BigInt(h.timeMs)).u64(h.seq)
    .u16(h.active).u16(h.capacity).fixed(h.signature, ML_DSA65_SIGNATURE_BYTES).finish()
}

export function decodeHeartbeat (bytes: Uint8Array): Heartbeat {
  const r = new Reader(bytes, 'provider heartbeat')
  if (r.u8() !== VERSION) r.fail('unknown version')
  const publicKey = r.fixed(ML_DSA65_PUBLIC_KEY_BYTES)
  const time = r.u64()
  if (time > BigInt(Number.MAX_SAFE_INTEGER)) r.fail('time out of range')
  const seq = r.u64()
  const active = r.u16()
  const capacity = r.u16()
  const signature = r.fixed(ML_DSA65_SIGNATURE_BYTES)
  r.end()
  return { publicKey, timeMs: Number(time), seq, active, capacity, signature }
}

export interface ProviderLiveness {
  address: string
  lastSeenMs: number
  active: number
  capacity: number
}

export interface HeartbeatsComponents {
  gossip: Pick<GossipRegistry, 'register' | 'publish'>
  chainId: string
  /** True when `address` is a registered provider (final provider-register): only they are relayed. */
  isProvider: (address: string) => Promise<boolean>
  now?: () => number
}

export interface HeartbeatsInit {
  /** Providers remembered; the least recently heard is dropped past this. @default 4096 */
  maxProviders?: number
}

/** The `harmony/1/provider` topic: validates, relays and remembers heartbeats; publishes this node's own. */
export class ProviderHeartbeats {
  private readonly c: HeartbeatsComponents
  private readonly maxProviders: number
  private readonly seen = new Map<string, ProviderLiveness & { seq: bigint }>()
  private unregister: (() => void) | undefined

  constructor (components: HeartbeatsComponents, init: HeartbeatsInit = {}) {
    this.c = components
    this.maxProviders = init.maxProviders ?? 4096
  }

  start (): void {
    this.unregister ??= this.c.gossip.register<Heartbeat>({
      topic: GOSSIP_TOPICS.provider,
      maxBytes: HEARTBEAT_BYTES,
      decode: decodeHeartbeat,
      validate: async (h: Heartbeat, _from: PeerId) => await this.validate(h)
    })
  }

  stop (): void {
    this.unregister?.()
    this.unregister = undefined
  }

  private async validate (h: Heartbeat): Promise<GossipVerdict> {
    const now = (this.c.now ?? Date.now)()
    if (Math.abs(h.timeMs - now) > MAX_SKEW_MS) throw new GossipValidationError('ignore', 'HEARTBEAT_STALE')
    const address = addressFromPublicKey(h.publicKey)
    const last = this.seen.get(address)
    if (last !== undefined && h.seq <= last.seq) throw new GossipValidationError('ignore', 'HEARTBEAT_REPLAY')
    if (!(await this.c.isProvider(address))) throw new GossipValidationError('ignore', 'NOT_PROVIDER')
    if (!verify(h.signature, body(this.c.chainId, h), h.publicKey)) throw new GossipValidationError('reject', 'SIGNATURE_INVALID')
    this.remember(address, h)
    return 'accept'
  }

  private remember (address: string, h: Heartbeat): void {
    this.seen.delete(address)
    this.seen.set(address, { address, lastSeenMs: h.timeMs, active: h.active, capacity: h.capacity, seq: h.seq })
    while (this.seen.size > this.maxProviders) {
      const oldest = this.seen.keys().next()
      if (oldest.done === true) break
      this.seen.delete(oldest.value)
    }
  }

  /** Publishes this provider's heartbeat (and remembers it: gossip does not deliver our own). */
  async publish (h: Heartbeat): Promise<void> {
    this.remember(addressFromPublicKey(h.publicKey), h)
    await this.c.gossip.publish(GOSSIP_TOPICS.provider, encodeHeartbeat(h))
  }

  /** The last heartbeat heard from `address`, if any. */
  liveness (address: string): ProviderLiveness | undefined {
    const entry = this.seen.get(address)
    if (entry === undefined) return undefined
    const { seq: _seq, ...view } = entry
    return view
  }
}

export interface HeartbeatSenderComponents {
  chainId: string
  keys: ProviderKeys
  heartbeats: Pick<ProviderHeartbeats, 'publish'>
  log: Logger
}

/** A provider's own heartbeat: signed and published every `periodMs`, each seq above the last (the time, or one more). */
export class HeartbeatSender {
  private readonly c: HeartbeatSenderComponents
  private readonly periodMs: number
  private lastMs = 0
  private seq = 0n

  constructor (components: HeartbeatSenderComponents, periodMs: number) {
    this.c = components
    this.periodMs = periodMs
  }

  /** On the provider's clock: publishes when a period has passed since the last heartbeat. */
  tick (now: number, load: { active: number, capacity: number }): void {
    if (now - this.lastMs < this.periodMs) return
    this.lastMs = now
    this.seq = BigInt(now) > this.seq ? BigInt(now) : this.seq + 1n
    const heartbeat = signHeartbeat(this.c.chainId, this.c.keys, { timeMs: now, seq: this.seq, ...load })
    void this.c.heartbeats.publish(heartbeat).catch(err => { this.c.log.debug({ err: errorMessage(err) }, 'heartbeat not published') })
  }
}
