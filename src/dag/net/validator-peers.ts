import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { PeerId } from '@libp2p/interface'
import type { Startable } from '../../core/lifecycle.ts'
import type { BoundPeers, VerifiedPeer } from '../../network/peer-binding.ts'
import { toHex } from '../../core/codec.ts'
import type { Genesis } from '../genesis.ts'

export interface ValidatorPeer {
  peerId: PeerId
  validatorKeyHex: string
  weight: number
}

export interface ValidatorPeersComponents {
  /** The node's one peer binding (src/network/peer-binding.ts). */
  binding: BoundPeers
  genesis: Genesis
  /** This node's ledger public key: a peer bound to it is not another validator. */
  publicKey: Uint8Array
}

export interface ValidatorPeersEvents {
  'validator:bound': [ValidatorPeer]
  'validator:unbound': [PeerId]
}

/**
 * Which connected peers are which genesis validators, from the peer binding's events: the sample the poller
 * queries, the peers sync and forwarding talk to.
 */
export class ValidatorPeers extends EventEmitter<ValidatorPeersEvents> implements Startable {
  private readonly c: ValidatorPeersComponents
  private readonly weights = new Map<string, number>()
  private readonly ownKeyHex: string
  private readonly peers = new Map<string, ValidatorPeer>()
  private readonly onBound = (p: VerifiedPeer): void => { this.bind(p) }
  private readonly onUnbound = (peer: PeerId): void => {
    if (this.peers.delete(peer.toString())) this.emit('validator:unbound', peer)
  }

  constructor (components: ValidatorPeersComponents) {
    super()
    this.c = components
    for (const v of components.genesis.validators) this.weights.set(toHex(v.publicKey), v.weight)
    this.ownKeyHex = toHex(components.publicKey)
  }

  async start (): Promise<void> {
    this.c.binding.on('peer:bound', this.onBound)
    this.c.binding.on('peer:unbound', this.onUnbound)
    for (const p of this.c.binding.verifiedPeers()) this.bind(p)
  }

  async stop (): Promise<void> {
    this.c.binding.off('peer:bound', this.onBound)
    this.c.binding.off('peer:unbound', this.onUnbound)
    this.peers.clear()
  }

  private bind (p: VerifiedPeer): void {
    const keyHex = toHex(p.ledgerPublicKey)
    const weight = this.weights.get(keyHex)
    if (weight === undefined || keyHex === this.ownKeyHex) return
    const peer = { peerId: p.peerId, validatorKeyHex: keyHex, weight }
    this.peers.set(p.peerId.toString(), peer)
    this.emit('validator:bound', peer)
  }

  /** Peer ids of the bound validator peers. */
  ids (): string[] { return [...this.peers.keys()] }
  list (): ValidatorPeer[] { return [...this.peers.values()] }
  get size (): number { return this.peers.size }

  /** True when this node is the network's only validator (it decides alone). */
  get soleValidator (): boolean { return this.weights.size === 1 && this.weights.has(this.ownKeyHex) }

  /**
   * `k` bound validators, weighted by stake, without replacement (Efraimidis–Spirakis keys), from a CSPRNG so a
   * peer cannot predict which validators a node will query.
   */
  sample (k: number): ValidatorPeer[] {
    return [...this.peers.values()]
      .map(p => ({ p, key: unitRandom() ** (1 / p.weight) }))
      .sort((a, b) => b.key - a.key)
      .slice(0, k)
      .map(x => x.p)
  }
}

/** A uniform double in (0, 1) from the OS CSPRNG (53 random bits). */
function unitRandom (): number {
  const b = randomBytes(8)
  const hi = b.readUInt32BE(0) >>> 5
  const lo = b.readUInt32BE(4) >>> 6
  return (hi * 67108864 + lo + 1) / (9007199254740992 + 2)
}
