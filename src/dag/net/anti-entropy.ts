import { randomInt } from 'node:crypto'
import type { Logger } from '../../core/logger.ts'
import type { Startable } from '../../core/lifecycle.ts'
import { sleep } from '../../core/wakeable.ts'
import type { DagSync } from './sync.ts'
import type { ValidatorPeer, ValidatorPeers } from './validator-peers.ts'

export interface AntiEntropyInit {
  /** Ask a random validator peer for its tips this often. @default 2000 */
  syncIntervalMs?: number
}

export interface AntiEntropyComponents {
  sync: Pick<DagSync, 'syncWith'>
  peers: Pick<ValidatorPeers, 'list' | 'on' | 'off' | 'ownWeight' | 'soleValidator'>
  /** The stake a quorum needs (genesis quorumOf the total): what `caughtUp` counts to. */
  quorumStake: number
  logger: Logger
}

/**
 * Anti-entropy: a vertex missed on gossip (a partition, a restart) is found by comparing tips with a random
 * validator peer now and then, and with every validator peer as soon as it is bound. It also tells when this node
 * first held everything that validators holding the quorum (its own stake included) held (`caughtUp`).
 */
export class AntiEntropy implements Startable {
  private readonly c: AntiEntropyComponents
  private readonly log: Logger
  private readonly syncIntervalMs: number
  private abort = new AbortController()
  private loop: Promise<void> | undefined
  /** validator keys whose tips this node held whole after a sync since start, and their stake (until caught up) */
  private readonly synced = new Map<string, number>()
  private caughtUpValue = false
  private readonly onBound = (p: ValidatorPeer): void => {
    void this.syncWith(p).catch(err => { this.log.debug({ err }, 'initial sync failed') })
  }

  constructor (components: AntiEntropyComponents, init: AntiEntropyInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'dag-sync' })
    this.syncIntervalMs = init.syncIntervalMs ?? 2000
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    this.c.peers.on('validator:bound', this.onBound)
    for (const p of this.c.peers.list()) this.onBound(p)
    this.loop = this.run(this.abort.signal)
  }

  async stop (): Promise<void> {
    this.abort.abort()
    this.c.peers.off('validator:bound', this.onBound)
    await this.loop
  }

  private async run (signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const peers = this.c.peers.list()
      if (peers.length > 0) {
        const p = peers[randomInt(peers.length)]
        try { await this.syncWith(p) } catch (err) { this.log.debug({ err }, 'anti-entropy sync failed') }
      }
      await sleep(this.syncIntervalMs, signal)
    }
  }

  /**
   * Whether, since start, this node has held every vertex that bound validators holding the quorum with it had
   * named as their tips (true at once for a sole validator, or one holding the quorum alone). A validator whose
   * datadir has no record of its rounds waits for it before it builds (round-proposer.ts `ready`): what it built
   * before its datadir was lost is then in its graph wherever those validators held it.
   */
  get caughtUp (): boolean {
    if (this.caughtUpValue) return true
    const { peers, quorumStake } = this.c
    let stake = peers.ownWeight
    for (const w of this.synced.values()) stake += w
    if (peers.soleValidator || stake >= quorumStake) {
      this.caughtUpValue = true
      this.synced.clear()
    }
    return this.caughtUpValue
  }

  private async syncWith (p: ValidatorPeer): Promise<void> {
    const { complete } = await this.c.sync.syncWith(p.peerId)
    if (complete && !this.caughtUpValue) this.synced.set(p.validatorKeyHex, p.weight)
  }
}
