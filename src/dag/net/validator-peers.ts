import { randomBytes, randomInt } from 'node:crypto'
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

  /** The genesis validator keys (hex) other than this node's own. */
  otherKeys (): string[] { return [...this.weights.keys()].filter(k => k !== this.ownKeyHex) }

  /** This node's own genesis stake (0 when it is not a validator). */
  get ownWeight (): number { return this.weights.get(this.ownKeyHex) ?? 0 }

  /** The genesis validators' total stake: quorums are fractions of this, never of the reachable stake. */
  get totalWeight (): number {
    let total = 0
    for (const w of this.weights.values()) total += w
    return total
  }

  /**
   * One bound peer per validator KEY (several peers proving one key — two processes run with one ledger key, or
   * one validator reached twice — are one validator with one vote). Which of them is asked is chosen at random.
   */
  byKey (): Map<string, ValidatorPeer> {
    const groups = new Map<string, ValidatorPeer[]>()
    for (const p of this.peers.values()) {
      const g = groups.get(p.validatorKeyHex)
      if (g === undefined) groups.set(p.validatorKeyHex, [p])
      else g.push(p)
    }
    const out = new Map<string, ValidatorPeer>()
    for (const [key, g] of groups) out.set(key, g.length === 1 ? g[0] : g[randomInt(g.length)])
    return out
  }

  /** Stake of the distinct validator keys bound now, this node's own included. */
  reachableWeight (): number {
    let total = this.ownWeight
    for (const key of new Set([...this.peers.values()].map(p => p.validatorKeyHex))) total += this.weights.get(key) ?? 0
    return total
  }

  /**
   * `k` genesis validator keys (this node's own among them), weighted by stake, without replacement
   * (Efraimidis–Spirakis keys), from a CSPRNG so a peer cannot predict which validators a node will query.
   * Keys are drawn from the whole genesis set, reachable or not: an unreachable key drawn is a missing vote, so a
   * node that reaches little stake cannot make its polls look like the network's.
   */
  sampleKeys (k: number): Array<{ keyHex: string, weight: number }> {
    return [...this.weights.entries()]
      .map(([keyHex, weight]) => ({ keyHex, weight, r: unitRandom() ** (1 / weight) }))
      .sort((a, b) => b.r - a.r)
      .slice(0, k)
      .map(({ keyHex, weight }) => ({ keyHex, weight }))
  }

  /** This node's own validator key (hex). */
  get ownKey (): string { return this.ownKeyHex }
}

/** A uniform double in (0, 1) from the OS CSPRNG (53 random bits). */
function unitRandom (): number {
  const b = randomBytes(8)
  const hi = b.readUInt32BE(0) >>> 5
  const lo = b.readUInt32BE(4) >>> 6
  return (hi * 67108864 + lo + 1) / (9007199254740992 + 2)
}
