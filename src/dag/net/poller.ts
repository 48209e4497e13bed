import type { Logger } from '../../core/logger.ts'
import type { Startable } from '../../core/lifecycle.ts'
import type { DagLedger } from '../ledger.ts'
import type { DagMetrics } from '../metrics.ts'
import type { AvalancheQuery } from './query.ts'
import { sleep, Wakeable } from './request.ts'
import type { ValidatorPeers } from './validator-peers.ts'

export interface PollerInit {
  /** Avalanche queries in flight at once (the same frontier vertex may be queried again while a query runs). @default 4 */
  concurrentPolls?: number
  /** Least time between the starts of two queries: bounds the CPU and bandwidth polling costs (β polls take at
   *  least β × this). @default 5 */
  pollSpacingMs?: number
}

export interface PollerComponents {
  ledger: Pick<DagLedger, 'genesis' | 'pollCandidates' | 'decide' | 'consensusGauges' | 'on' | 'off'>
  query: Pick<AvalancheQuery, 'query'>
  peers: Pick<ValidatorPeers, 'size' | 'soleValidator' | 'sample' | 'on' | 'off'>
  logger: Logger
  metrics?: DagMetrics
}

/**
 * The Avalanche poll loop. One round lives here whole: pick a processing vertex, sample k validators by stake,
 * query them, count each responder's vote for the processing ancestry of its preferred frontier, and hand the
 * counts to the consensus core (under the ledger's lock, decisions persisted in one batch).
 */
export class Poller implements Startable {
  private readonly c: PollerComponents
  private readonly log: Logger
  private readonly concurrentPolls: number
  private readonly pollSpacingMs: number
  private readonly wakeable = new Wakeable()
  private abort = new AbortController()
  private loop: Promise<void> | undefined
  private readonly onWork = (): void => { this.wakeable.wake() }

  constructor (components: PollerComponents, init: PollerInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'dag-poll' })
    this.concurrentPolls = init.concurrentPolls ?? 4
    this.pollSpacingMs = init.pollSpacingMs ?? 5
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    this.c.ledger.on('vertex:inserted', this.onWork)
    this.c.peers.on('validator:bound', this.onWork)
    this.loop = this.run(this.abort.signal)
  }

  async stop (): Promise<void> {
    this.abort.abort()
    this.wakeable.wake()
    this.c.ledger.off('vertex:inserted', this.onWork)
    this.c.peers.off('validator:bound', this.onWork)
    await this.loop
  }

  /** One consensus round about `vertexId`. */
  async poll (vertexId: string): Promise<void> {
    const { ledger, peers, metrics } = this.c
    const params = ledger.genesis.consensus
    if (peers.soleValidator) {
      // the only validator's own preference is the whole network's
      await ledger.decide(core => ({ decisions: core.recordPoll(vertexId, true), result: undefined }))
      metrics?.polls.inc({ result: 'success' })
      return
    }
    const k = Math.min(params.k, peers.size)
    if (k === 0) { await sleep(100, this.abort.signal); return }
    // α scaled with k, and always a strict majority of the sample.
    const alpha = Math.max(Math.floor(k / 2) + 1, Math.floor(params.alpha * k / params.k))
    const frontiers = await Promise.all(peers.sample(k).map(async p => await this.c.query.query(p.peerId, vertexId)))
    const success = await ledger.decide(core => {
      // each responder votes once for every processing vertex its frontier covers
      const votes = new Map<string, number>()
      for (const f of frontiers) for (const id of core.voteSet(f)) votes.set(id, (votes.get(id) ?? 0) + 1)
      return { decisions: core.recordVotes(vertexId, votes, alpha), result: (votes.get(vertexId) ?? 0) >= alpha }
    })
    metrics?.polls.inc({ result: success ? 'success' : 'fail' })
  }

  private async run (signal: AbortSignal): Promise<void> {
    const inflight = new Set<Promise<void>>()
    let cursor = 0
    while (!signal.aborted) {
      const candidates = this.c.ledger.pollCandidates()
      this.c.ledger.consensusGauges()
      if (candidates.length === 0 || inflight.size >= this.concurrentPolls) {
        if (inflight.size > 0) await Promise.race([...inflight, this.wakeable.sleep(50, signal)])
        else await this.wakeable.sleep(50, signal)
        continue
      }
      const id = candidates[cursor++ % candidates.length]
      const p = this.poll(id).catch(err => { this.log.warn({ err }, 'poll failed') }).finally(() => {
        inflight.delete(p)
      })
      inflight.add(p)
      await sleep(this.pollSpacingMs, signal)
    }
    await Promise.allSettled([...inflight])
  }
}
