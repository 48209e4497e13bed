/**
 * Outside validity of transactions (a deposit credit is valid only if the EVM chain holds the deposit). The
 * ledger cannot decide it deterministically, so it does not: each node checks with its own view, and until the
 * check passes the node does not *prefer* the vertex (Avalanche: it neither votes for it nor for a descendant,
 * never polls it and never builds on it). Acceptance is still the network's: a vertex that ≥ α of the sampled
 * stake votes for is accepted, so a credit is final when enough validators saw the deposit on their own chain.
 *
 * - `valid`: the transaction is cached as checked; once every such transaction of a vertex is valid, the vertex is
 *   released.
 * - `pending` (not confirmed yet, chain unreachable, no checker registered): asked again every `recheckMs`, and at
 *   once when the checker's owner says its view moved (`recheckNow`).
 * - `invalid`: the vertex stays held (never voted for) and is *vetoed*: in its conflict sets this node prefers any
 *   other member, and its ledger accepts a competing submission (so an honest credit can replace a wrong one that
 *   came first). Asked again every `recheckMs × INVALID_BACKOFF` in case this node's chain view was behind.
 *
 * Holds are registered synchronously with the vertex (DagLedger.registerProcessing), so no query can see the
 * vertex preferred before its check. Memory: one entry per held processing vertex (bounded by the ledger's
 * maxProcessing) and a bounded cache of valid transaction ids.
 */
import type { Logger } from '../core/logger.ts'
import type { ConsensusCore } from './consensus/core.ts'
import type { DagMetrics } from './metrics.ts'
import type { TxInfo } from './tx.ts'
import { getTxKind } from './tx-kinds.ts'
import type { VertexInfo } from './vertex.ts'

export type ExternalVerdict = 'valid' | 'pending' | 'invalid'
/** Checks one transaction against this node's outside view. Throwing counts as `pending`. */
export type ExternalChecker = (tx: TxInfo) => Promise<ExternalVerdict>

/** Valid transaction ids remembered (a vertex re-checked after a restart re-asks the chain). */
const VALID_CACHE_SIZE = 10_000
/** An invalid verdict is asked again this many recheck intervals later. */
const INVALID_BACKOFF = 10

export interface ExternalValidityInit {
  /** Interval between checks of held vertices. @default 500 */
  recheckMs?: number
}

/** `invalid`: its last verdict (rechecked only after the backoff, not on `recheckNow`). */
interface Held { txs: TxInfo[], nextCheckAt: number, reported: boolean, invalid: boolean, sinceMs: number }

export class ExternalValidity {
  private readonly core: ConsensusCore
  private readonly log: Logger
  private readonly recheckMs: number
  private readonly checkers = new Map<number, ExternalChecker>()
  private readonly held = new Map<string, Held>()
  private readonly valid = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private running = false
  private again = false
  private stopped = false
  private readonly listeners = new Set<(vertexId: string) => void>()

  private readonly metrics: Pick<DagMetrics, 'externalHoldSeconds'> | undefined

  constructor (core: ConsensusCore, log: Logger, init: ExternalValidityInit = {}, metrics?: Pick<DagMetrics, 'externalHoldSeconds'>) {
    this.core = core
    this.log = log
    this.metrics = metrics
    this.recheckMs = init.recheckMs ?? 500
  }

  /** Registers (or with `undefined` removes) the checker of a kind flagged `externalCheck`. */
  setChecker (kind: number, checker: ExternalChecker | undefined): void {
    if (checker === undefined) this.checkers.delete(kind)
    else this.checkers.set(kind, checker)
    for (const h of this.held.values()) h.nextCheckAt = 0
    this.schedule(0)
  }

  /** Called when a vertex became processing: holds it if it carries transactions that need an outside check. */
  onProcessing (info: VertexInfo): void {
    const txs = info.txs.filter(t => getTxKind(t.tx.kind)?.externalCheck === true)
    if (txs.length === 0 || !this.core.hold(info.idHex)) return
    this.held.set(info.idHex, { txs, nextCheckAt: 0, reported: false, invalid: false, sinceMs: performance.now() })
    this.schedule(0)
  }

  /** Called with the id of each vertex this component releases (the network wakes its poll loop). */
  onRelease (fn: (vertexId: string) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  heldCount (): number { return this.held.size }

  /**
   * Checks the held vertices carrying a transaction of `kinds` whose verdict was `pending` again now, not at their
   * next `recheckMs`: the view their checker waits for moved (the market's state applied a transaction). Only those
   * kinds: another checker's view (the bridge's chain) did not move, and each of its checks may cost a chain call.
   * Coalesced: one pass runs at a time, and a call during it asks for one more pass after it.
   */
  recheckNow (kinds: ReadonlySet<number>): void {
    let due = false
    for (const h of this.held.values()) {
      if (h.invalid || !h.txs.some(t => kinds.has(t.tx.kind))) continue
      h.nextCheckAt = 0
      due = true
    }
    if (due) this.schedule(0)
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private schedule (ms: number): void {
    if (this.running && ms === 0) this.again = true
    if (this.stopped || this.running || this.held.size === 0) return
    if (this.timer !== undefined) {
      if (ms > 0) return
      clearTimeout(this.timer)
    }
    this.timer = setTimeout(() => { this.timer = undefined; void this.run() }, ms)
    this.timer.unref()
  }

  private async run (): Promise<void> {
    this.running = true
    try {
      const now = Date.now()
      const due: Array<[string, Held]> = []
      for (const [id, h] of this.held) {
        if (!this.core.isProcessing(id)) this.end(id, h, 'decided')
        else if (h.nextCheckAt <= now) due.push([id, h])
      }
      // checked together, not one after another: a check that waits for a neighbour's state to catch up (the
      // market's) then waits once for all of them (measured 2026-12-03: one by one, a pass held the last for seconds)
      const verdicts = await Promise.all(due.map(async ([, h]) => await this.checkAll(h.txs)))
      for (const [i, [id, h]] of due.entries()) {
        if (this.stopped) return
        const verdict = verdicts[i]
        if (!this.core.isProcessing(id)) { this.end(id, h, 'decided'); continue }
        if (verdict === 'valid') {
          this.end(id, h, 'released')
          this.core.release(id)
          for (const fn of this.listeners) fn(id)
        } else if (verdict === 'invalid') {
          h.invalid = true
          this.core.veto(id)
          if (!h.reported) this.log.warn({ vertex: id }, 'vertex carries a transaction this node\'s chain view says is invalid: not voting for it')
          h.reported = true
          h.nextCheckAt = Date.now() + this.recheckMs * INVALID_BACKOFF
        } else {
          h.invalid = false
          h.nextCheckAt = Date.now() + this.recheckMs
        }
      }
    } finally {
      this.running = false
      const again = this.again
      this.again = false
      this.schedule(again ? 0 : this.recheckMs)
    }
  }

  private end (id: string, h: Held, how: 'released' | 'decided'): void {
    this.held.delete(id)
    this.metrics?.externalHoldSeconds.observe({ end: how }, (performance.now() - h.sinceMs) / 1000)
  }

  private async checkAll (txs: TxInfo[]): Promise<ExternalVerdict> {
    let result: ExternalVerdict = 'valid'
    for (const t of txs) {
      if (this.valid.has(t.idHex)) continue
      const checker = this.checkers.get(t.tx.kind)
      let v: ExternalVerdict = 'pending'
      if (checker !== undefined) {
        try { v = await checker(t) } catch (err) { this.log.debug({ err }, 'outside check failed; will retry') }
      }
      if (v === 'invalid') return 'invalid'
      if (v === 'pending') { result = 'pending'; continue }
      this.valid.add(t.idHex)
      if (this.valid.size > VALID_CACHE_SIZE) {
        const first = this.valid.values().next()
        if (first.done !== true) this.valid.delete(first.value)
      }
    }
    return result
  }
}
