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
  /** The stake a quorum needs (genesis quorumOf the total): a validator holding it alone catches up with no one. */
  quorumStake: number
  logger: Logger
}

/**
 * Anti-entropy: a vertex missed on gossip (a partition, a restart) is found by comparing tips with a random
 * validator peer now and then, and with every validator peer as soon as it is bound. It also tells when this node
 * first held everything a validator peer held (`caughtUp`).
 */
export class AntiEntropy implements Startable {
  private readonly c: AntiEntropyComponents
  private readonly log: Logger
  private readonly syncIntervalMs: number
  private abort = new AbortController()
  private loop: Promise<void> | undefined
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
   * Whether, since start, this node has held every vertex a validator peer named as its tips (a complete sync), or
   * needs no one (a sole validator, or one holding the quorum alone). A validator whose datadir has no record of its
   * rounds waits for it before it builds (round-proposer.ts `ready`): what it built before its datadir was lost is
   * then in its graph, as far as that peer held it. One peer, not a quorum of them: a validator joining through one
   * peer (its others reached by gossip through it) must still build, or the rounds that need its stake stall.
   */
  get caughtUp (): boolean {
    const { peers, quorumStake } = this.c
    if (!this.caughtUpValue && (peers.soleValidator || peers.ownWeight >= quorumStake)) this.caughtUpValue = true
    return this.caughtUpValue
  }

  private async syncWith (p: ValidatorPeer): Promise<void> {
    const { complete } = await this.c.sync.syncWith(p.peerId)
    if (complete) this.caughtUpValue = true
  }
}
