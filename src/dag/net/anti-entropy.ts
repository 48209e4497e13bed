import { randomInt } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from '../../core/logger.ts'
import type { Startable } from '../../core/lifecycle.ts'
import { sleep } from '../../core/wakeable.ts'
import type { DagSync } from './sync.ts'
import type { ValidatorPeers } from './validator-peers.ts'

export interface AntiEntropyInit {
  /** Ask a random validator peer for its tips this often. @default 2000 */
  syncIntervalMs?: number
}

export interface AntiEntropyComponents {
  sync: Pick<DagSync, 'syncWith'>
  peers: Pick<ValidatorPeers, 'list' | 'on' | 'off'>
  logger: Logger
}

/**
 * Anti-entropy: a vertex missed on gossip (a partition, a restart) is found by comparing tips with a random
 * validator peer now and then, and with every validator peer as soon as it is bound.
 */
export class AntiEntropy implements Startable {
  private readonly c: AntiEntropyComponents
  private readonly log: Logger
  private readonly syncIntervalMs: number
  private abort = new AbortController()
  private loop: Promise<void> | undefined
  private readonly onBound = ({ peerId }: { peerId: PeerId }): void => {
    void this.c.sync.syncWith(peerId).catch(err => { this.log.debug({ err }, 'initial sync failed') })
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
        try { await this.c.sync.syncWith(p.peerId) } catch (err) { this.log.debug({ err }, 'anti-entropy sync failed') }
      }
      await sleep(this.syncIntervalMs, signal)
    }
  }
}
