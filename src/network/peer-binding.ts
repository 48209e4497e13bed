import { lpStream } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { Counter, type Registry } from 'prom-client'
import type { HarmonyLibp2p } from './host.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import {
  MLDSA65_PUBLIC_KEY_BYTES,
  MLDSA65_SIGNATURE_BYTES,
  signBinding,
  verifyBinding,
  type NodeIdentity,
  type PeerBinding
} from '../core/keys/identity.ts'

/** Peers exchange the ML-DSA signature that binds their ledger key to their libp2p peer id. */
export const PEER_BINDING_PROTOCOL = '/harmony/id/1.0.0'

const BINDING_BYTES = MLDSA65_PUBLIC_KEY_BYTES + MLDSA65_SIGNATURE_BYTES
const BINDING_TIMEOUT_MS = 10_000

export interface PeerBindingInit {
  /** Verified bindings kept; the oldest is dropped past this. @default 1024 */
  maxBindings?: number
}

export interface PeerBindingComponents {
  libp2p: HarmonyLibp2p
  identity: NodeIdentity
  logger: Logger
  registry?: Registry
}

export interface VerifiedPeer {
  peerId: PeerId
  ledgerPublicKey: Uint8Array
}

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
 * On every new connection, asks the remote for its binding and checks the ML-DSA-65 signature over the remote's
 * peer id (which noise has already authenticated). A forged binding closes the connection. Other services
 * (consensus sampling) ask `ledgerKeyOf(peer)` and only count peers whose binding was verified.
 */
export class PeerBindingService implements Startable {
  private readonly components: PeerBindingComponents
  private readonly maxBindings: number
  private readonly verified = new Map<string, VerifiedPeer>()
  private readonly pending = new Set<string>()
  private readonly ownBinding: Uint8Array
  private readonly outcomes?: Counter<'outcome'>
  private readonly onConnection = (evt: CustomEvent<Connection>): void => { void this.check(evt.detail) }
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => { this.verified.delete(evt.detail.toString()) }

  constructor (components: PeerBindingComponents, init: PeerBindingInit = {}) {
    this.components = components
    this.maxBindings = init.maxBindings ?? 1024
    this.ownBinding = encodeBinding(signBinding(components.identity))
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
    const { libp2p } = this.components
    await libp2p.handle(PEER_BINDING_PROTOCOL, (stream) => this.serve(stream), { maxInboundStreams: 4, maxOutboundStreams: 4 })
    libp2p.addEventListener('connection:open', this.onConnection)
    libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    for (const connection of libp2p.getConnections()) void this.check(connection)
  }

  async stop (): Promise<void> {
    const { libp2p } = this.components
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
      const lp = lpStream(stream, { maxDataLength: 16 })
      await lp.write(this.ownBinding, { signal: AbortSignal.timeout(BINDING_TIMEOUT_MS) })
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  /** Asks one connection's peer for its binding and verifies it. */
  async check (connection: Connection): Promise<boolean> {
    const key = connection.remotePeer.toString()
    if (this.verified.has(key)) return true
    if (this.pending.has(key) || this.pending.size >= this.maxBindings) return false
    this.pending.add(key)
    const log = this.components.logger
    try {
      const signal = AbortSignal.timeout(BINDING_TIMEOUT_MS)
      const stream = await connection.newStream(PEER_BINDING_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: BINDING_BYTES })
      const bytes = (await lp.read({ signal })).subarray()
      await stream.close().catch(() => {})
      const binding = decodeBinding(bytes)
      if (binding === undefined || !verifyBinding(connection.remotePeer, binding)) {
        this.outcomes?.inc({ outcome: 'forged' })
        log.warn({ peer: key }, 'peer sent an invalid ML-DSA peer-id binding; closing its connection')
        await connection.close().catch(() => {})
        return false
      }
      this.remember({ peerId: connection.remotePeer, ledgerPublicKey: binding.ledgerPublicKey })
      this.outcomes?.inc({ outcome: 'verified' })
      return true
    } catch (err) {
      // a peer that does not speak the protocol (or went away) is not verified, but also not punished
      this.outcomes?.inc({ outcome: 'unavailable' })
      log.debug({ peer: key, err: (err as Error).message }, 'peer binding not available')
      return false
    } finally {
      this.pending.delete(key)
    }
  }

  private remember (peer: VerifiedPeer): void {
    const key = peer.peerId.toString()
    this.verified.delete(key)
    this.verified.set(key, peer)
    while (this.verified.size > this.maxBindings) {
      const oldest = this.verified.keys().next().value
      if (oldest === undefined) break
      this.verified.delete(oldest)
    }
  }
}
