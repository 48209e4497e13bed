import type { Logger } from '../../core/logger.ts'
import type { Startable } from '../../core/lifecycle.ts'
import { MachineIdle } from '../../core/machine-idle.ts'
import type { DagLedger } from '../ledger.ts'
import type { DagMetrics } from '../metrics.ts'
import { Wakeable } from '../../core/wakeable.ts'
import type { VertexGossip } from './vertex-gossip.ts'

/** How often the consensus gauges are refreshed (the poller's rate). */
const GAUGES_MS = 250
/** How often a validator that is not `ready` looks again (it waits for a sync, which wakes nothing here). */
const NOT_READY_CHECK_MS = 100

/** The two knobs of the pacing. */
export interface RoundPace { minRoundMs: number, leaderWaitMs: number }

/** The machine's idle share at or above which rounds run at the idle pace. */
export const IDLE_PACE_FROM = 0.3
/** The idle share at or below which rounds run at the busy pace (linear between the two). */
export const BUSY_PACE_FROM = 0.1

/**
 * The pacing for the machine's idle share: the idle pace while at least IDLE_PACE_FROM of the CPU idles, the busy
 * pace at BUSY_PACE_FROM or less, in between in proportion. Short rounds cut the time to commit (three rounds) and
 * cost a vertex per round on every node whatever the load (docs/consensus-next.md step 6: at 50 tx/s 25 / 40 ms
 * took the p50 from ~220 to ~120 ms for ~30% more CPU; on a market devnet whose cores were full it cost 6% of the
 * tasks/s), so they are spent only on cores that would idle.
 */
export function roundPace (idleShare: number, idle: RoundPace, busy: RoundPace): RoundPace {
  const t = Number.isFinite(idleShare) ? Math.min(1, Math.max(0, (idleShare - BUSY_PACE_FROM) / (IDLE_PACE_FROM - BUSY_PACE_FROM))) : 0
  const mix = (a: number, b: number): number => Math.round(b + (a - b) * t)
  return { minRoundMs: mix(idle.minRoundMs, busy.minRoundMs), leaderWaitMs: mix(idle.leaderWaitMs, busy.leaderWaitMs) }
}

export interface RoundProposerInit {
  /**
   * How long a validator that holds the quorum of a round waits for that round's leader vertices before it builds
   * the next round without them (a leader named by the next round's vertices is what commits it; one that made no
   * vertex in the round before is not waited for: CommitCore.view), while the machine is busy (roundPace). @default 100
   */
  leaderWaitMs?: number
  /** The leader wait while the machine idles (roundPace; never above `leaderWaitMs`). @default 40 */
  idleLeaderWaitMs?: number
  /** A safety net: the loop looks again this often even if nothing woke it (a missed event). @default 1000 */
  idleCheckMs?: number
  /**
   * The least time between two of this node's vertices unless a full batch waits. Without it rounds run as fast as
   * vertices cross the network, each costing every node a signature or a verification and a decision batch:
   * measured on a 4-process devnet on 2 cores, unpaced rounds kept both cores busy at 50 tx/s (37.9 ms of CPU per
   * final transaction, the same as Avalanche's polls); see docs/consensus-next.md. This is the pace while the
   * machine is busy (roundPace). @default 50
   */
  minRoundMs?: number
  /** The least time between two vertices while the machine idles (roundPace; never above `minRoundMs`). @default 25 */
  idleMinRoundMs?: number
  /** The machine's idle CPU share 0..1 lately (tests pass their own). @default a MachineIdle over 1 s windows */
  machineIdle?: () => number
}

export interface RoundProposerComponents {
  ledger: Pick<DagLedger, 'buildVertex' | 'roundView' | 'consensusGauges' | 'on' | 'off'>
  gossip: Pick<VertexGossip, 'publish'>
  logger: Logger
  metrics?: Pick<DagMetrics, 'roundIntervalSeconds' | 'roundMinMs'>
  /**
   * False while this validator must not build yet: one whose datadir has no record of its rounds (new, or lost with
   * its key kept) waits until it has held all a validator peer held (service.ts), or it would build again, while
   * catching up, in rounds its lost vertices hold at its peers: equivocations. @default always ready
   */
  ready?: () => boolean
}

/**
 * The commit rule's pacing (docs/consensus-next.md): a validator builds its round-(r + 1) vertex once it holds
 * vertices of round r with the quorum of stake (and round r's live leaders' vertices, or after `leaderWaitMs` without them),
 * and `minRoundMs` after its last one unless a full batch waits, carrying what its mempool holds. It goes on, with empty vertices if it must, while anything waits: queued
 * transactions or undecided vertices that carry some (their leaders need two more rounds to commit them). With
 * nothing waiting it stops: an idle network sends nothing.
 */
export class RoundProposer implements Startable {
  private readonly c: RoundProposerComponents
  private readonly log: Logger
  private readonly busyPace: RoundPace
  private readonly idlePace: RoundPace
  private readonly machineIdle: () => number
  private readonly idleCheckMs: number
  private lastBuiltMs = 0
  /** the round of this node's last vertex (0: none yet), for the round interval metric */
  private lastRound = 0
  private gaugesAt = 0
  private readonly wakeable = new Wakeable()
  private readonly onWork = (): void => { this.wakeable.wake() }
  private abort = new AbortController()
  private loop: Promise<void> | undefined
  /** the round the leader wait runs for, and since when */
  private waiting: { round: number, sinceMs: number } | undefined

  constructor (components: RoundProposerComponents, init: RoundProposerInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'dag-rounds' })
    this.busyPace = { minRoundMs: init.minRoundMs ?? 50, leaderWaitMs: init.leaderWaitMs ?? 100 }
    this.idlePace = {
      minRoundMs: Math.min(init.idleMinRoundMs ?? 25, this.busyPace.minRoundMs),
      leaderWaitMs: Math.min(init.idleLeaderWaitMs ?? 40, this.busyPace.leaderWaitMs)
    }
    if (init.machineIdle !== undefined) this.machineIdle = init.machineIdle
    else {
      const sampler = new MachineIdle()
      this.machineIdle = () => sampler.idleShare()
    }
    this.idleCheckMs = init.idleCheckMs ?? 1000
  }

  /** The pacing in force: from the machine's idle share, read at most once a loop turn. */
  private pace (): RoundPace {
    const pace = roundPace(this.machineIdle(), this.idlePace, this.busyPace)
    this.c.metrics?.roundMinMs.set(pace.minRoundMs)
    return pace
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    this.c.ledger.on('tx:queued', this.onWork)
    this.c.ledger.on('vertex:inserted', this.onWork)
    this.loop = this.run(this.abort.signal)
  }

  async stop (): Promise<void> {
    this.abort.abort()
    this.wakeable.wake()
    this.c.ledger.off('tx:queued', this.onWork)
    this.c.ledger.off('vertex:inserted', this.onWork)
    await this.loop
  }

  private async run (signal: AbortSignal): Promise<void> {
    const { ledger } = this.c
    while (!signal.aborted) {
      let waitMs = this.idleCheckMs
      try {
        const view = ledger.roundView()
        if (view !== undefined && !view.built && view.work && !this.ready()) waitMs = NOT_READY_CHECK_MS
        else if (view !== undefined && !view.built && view.work) {
          const pace = this.pace()
          const paced = view.full ? 0 : pace.minRoundMs - (Date.now() - this.lastBuiltMs)
          const wait = Math.max(paced, this.leaderWait(view.round, view.leaderSeen, pace.leaderWaitMs))
          if (wait > 0) waitMs = wait
          else {
            const info = await ledger.buildVertex({ empty: true })
            if (info !== undefined) {
              if (this.lastRound > 0 && this.lastRound === view.round - 1) this.c.metrics?.roundIntervalSeconds.observe((Date.now() - this.lastBuiltMs) / 1000)
              this.lastRound = view.round
              this.lastBuiltMs = Date.now()
              await this.c.gossip.publish(info)
              continue
            }
            // nothing built (the ledger holds its most undecided vertices, or the round moved meanwhile): the next
            // insert or queued transaction wakes the loop; asking again at once spun it on the ledger's lock
          }
        }
      } catch (err) {
        this.log.warn({ err }, 'building a round vertex failed')
      }
      // the gauges the poller refreshes under Avalanche (processing vertices, pending transactions, memory)
      if (Date.now() - this.gaugesAt >= GAUGES_MS) { this.gaugesAt = Date.now(); ledger.consensusGauges() }
      await this.wakeable.sleep(waitMs, signal)
    }
  }

  /** Whether this validator may build (RoundProposerComponents.ready); says so once when it may not. */
  private ready (): boolean {
    if (this.c.ready === undefined || this.c.ready()) return true
    if (!this.saidNotReady) {
      this.saidNotReady = true
      this.log.info('not building yet: this datadir has no record of this validator\'s rounds, so it first catches up with the validators it reaches')
    }
    return false
  }

  private saidNotReady = false

  /** Ms left to wait for the leader of the round below `round` (0: build now). */
  private leaderWait (round: number, leaderSeen: boolean, leaderWaitMs: number): number {
    if (leaderSeen) return 0
    const now = Date.now()
    if (this.waiting?.round !== round) this.waiting = { round, sinceMs: now }
    return Math.max(0, leaderWaitMs - (now - this.waiting.sinceMs))
  }
}
