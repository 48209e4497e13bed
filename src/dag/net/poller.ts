import type { PeerId } from '@libp2p/interface'
import type { Logger } from '../../core/logger.ts'
import type { Startable } from '../../core/lifecycle.ts'
import { quorumOf } from '../genesis.ts'
import type { DagLedger } from '../ledger.ts'
import type { DagMetrics } from '../metrics.ts'
import type { AvalancheQuery } from './query.ts'
import { sleep, Wakeable } from '../../core/wakeable.ts'
import type { ValidatorPeers } from './validator-peers.ts'

// A node without a quorum in reach keeps polling (a peer may come back) but backs off, from the first to the last
// delay, doubling: bounded work for a node that cannot decide anything, and a quick return once the quorum is back.
const NO_QUORUM_BACKOFF_FIRST_MS = 25
const NO_QUORUM_BACKOFF_MAX_MS = 250
// How often the poll loop refreshes the consensus and admission gauges (a scrape reads them every few seconds).
const GAUGES_MS = 250

export interface PollerInit {
  /** Avalanche queries in flight at once (the same frontier vertex may be queried again while a query runs). @default 4 */
  concurrentPolls?: number
  /** Least time between the starts of two queries: bounds the CPU and bandwidth polling costs (β polls take at
   *  least β × this). @default 5 */
  pollSpacingMs?: number
}

/** A validator's answer to a poll: its preferred frontier, undefined when it did not answer in time. */
interface Answer { weight: number, frontier: string[] | undefined }

export interface PollerComponents {
  ledger: Pick<DagLedger, 'genesis' | 'isStronglyPreferred' | 'pollCandidates' | 'decide' | 'consensusGauges' | 'on' | 'off'>
  query: Pick<AvalancheQuery, 'query'>
  peers: Pick<ValidatorPeers, 'soleValidator' | 'ownKey' | 'ownWeight' | 'totalWeight' | 'reachableWeight' | 'byKey' | 'sampleKeys' | 'on' | 'off'>
  logger: Logger
  metrics?: DagMetrics
}

/** Whether this node can finalize now: the stake it reaches (its own included) against the quorum. */
export interface ConsensusHealth {
  /** True when the validators this node reaches hold at least the quorum of the total stake. */
  live: boolean
  /** Stake of this node's own validator key plus every distinct validator key bound now. */
  reachableStake: number
  /** ⌈α/k × total stake⌉: what a poll needs (with ≤ k validators; see docs/protocol.md for sampling). */
  quorumStake: number
  totalStake: number
  /** Polls run since start, by outcome. */
  polls: { success: number, fail: number }
  /** Why the ledger stopped (a failed storage commit, STORAGE_FAILED): it decides nothing until restarted. */
  halted?: string
  /** Why this node cannot catch up: its peers pruned ancestors it lacks (HISTORY_PRUNED, DagSync.historyGap). */
  historyGap?: string
}


/**
 * The Avalanche poll loop. One round lives here whole: pick a processing vertex, ask the validators (one query per
 * validator KEY; all of them when there are at most k, else k keys sampled by stake), weight each answer by its
 * validator's stake, count this node's own preference as its own validator's vote, and hand the stake per vertex
 * to the consensus core with the quorum (under the ledger's lock, decisions persisted in one batch). The quorum is
 * a fraction of the TOTAL genesis stake, never of the stake this node happens to reach: a partitioned or eclipsed
 * node keeps polling and never finalizes (docs/protocol.md, "Finality needs a quorum of stake").
 */
export class Poller implements Startable {
  private readonly c: PollerComponents
  private readonly log: Logger
  private readonly concurrentPolls: number
  private readonly pollSpacingMs: number
  private readonly wakeable = new Wakeable()
  private readonly counts = { success: 0, fail: 0 }
  private backoffMs = 0
  private abort = new AbortController()
  private loop: Promise<void> | undefined
  private readonly onWork = (): void => { this.backoffMs = 0; this.wakeable.wake() }

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

  /** Live or not, and why (node_health's `consensus`). */
  health (): ConsensusHealth {
    const { peers } = this.c
    const totalStake = peers.totalWeight
    const quorumStake = quorumOf(totalStake, this.c.ledger.genesis.consensus)
    const reachableStake = peers.reachableWeight()
    return { live: peers.soleValidator || reachableStake >= quorumStake, reachableStake, quorumStake, totalStake, polls: { ...this.counts } }
  }

  /** One consensus round about `vertexId`. Resolves to whether `vertexId` itself had a successful poll. */
  async poll (vertexId: string): Promise<boolean> {
    const { ledger, peers } = this.c
    const params = ledger.genesis.consensus
    if (peers.soleValidator) {
      // the only validator holds all the stake: its own preference is the whole network's
      await ledger.decide(core => ({ decisions: core.recordPoll(vertexId, true), result: undefined }))
      this.count(true)
      return true
    }
    const { live, quorumStake } = this.health()
    const ownKey = peers.ownKey
    const allKeys = ledger.genesis.validators.length <= params.k
    const asked = allKeys ? undefined : peers.sampleKeys(params.k)
    // With sampling the poll needs α/k of the sampled stake, and never succeeds while this node reaches less than
    // the quorum of the total stake (a sample that happened to fall on the reachable side must not count).
    const quorum = allKeys ? quorumStake : (live ? quorumOf((asked ?? []).reduce((s, k) => s + k.weight, 0), params) : Number.POSITIVE_INFINITY)
    const bound = peers.byKey()
    const targets = asked === undefined
      ? [...bound.values()]
      : asked.flatMap(k => { const p = bound.get(k.keyHex); return p === undefined ? [] : [p] })
    const selfVotes = peers.ownWeight > 0 && (asked === undefined || asked.some(k => k.keyHex === ownKey))
    const metrics = this.c.metrics
    const started = performance.now()
    metrics?.pollsInFlight.inc()
    const ownStake = selfVotes && ledger.isStronglyPreferred(vertexId) ? peers.ownWeight : 0
    const answers = await this.answers(targets, vertexId, quorum - ownStake).finally(() => { metrics?.pollsInFlight.dec() })
    metrics?.pollSeconds.observe({ stage: 'answers' }, (performance.now() - started) / 1000)
    const success = await ledger.decide(core => {
      const votes = new Map<string, number>()
      const add = (ids: Set<string>, weight: number): void => { for (const id of ids) votes.set(id, (votes.get(id) ?? 0) + weight) }
      for (const a of answers) {
        const voted = a.frontier === undefined ? undefined : core.voteSet(a.frontier)
        if (voted !== undefined) add(voted, a.weight)
        metrics?.pollAnswers.inc({ answer: voted === undefined ? 'none' : voted.has(vertexId) ? 'vote' : 'no_vote' })
      }
      if (selfVotes) {
        // This node's own preference is its validator's vote: its preferred frontier's processing ancestry is
        // exactly the set of vertices it strongly prefers, so only the vertices this poll is about need checking.
        const memo = new Map<string, boolean>()
        const mine = new Set<string>()
        for (const id of [...votes.keys(), ...core.voteSet([vertexId])]) if (core.isStronglyPreferred(id, memo)) mine.add(id)
        add(mine, peers.ownWeight)
      }
      return { decisions: core.recordVotes(vertexId, votes, quorum), result: (votes.get(vertexId) ?? 0) >= quorum }
    })
    metrics?.pollSeconds.observe({ stage: 'total' }, (performance.now() - started) / 1000)
    this.count(success)
    return success
  }

  /**
   * Asks every target about `vertexId` and resolves with the answers in once the stake of the answers that prefer
   * `vertexId` (it comes first in their frontier) reaches `needStake`, or once every target answered or timed out.
   * Early termination as avalanchego's polls do: the outcome for the queried vertex is known, and waiting for the
   * slowest validator (still validating a vertex just published) would hold a poll slot for nothing. A chit still
   * needs the quorum of stake from the answers counted; answers after the end are not counted.
   */
  private async answers (targets: Array<{ peerId: PeerId, weight: number }>, vertexId: string, needStake: number): Promise<Answer[]> {
    const answers: Answer[] = []
    if (targets.length === 0) return answers
    await new Promise<void>(resolve => {
      let pending = targets.length
      let preferring = 0
      let ended = false
      for (const p of targets) {
        void this.c.query.query(p.peerId, vertexId).then(frontier => {
          if (ended) { this.c.metrics?.pollAnswers.inc({ answer: 'late' }); return }
          answers.push({ weight: p.weight, frontier })
          if (frontier?.[0] === vertexId) preferring += p.weight
          if (--pending === 0 || preferring >= needStake) { ended = true; resolve() }
        })
      }
    })
    return answers
  }

  private count (success: boolean): void {
    if (success) this.counts.success++
    else this.counts.fail++
    this.c.metrics?.polls.inc({ result: success ? 'success' : 'fail' })
  }

  private async run (signal: AbortSignal): Promise<void> {
    const inflight = new Set<Promise<void>>()
    let cursor = 0
    let gaugesAt = Number.NEGATIVE_INFINITY
    while (!signal.aborted) {
      const candidates = this.c.ledger.pollCandidates()
      // the gauges (and admission control's figures behind them) at most every GAUGES_MS, not at every poll started
      if (performance.now() - gaugesAt >= GAUGES_MS) { gaugesAt = performance.now(); this.c.ledger.consensusGauges() }
      const live = this.health().live
      if (candidates.length === 0 || inflight.size >= this.concurrentPolls) {
        if (inflight.size > 0) await Promise.race([...inflight, this.wakeable.sleep(50, signal)])
        else await this.wakeable.sleep(50, signal)
        continue
      }
      const id = candidates[cursor++ % candidates.length]
      const p = this.poll(id).then(() => undefined, err => { this.log.warn({ err }, 'poll failed') }).finally(() => {
        inflight.delete(p)
      })
      inflight.add(p)
      if (live) {
        this.backoffMs = 0
        await sleep(this.pollSpacingMs, signal)
      } else {
        // no quorum in reach: keep polling (the liveness rule still moves preferences; a peer may come back)
        this.backoffMs = Math.min(NO_QUORUM_BACKOFF_MAX_MS, this.backoffMs === 0 ? NO_QUORUM_BACKOFF_FIRST_MS : this.backoffMs * 2)
        await this.wakeable.sleep(this.backoffMs, signal)
      }
    }
    await Promise.allSettled([...inflight])
  }
}
