import { EventEmitter } from 'node:events'
import { lpStream } from '@libp2p/utils'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { Counter, type Registry } from 'prom-client'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import { PROTOCOLS } from './protocols.ts'
import { sign as mldsaSign, verify as mldsaVerify } from '../core/crypto.ts'
import {
  MLDSA65_PUBLIC_KEY_BYTES,
  MLDSA65_SIGNATURE_BYTES,
  bindingMessage,
  type PeerBinding
} from '../core/keys/identity.ts'

/** Peers exchange the ML-DSA signature that binds their ledger key to their libp2p peer id. */
export const PEER_BINDING_PROTOCOL = PROTOCOLS.peerBinding

const BINDING_BYTES = MLDSA65_PUBLIC_KEY_BYTES + MLDSA65_SIGNATURE_BYTES
const BINDING_TIMEOUT_MS = 10_000

export interface PeerBindingInit {
  /** Verified bindings kept; the oldest is dropped past this. @default 1024 */
  maxBindings?: number
  /**
   * Attempts to fetch a peer's binding per connection. A restarted node accepts connections ~2 s before it
   * registers its protocols, so the first attempts can meet "protocol not supported". @default 8
   */
  maxAttempts?: number
  /** Wait before the second attempt; doubles after each failure (250, 500, 1000, 2000, 2000, ...). @default 250 */
  retryBaseMs?: number
  /** Longest wait between two attempts. @default 2000 */
  retryMaxMs?: number
}

/** The ML-DSA-65 operations the binding uses (injectable so a test can count them). */
export interface BindingCrypto {
  sign: (message: Uint8Array, secretKey: Uint8Array) => Uint8Array
  verify: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean
}

export interface PeerBindingComponents {
  libp2p: Pick<Libp2p, 'peerId' | 'handle' | 'unhandle' | 'getConnections' | 'addEventListener' | 'removeEventListener'>
  /** The node's ledger key pair (the peer id comes from libp2p). */
  identity: { ledgerKey: { publicKey: Uint8Array, secretKey: Uint8Array } }
  logger: Logger
  registry?: Registry
  /** @default ML-DSA-65 from src/dag/crypto.ts (node:crypto when available, noble otherwise) */
  crypto?: BindingCrypto
}

export interface VerifiedPeer {
  peerId: PeerId
  ledgerPublicKey: Uint8Array
}

export interface PeerBindingEvents {
  /** A peer proved it holds `ledgerPublicKey` (once per connection lifetime). */
  'peer:bound': [VerifiedPeer]
  /** A bound peer disconnected (or its binding was evicted). */
  'peer:unbound': [PeerId]
}

/** What the ledger needs from the binding: the bound peers now, and their arrivals and departures. */
export type BoundPeers = Pick<PeerBindingService, 'verifiedPeers' | 'on' | 'off'>

export function encodeBinding (binding: PeerBinding): Uint8Array {
  const out = new Uint8Array(BINDING_BYTES)
  out.set(binding.ledgerPublicKey)
  out.set(binding.signature, MLDSA65_PUBLIC_KEY_BYTES)
  return out
}

export function decodeBinding (bytes: Uint8Array): PeerBinding | undefined {
  if (bytes.length !== BINDING_BYTES) return undefined
  return {
    ledgerPublicKey: new Uint8Array(bytes.subarray(0, MLDSA65_PUBLIC_KEY_BYTES)),
    signature: new Uint8Array(bytes.subarray(MLDSA65_PUBLIC_KEY_BYTES))
  }
}

/**
 * The one peer binding (`/harmony/id/1.0.0`): on every new connection it asks the remote for its binding and checks
 * the ML-DSA-65 signature over the remote's peer id (which noise has already authenticated). A forged binding closes
 * the connection. The node signs its own binding once at start, so a connection costs each side one verification.
 * Other services (the ledger's validator set) listen to `peer:bound` / `peer:unbound`.
 */
export class PeerBindingService extends EventEmitter<PeerBindingEvents> implements Startable {
  private readonly components: PeerBindingComponents
  private readonly crypto: BindingCrypto
  private readonly maxBindings: number
  private readonly maxAttempts: number
  private readonly retryBaseMs: number
  private readonly retryMaxMs: number
  private readonly verified = new Map<string, VerifiedPeer>()
  /** peer id → its check under way (one per peer, shared by every caller that waits for it) */
  private readonly pending = new Map<string, Promise<boolean>>()
  private ownBinding: Uint8Array | undefined
  private abort = new AbortController()
  private readonly outcomes?: Counter<'outcome'>
  private readonly onConnection = (evt: CustomEvent<Connection>): void => { void this.check(evt.detail) }
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    if (this.verified.delete(evt.detail.toString())) this.safeDispatch('peer:unbound', evt.detail)
  }

  constructor (components: PeerBindingComponents, init: PeerBindingInit = {}) {
    super()
    this.components = components
    this.crypto = components.crypto ?? { sign: mldsaSign, verify: mldsaVerify }
    this.maxBindings = init.maxBindings ?? 1024
    this.maxAttempts = init.maxAttempts ?? 8
    this.retryBaseMs = init.retryBaseMs ?? 250
    this.retryMaxMs = init.retryMaxMs ?? 2000
    if (components.registry !== undefined) {
      this.outcomes = new Counter({
        name: 'harmony_peer_binding_checks_total',
        help: 'Peer-id binding checks by outcome',
        labelNames: ['outcome'],
        registers: [components.registry]
      })
    }
  }

  async start (): Promise<void> {
    const { libp2p, identity } = this.components
    this.abort = new AbortController()
    // signed once: the binding is over our own peer id, the same for every connection
    this.ownBinding ??= encodeBinding({
      ledgerPublicKey: identity.ledgerKey.publicKey,
      signature: this.crypto.sign(bindingMessage(libp2p.peerId), identity.ledgerKey.secretKey)
    })
    await libp2p.handle(PEER_BINDING_PROTOCOL, (stream) => this.serve(stream), { maxInboundStreams: 4, maxOutboundStreams: 4 })
    libp2p.addEventListener('connection:open', this.onConnection)
    libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    for (const connection of libp2p.getConnections()) void this.check(connection)
  }

  async stop (): Promise<void> {
    const { libp2p } = this.components
    this.abort.abort()
    libp2p.removeEventListener('connection:open', this.onConnection)
    libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    await libp2p.unhandle(PEER_BINDING_PROTOCOL)
    this.verified.clear()
  }

  /** The ledger public key a peer proved it holds, or undefined if not (yet) verified. */
  ledgerKeyOf (peer: PeerId | string): Uint8Array | undefined {
    return this.verified.get(peer.toString())?.ledgerPublicKey
  }

  verifiedPeers (): VerifiedPeer[] {
    return [...this.verified.values()]
  }

  private async serve (stream: Stream): Promise<void> {
    try {
      if (this.ownBinding === undefined) throw new Error('peer binding not started')
      const lp = lpStream(stream, { maxDataLength: 16 })
      await lp.write(this.ownBinding, { signal: AbortSignal.timeout(BINDING_TIMEOUT_MS) })
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  /**
   * The ledger key `connection`'s peer proved: at once when it is verified, else after the check under way (or one
   * started now) ends, waiting at most `timeoutMs`. Undefined when it did not prove one by then. A service that answers
   * only some peers (blobs/service.ts) asks this, so a peer that dialled a moment ago is not refused for being early.
   */
  async provenKey (connection: Connection, timeoutMs = BINDING_TIMEOUT_MS): Promise<Uint8Array | undefined> {
    const known = this.ledgerKeyOf(connection.remotePeer)
    if (known !== undefined) return known
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.check(connection),
      new Promise<void>(resolve => { timer = setTimeout(resolve, timeoutMs) })
    ])
    clearTimeout(timer)
    return this.ledgerKeyOf(connection.remotePeer)
  }

  /**
   * Asks one connection's peer for its binding and verifies it, retrying with a bounded backoff while the
   * connection is open and the remote does not speak the protocol yet (a node that is still starting). A peer's
   * check already under way is shared, not started twice.
   */
  async check (connection: Connection): Promise<boolean> {
    const key = connection.remotePeer.toString()
    if (this.verified.has(key)) return true
    const running = this.pending.get(key)
    if (running !== undefined) return await running
    if (this.pending.size >= this.maxBindings) return false
    const checking = this.checkOnce(connection)
    this.pending.set(key, checking)
    try {
      return await checking
    } finally {
      this.pending.delete(key)
    }
  }

  private async checkOnce (connection: Connection): Promise<boolean> {
    let delayMs = this.retryBaseMs
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(connection)
      if (outcome !== 'unavailable') return outcome === 'verified'
      if (attempt >= this.maxAttempts || connection.status !== 'open' || this.abort.signal.aborted) break
      await sleep(delayMs, this.abort.signal)
      delayMs = Math.min(delayMs * 2, this.retryMaxMs)
    }
    // a peer that does not speak the protocol (or went away) is not verified, but also not punished
    this.outcomes?.inc({ outcome: 'unavailable' })
    return false
  }

  private async attempt (connection: Connection): Promise<'verified' | 'forged' | 'unavailable'> {
    const key = connection.remotePeer.toString()
    const log = this.components.logger
    let bytes: Uint8Array
    try {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(BINDING_TIMEOUT_MS)])
      const stream = await connection.newStream(PEER_BINDING_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: BINDING_BYTES })
      bytes = (await lp.read({ signal })).subarray()
      await stream.close().catch(() => {})
    } catch (err) {
      log.debug({ peer: key, err: (err as Error).message }, 'peer binding not available yet')
      return 'unavailable'
    }
    const binding = decodeBinding(bytes)
    if (binding === undefined || !this.crypto.verify(binding.signature, bindingMessage(connection.remotePeer), binding.ledgerPublicKey)) {
      this.outcomes?.inc({ outcome: 'forged' })
      log.warn({ peer: key }, 'peer sent an invalid ML-DSA peer-id binding; closing its connection')
      await connection.close().catch(() => {})
      return 'forged'
    }
    const peer = { peerId: connection.remotePeer, ledgerPublicKey: binding.ledgerPublicKey }
    this.remember(peer)
    this.outcomes?.inc({ outcome: 'verified' })
    this.safeDispatch('peer:bound', peer)
    return 'verified'
  }

  private remember (peer: VerifiedPeer): void {
    const key = peer.peerId.toString()
    this.verified.delete(key)
    this.verified.set(key, peer)
    while (this.verified.size > this.maxBindings) {
      const oldest = this.verified.entries().next().value
      if (oldest === undefined) break
      this.verified.delete(oldest[0])
      this.safeDispatch('peer:unbound', oldest[1].peerId)
    }
  }

  private safeDispatch<K extends keyof PeerBindingEvents>(type: K, ...args: PeerBindingEvents[K]): void {
    try {
      (this.emit as (event: K, ...a: PeerBindingEvents[K]) => boolean)(type, ...args)
    } catch (err) {
      this.components.logger.warn({ err, event: type }, 'peer binding listener failed')
    }
  }
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>(resolve => {
    const t = setTimeout(done, ms)
    function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done, { once: true })
  })
}
