import { randomInt } from 'node:crypto'
import type { Logger } from '../../core/logger.ts'
import type { Startable } from '../../core/lifecycle.ts'
import { sleep } from '../../core/wakeable.ts'
import type { DagSync } from './sync.ts'
import type { ValidatorPeer, ValidatorPeers } from './validator-peers.ts'

export interface AntiEntropyInit {
  /** Ask a random validator peer for its tips this often. @default 2000 */
  syncIntervalMs?: number
  /**
   * How long, from start, a validator with no record of its rounds waits for a complete sync with every other
   * genesis validator before one complete sync is enough (`caughtUp`). @default 5000
   */
  catchUpGraceMs?: number
}

export interface AntiEntropyComponents {
  sync: Pick<DagSync, 'syncWith'>
  peers: Pick<ValidatorPeers, 'list' | 'on' | 'off' | 'ownWeight' | 'soleValidator' | 'otherKeys'>
  /** The stake a quorum needs (genesis quorumOf the total): a validator holding it alone catches up with no one. */
  quorumStake: number
  logger: Logger
}

/**
 * Anti-entropy: a vertex missed on gossip (a partition, a restart) is found by comparing tips with a random
 * validator peer now and then, and with every validator peer as soon as it is bound. It also tells when this node
 * first held everything the validators it reaches held (`caughtUp`).
 */
export class AntiEntropy implements Startable {
  private readonly c: AntiEntropyComponents
  private readonly log: Logger
  private readonly syncIntervalMs: number
  private abort = new AbortController()
  private loop: Promise<void> | undefined
  private readonly catchUpGraceMs: number
  private caughtUpValue = false
  private startedAtMs = 0
  /** validator keys this node has had a complete sync with since start */
  private readonly completeKeys = new Set<string>()
  private readonly onBound = (p: ValidatorPeer): void => {
    void this.syncWith(p).catch(err => { this.log.debug({ err }, 'initial sync failed') })
  }

  constructor (components: AntiEntropyComponents, init: AntiEntropyInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'dag-sync' })
    this.syncIntervalMs = init.syncIntervalMs ?? 2000
    this.catchUpGraceMs = init.catchUpGraceMs ?? 5000
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    this.startedAtMs = Date.now()
    this.completeKeys.clear()
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
      const bound = this.c.peers.list()
      // while catching up, the peers not yet synced with completely come first
      const behind = this.caughtUpValue ? [] : bound.filter(p => !this.completeKeys.has(p.validatorKeyHex))
      const peers = behind.length > 0 ? behind : bound
      if (peers.length > 0) {
        const p = peers[randomInt(peers.length)]
        try { await this.syncWith(p) } catch (err) { this.log.debug({ err }, 'anti-entropy sync failed') }
      }
      await sleep(this.syncIntervalMs, signal)
    }
  }

  /**
   * Whether this node has caught up since start: it needs no one (a sole validator, or one holding the quorum alone),
   * or it has had a complete sync (it held every vertex the peer named as its tips) with every other genesis
   * validator, or with at least one once `catchUpGraceMs` has passed since start. A validator whose datadir has no
   * record of its rounds waits for it before it builds (round-proposer.ts `ready`): what it built before its datadir
   * was lost is then in its graph, wherever a validator it reached held it. Every validator, not one: a vertex sent
   * just before the loss may have reached one peer only. At least one after the grace, not a quorum: a validator
   * that is down, or one reached only by gossip through another (a validator joining through one peer), must not
   * stall the rounds that need this node's stake. A vertex held only by validators unreachable for the grace is the
   * case left open (docs/consensus-next.md).
   */
  get caughtUp (): boolean {
    if (this.caughtUpValue) return true
    const { peers, quorumStake } = this.c
    if (peers.soleValidator || peers.ownWeight >= quorumStake) return this.latch('needs no peer')
    if (this.completeKeys.size === 0) return false
    const missing = peers.otherKeys().filter(k => !this.completeKeys.has(k))
    if (missing.length === 0) return this.latch('synced with every validator')
    if (Date.now() - this.startedAtMs >= this.catchUpGraceMs) return this.latch('grace over', missing)
    return false
  }

  private latch (why: string, missing: string[] = []): true {
    this.caughtUpValue = true
    this.log.info({ why, synced: this.completeKeys.size, missing: missing.map(k => k.slice(0, 16)) }, 'caught up')
    return true
  }

  private async syncWith (p: ValidatorPeer): Promise<void> {
    const { complete } = await this.c.sync.syncWith(p.peerId)
    if (complete) this.completeKeys.add(p.validatorKeyHex)
  }
}
