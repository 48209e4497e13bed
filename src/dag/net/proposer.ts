import type { Logger } from '../../core/logger.ts'
import type { Startable } from '../../core/lifecycle.ts'
import type { DagLedger } from '../ledger.ts'
import { Wakeable } from '../../core/wakeable.ts'
import type { VertexGossip } from './vertex-gossip.ts'

export interface ProposerInit {
  /** The longest a queued transaction waits for a vertex while this node's own vertices are undecided (see
   *  maxOwnUndecided). Each vertex costs a signature, a verification per node, a batch per node and about β polls:
   *  measured, a fixed 50 ms timer made 1–3-transaction vertices that kept 4 nodes on 2 cores saturated at 50 tx/s
   *  (finality p50 3–5 s); 200 ms gave p50 268 ms. @default 200 */
  batchIntervalMs?: number
  /**
   * A vertex with fewer than maxBatch transactions is built as soon as a transaction is queued while none of this
   * node's own vertices is undecided, or fewer than this many are and the oldest of them is younger than
   * batchIntervalMs; otherwise transactions gather into a fuller vertex until one of them is decided or the oldest
   * has waited batchIntervalMs (Nagle's rule: the batch grows with the finality latency, so vertex count stays
   * bounded under load, and at low load a transaction does not wait for a timer; the fixed timer was the largest
   * part of low-load finality, a mean 133 ms of 387 ms p50 at 50 tx/s). An own vertex undecided for longer than the
   * interval says the ledger is slow now, busy or loaded, where one more small vertex only adds to its work (each
   * costs every node a verification, a batch and its share of the polls): measured on the market's devnet at
   * saturation, letting a second one out at once cost ~15% more CPU per task. @default 2
   */
  maxOwnUndecided?: number
}

export interface ProposerComponents {
  ledger: Pick<DagLedger, 'buildVertex' | 'isValidator' | 'maxBatch' | 'mempool' | 'ownUndecided' | 'on' | 'off'>
  gossip: Pick<VertexGossip, 'publish'>
  logger: Logger
}

/**
 * Whether a vertex short of a full batch may go out now, given this node's undecided vertices (ProposerInit's
 * maxOwnUndecided): none, or fewer than `maxOwnUndecided` of which the oldest is younger than `batchIntervalMs`.
 */
export function roomForPartial (own: { count: number, oldestMs: number | undefined }, maxOwnUndecided: number, batchIntervalMs: number, nowMs: number): boolean {
  if (own.count === 0) return true
  return own.count < maxOwnUndecided && nowMs - (own.oldestMs ?? 0) < batchIntervalMs
}

/** Turns the mempool into this node's vertices and gossips them. */
export class Proposer implements Startable {
  private readonly c: ProposerComponents
  private readonly log: Logger
  private readonly batchIntervalMs: number
  private readonly maxOwnUndecided: number
  private readonly wakeable = new Wakeable()
  private readonly onWork = (): void => { this.wakeable.wake() }
  private abort = new AbortController()
  private loop: Promise<void> | undefined

  constructor (components: ProposerComponents, init: ProposerInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'dag-proposer' })
    this.batchIntervalMs = init.batchIntervalMs ?? 200
    this.maxOwnUndecided = init.maxOwnUndecided ?? 2
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    this.c.ledger.on('tx:queued', this.onWork)
    this.c.ledger.on('vertex:accepted', this.onWork)
    this.loop = this.run(this.abort.signal)
  }

  async stop (): Promise<void> {
    this.abort.abort()
    this.wakeable.wake()
    this.c.ledger.off('tx:queued', this.onWork)
    this.c.ledger.off('vertex:accepted', this.onWork)
    await this.loop
  }

  private async run (signal: AbortSignal): Promise<void> {
    const { ledger } = this.c
    while (!signal.aborted) {
      let waitMs = this.batchIntervalMs
      try {
        if (ledger.isValidator && ledger.mempool.readyToBuild(ledger.maxBatch, roomForPartial(ledger.ownUndecided(), this.maxOwnUndecided, this.batchIntervalMs, Date.now()), this.batchIntervalMs)) {
          const info = await ledger.buildVertex()
          if (info !== undefined) {
            await this.c.gossip.publish(info)
            continue
          }
          // nothing buildable (an account's earlier nonce is not in reach yet): look again after the interval
        } else {
          // gathering: until the oldest queued transaction has waited the interval, unless woken before
          const oldest = ledger.mempool.oldestAddedMs()
          if (oldest !== undefined) waitMs = Math.max(1, this.batchIntervalMs - (Date.now() - oldest))
        }
      } catch (err) {
        this.log.warn({ err }, 'building a vertex failed')
      }
      await this.wakeable.sleep(waitMs, signal)
    }
  }
}
