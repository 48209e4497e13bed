import { DagError } from './errors.ts'

// Rate samples: one at most every SAMPLE_MS, kept over the window (bounded: window / SAMPLE_MS + 2 entries).
const SAMPLE_MS = 100
// retryAfterMs stays within these: a client never spins and never waits long for a node that drains in seconds.
const RETRY_MIN_MS = 50
const RETRY_MAX_MS = 5000

export interface AdmissionControlInit {
  /**
   * Pending transactions (mempool and undecided vertices) always admitted whatever the measured rate: one full
   * vertex, so an idle node takes a burst before it has measured anything. Small on purpose: pending counts every
   * validator's undecided vertices, and a floor far above what the network finalizes in targetQueueMs is queueing
   * (measured: a floor of 256 kept an overloaded 4-node devnet at 42 tx/s with p50 25 s). @default 128
   */
  minPendingTxs?: number
  /**
   * The queueing delay a node admits. Past capacity the bound on pending transactions is the finalization rate
   * measured over the last window × this (Little's law: pending / rate is the wait of the next one); half of the
   * 1 s p99 goal, so an accepted transaction waits at most this in line plus one consensus round. @default 500
   */
  targetQueueMs?: number
  /**
   * Refused while the oldest pending transaction (mempool, or an undecided vertex not held for an outside check)
   * has waited longer than this: the node is not finalizing in time, whatever the rate says (an overload that
   * began before the rate was measured, or a stall). Twice the 1 s p99 goal. @default 2000
   */
  maxPendingAgeMs?: number
  /** Window over which the finalization rate is measured. @default 2000 */
  rateWindowMs?: number
}

/** What the rule reads: counts the ledger already keeps. */
export interface AdmissionLoad {
  /** Transactions in the mempool and in undecided vertices (own and peers'). */
  pendingTxs: () => number
  /** When the oldest pending transaction was first seen (ms since the epoch), or undefined when none is pending. */
  oldestPendingMs: () => number | undefined
  /** Transactions finalized since start (a counter). */
  finalTxs: () => number
}

/** Why a transaction was refused as busy: the metric label. */
export type BusyReason = 'pending' | 'age'

/** The figures `check` decided on (node_health and the gauges show them). */
export interface AdmissionView {
  pendingTxs: number
  boundTxs: number
  finalTxsPerSecond: number
  oldestPendingAgeMs: number
}

/**
 * Admission control for new client transactions (RPC and forwarded): past what the node can finalize it refuses
 * with BUSY (retryable, `retryAfterMs`) before spending a signature check, instead of queueing the transaction into
 * multi-second finality. Capacity is what the node measurably finalizes: pending transactions may not exceed
 * max(minPendingTxs, finalized tx/s over the window × targetQueueMs), and the oldest pending one may not be older
 * than maxPendingAgeMs. Vertices from other validators are never refused here (they are consensus work; their own
 * bound is the ledger's maxProcessing). docs/ledger-profile.md, "Admission control".
 */
export class AdmissionControl {
  private readonly load: AdmissionLoad
  private readonly minPendingTxs: number
  private readonly targetQueueMs: number
  private readonly maxPendingAgeMs: number
  private readonly rateWindowMs: number
  private readonly samples: Array<{ atMs: number, finalTxs: number }> = []
  private readonly onRefuse: ((reason: BusyReason) => void) | undefined

  constructor (load: AdmissionLoad, init: AdmissionControlInit = {}, onRefuse?: (reason: BusyReason) => void) {
    this.load = load
    this.minPendingTxs = init.minPendingTxs ?? 128
    this.targetQueueMs = init.targetQueueMs ?? 500
    this.maxPendingAgeMs = init.maxPendingAgeMs ?? 2000
    this.rateWindowMs = Math.max(2 * SAMPLE_MS, init.rateWindowMs ?? 2000)
    this.onRefuse = onRefuse
  }

  /** Finalized transactions per second over the window (0 until two samples span 200 ms). */
  finalRate (nowMs: number = Date.now()): number {
    this.sample(nowMs)
    const first = this.samples[0]
    const last = this.samples[this.samples.length - 1]
    const spanMs = last.atMs - first.atMs
    return spanMs < 2 * SAMPLE_MS ? 0 : (1000 * (last.finalTxs - first.finalTxs)) / spanMs
  }

  view (nowMs: number = Date.now()): AdmissionView {
    const rate = this.finalRate(nowMs)
    const oldest = this.load.oldestPendingMs()
    return {
      pendingTxs: this.load.pendingTxs(),
      boundTxs: Math.max(this.minPendingTxs, Math.floor((rate * this.targetQueueMs) / 1000)),
      finalTxsPerSecond: rate,
      oldestPendingAgeMs: oldest === undefined ? 0 : Math.max(0, nowMs - oldest)
    }
  }

  /** Throws BUSY (with `retryAfterMs`) when one more transaction would be past capacity. */
  check (nowMs: number = Date.now()): void {
    const v = this.view(nowMs)
    const rate = Math.max(1, v.finalTxsPerSecond)
    if (v.pendingTxs >= v.boundTxs) {
      // time to finalize the excess at the measured rate
      const retryAfterMs = clamp(Math.ceil((1000 * (v.pendingTxs - v.boundTxs + 1)) / rate))
      this.refuse('pending', `node is at capacity: ${v.pendingTxs} transactions pending against a bound of ${v.boundTxs} (${Math.round(v.finalTxsPerSecond)} tx/s finalized); retry after ${retryAfterMs} ms or send to another node`, retryAfterMs, v)
    }
    if (v.pendingTxs > 0 && v.oldestPendingAgeMs > this.maxPendingAgeMs) {
      const retryAfterMs = clamp(this.targetQueueMs)
      this.refuse('age', `node is not finalizing in time: its oldest pending transaction has waited ${v.oldestPendingAgeMs} ms; retry after ${retryAfterMs} ms or send to another node`, retryAfterMs, v)
    }
  }

  private refuse (reason: BusyReason, message: string, retryAfterMs: number, v: AdmissionView): never {
    this.onRefuse?.(reason)
    throw new DagError('BUSY', message, { retryAfterMs, pendingTxs: v.pendingTxs, boundTxs: v.boundTxs })
  }

  private sample (nowMs: number): void {
    const last = this.samples[this.samples.length - 1]
    if (last === undefined || nowMs - last.atMs >= SAMPLE_MS) this.samples.push({ atMs: nowMs, finalTxs: this.load.finalTxs() })
    // keep one sample at or before the window's start so the span covers the whole window
    while (this.samples.length > 2 && nowMs - this.samples[1].atMs >= this.rateWindowMs) this.samples.shift()
  }
}

function clamp (ms: number): number {
  return Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, ms))
}
