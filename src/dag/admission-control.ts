import { DagError } from './errors.ts'

// Rate samples: one at most every SAMPLE_MS, kept over the window (bounded: window / SAMPLE_MS + 2 entries).
const SAMPLE_MS = 100
// retryAfterMs stays within these: a client never spins and never waits long for a node that drains in seconds.
const RETRY_MIN_MS = 50
const RETRY_MAX_MS = 5000
// The node's own finality latency is the shortest vertex finality over this long, per-second minima (bounded).
const BASE_WINDOW_MS = 10_000
// recent vertex finality latencies kept for the median shown live (harmonyd devnet, dag_stats): the last
// BASE_WINDOW_MS, and at most this many
const MAX_RECENT_FINALITY = 1024
// The latency rule (see targetLatencyMs): its signal covers the last LATENCY_WINDOW_MS of clients' transactions
// final here (at most MAX_LATENCY_SAMPLES, the newest), needs LATENCY_MIN_SAMPLES of them, and is looked at no more
// often than every ADAPT_MS. It follows at most MAX_CLIENT_PENDING clients' transactions (the oldest forgotten first).
const LATENCY_WINDOW_MS = 1000
const MAX_LATENCY_SAMPLES = 4096
const LATENCY_MIN_SAMPLES = 8
const MAX_CLIENT_PENDING = 65_536
const ADAPT_MS = 100
// The limit it sets: cut in the target's proportion, between LIMIT_CUT_MIN and LIMIT_CUT, when over the target (at
// most once per half a measured latency, TCP's once per round trip: what is measured now was admitted a latency
// ago), raised by max(LIMIT_STEP_TXS, LIMIT_GROWTH × limit) every GROW_MS while under it and in use, never below
// LIMIT_FLOOR_TXS (a node always takes some clients' transactions).
const LIMIT_CUT = 0.9
const LIMIT_CUT_MIN = 0.5
const LIMIT_STEP_TXS = 32
const LIMIT_GROWTH = 0.02
const GROW_MS = 250
const LIMIT_FLOOR_TXS = 32
// Before its first cut the rule acts on the oldest pending client's transaction's age from this share of the target
// (adapt: what the newest admitted then waits is about twice that age).
const COLD_AGE_SHARE = 0.5

export interface AdmissionControlInit {
  /**
   * Pending transactions (mempool and undecided vertices, every validator's) always admitted whatever the measured
   * rate: eight full vertices (one or two per validator of a small network), so an idle node takes a burst before it
   * has measured anything (measured: 256 refused a 10-client burst of 1,000 transfers on 4 nodes before the first
   * finality). @default 1024
   */
  minPendingTxs?: number
  /**
   * Queueing a node admits on top of its own finality latency (the shortest vertex finality of the last
   * BASE_WINDOW_MS, as TCP Vegas and BBR take the shortest round trip). The bound on pending transactions is the
   * finalization rate over the window × (that latency + this): by Little's law pending = rate × latency, so the
   * bound binds only once queueing passes this. A bound of rate × a fixed target below the network's own latency
   * would shrink with every refusal down to the floor (measured: 500 ms cut a loaded single node's ingest to 0.27 of
   * the verify limit). The p99 goal, 1 s. @default 1000
   */
  targetQueueMs?: number
  /**
   * When set, also refused while the oldest pending transaction (mempool, or an undecided vertex not held for an
   * outside check) has waited longer than the node's own finality latency + this: it is not finalizing in time.
   * Off by default: a validator that cannot reach the quorum (a partition, a peer restarting) would refuse every
   * client after this long, and the ledger's tests and tools expect such a node to keep taking transactions
   * (pending) until it can finalize again; the rate rule bounds what it queues. @default undefined (off)
   */
  maxPendingAgeMs?: number
  /** Window over which the finalization rate is measured. @default 2000 */
  rateWindowMs?: number
  /**
   * The latency rule, as Sui's overload protection and CoDel shed load on the time work waits rather than on a
   * count: while the latency clients see here (the 90th percentile of the last second's clients' transactions,
   * admitted to final, or the oldest still pending one's age when larger) is above this, the number of clients'
   * transactions this node holds pending is limited, the limit cut multiplicatively at most once per half a measured
   * latency; while below and the limit is in use, it grows additively. Past capacity refusals (`latency`) then
   * replace queueing: accepted transactions keep their latency (measured on a 4-process devnet offered twice its
   * saturation rate: docs/ledger-profile.md). Unlimited until the first cut, which the oldest pending one's age
   * makes from half the target; `Infinity` turns the rule off.
   * @default 600
   */
  targetLatencyMs?: number
}

/** What the rule reads: counts the ledger already keeps. */
export interface AdmissionLoad {
  /** Transactions in the mempool and in undecided vertices (own and peers'). */
  pendingTxs: () => number
  /** When the oldest pending transaction was first seen (ms since the epoch), or undefined when none is pending. */
  oldestPendingMs: () => number | undefined
  /** Transactions finalized since start (a counter). */
  finalTxs: () => number
  /** Whether a transaction is still pending here (mempool or an undecided vertex). */
  isPending: (idHex: string) => boolean
}

/** Why a transaction was refused as busy: the metric label. */
export type BusyReason = 'pending' | 'age' | 'latency'

/** The figures `check` decided on (node_health and the gauges show them). */
export interface AdmissionView {
  pendingTxs: number
  boundTxs: number
  finalTxsPerSecond: number
  oldestPendingAgeMs: number
  /** The node's own finality latency (see targetQueueMs) */
  baseLatencyMs: number
  /** The latency rule's signal (see targetLatencyMs): 0 while it has none */
  latencyMs: number
  /** Clients' transactions admitted here and not yet final */
  clientPendingTxs: number
  /** The latency rule's limit on them (Infinity until its first cut) */
  clientLimitTxs: number
  /** Transactions refused as BUSY since start, every rule */
  refusedTxs: number
}

/**
 * Admission control for new client transactions (RPC and forwarded): past what the node can finalize it refuses
 * with BUSY (retryable, `retryAfterMs`) before spending a signature check, instead of queueing the transaction into
 * multi-second finality. Capacity is what the node measurably finalizes: pending transactions may not exceed
 * max(minPendingTxs, finalized tx/s over the window × (own finality latency + targetQueueMs)), and the oldest
 * pending one may not be older than own finality latency + maxPendingAgeMs. Vertices from other validators are never refused here (they are consensus work; their own
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
  /** per-second minimum vertex finality latency, last BASE_WINDOW_MS */
  private readonly finality: Array<{ second: number, minMs: number }> = []
  /** vertex finality latencies of the last BASE_WINDOW_MS, oldest first (bounded) */
  private readonly recent: Array<{ atMs: number, ms: number }> = []
  /** clients' transactions admitted and not yet final here -> when admitted (admission order; bounded) */
  private readonly clientPending = new Map<string, number>()
  /** clients' transactions' latencies (admitted to final), last LATENCY_WINDOW_MS, oldest first (bounded) */
  private readonly clientLatencies: Array<{ atMs: number, ms: number }> = []
  private readonly targetLatencyMs: number
  /** the latency rule's limit on clients' transactions pending here (Infinity until its first cut) */
  private limitTxs = Number.POSITIVE_INFINITY
  private latencyMs = 0
  private refusedTxs = 0
  private adaptedAtMs = Number.NEGATIVE_INFINITY
  private nextCutMs = Number.NEGATIVE_INFINITY
  private grownAtMs = Number.NEGATIVE_INFINITY

  constructor (load: AdmissionLoad, init: AdmissionControlInit = {}, onRefuse?: (reason: BusyReason) => void) {
    this.load = load
    this.minPendingTxs = init.minPendingTxs ?? 1024
    this.targetQueueMs = init.targetQueueMs ?? 1000
    this.maxPendingAgeMs = init.maxPendingAgeMs ?? Number.POSITIVE_INFINITY
    this.rateWindowMs = Math.max(2 * SAMPLE_MS, init.rateWindowMs ?? 2000)
    this.targetLatencyMs = init.targetLatencyMs ?? 600
    this.onRefuse = onRefuse
  }

  /** Transactions refused as BUSY since start, every rule (a counter: no figure is recomputed to read it). */
  get refusals (): number { return this.refusedTxs }

  /** A client's transaction was admitted (the latency rule follows it to its end). */
  admitted (idHex: string, nowMs: number = Date.now()): void {
    if (this.targetLatencyMs === Number.POSITIVE_INFINITY) return
    this.clientPending.set(idHex, nowMs)
    if (this.clientPending.size > MAX_CLIENT_PENDING) this.clientPending.delete(this.clientPending.keys().next().value as string)
  }

  /** A transaction is final (`final`) or rejected here: a client's final one is a latency sample. */
  decided (idHex: string, final: boolean, nowMs: number = Date.now()): void {
    const at = this.clientPending.get(idHex)
    if (at === undefined) return
    this.clientPending.delete(idHex)
    if (!final) return
    this.clientLatencies.push({ atMs: nowMs, ms: nowMs - at })
    if (this.clientLatencies.length > MAX_LATENCY_SAMPLES) this.clientLatencies.shift()
  }

  /**
   * The latency rule's signal: the p90 of the clients' transactions final in the last LATENCY_WINDOW_MS (undefined
   * with fewer than LATENCY_MIN_SAMPLES), and the age of the oldest client's transaction still pending (0 when none).
   */
  private latencySignal (nowMs: number): { measured: number | undefined, age: number, clientPending: number } {
    while (this.clientLatencies.length > 0 && nowMs - this.clientLatencies[0].atMs >= LATENCY_WINDOW_MS) this.clientLatencies.shift()
    // admission order: the first entry still pending is the oldest; those that left another way (a rejected
    // vertex's transaction dropped from a full mempool, one the builder found stale) are forgotten on the way
    let age = 0
    for (const [id, at] of this.clientPending) {
      if (this.load.isPending(id)) { age = Math.max(0, nowMs - at); break }
      this.clientPending.delete(id)
    }
    const measured = this.clientLatencies.length < LATENCY_MIN_SAMPLES ? undefined : p90(this.clientLatencies.map(l => l.ms))
    return { measured, age, clientPending: this.clientPending.size }
  }

  /** Moves the latency rule's limit (at most every ADAPT_MS). */
  private adapt (nowMs: number): void {
    if (this.targetLatencyMs === Number.POSITIVE_INFINITY || nowMs - this.adaptedAtMs < ADAPT_MS) return
    this.adaptedAtMs = nowMs
    // the oldest pending client's transaction's age is a lower bound on its latency, known before anything is final
    // (a cold node taking a burst) and at once after a change: CoDel's sojourn time. Until the first cut it counts
    // from half the target (COLD_AGE_SHARE): a node that has never cut does not know what it drains, and while a
    // burst arrives faster than it drains, the one admitted when the oldest has waited t waits about 2t itself (all
    // that came before it, the oldest's t of arrivals, drain no faster than they came). Waiting for the oldest to reach
    // the target admitted twice what a cold 4-process devnet finalizes within it (docs/ledger-profile.md, s50).
    const { measured, age, clientPending } = this.latencySignal(nowMs)
    const ageLimit = this.limitTxs === Number.POSITIVE_INFINITY ? this.targetLatencyMs * COLD_AGE_SHARE : this.targetLatencyMs
    if (measured === undefined && age <= ageLimit) { this.latencyMs = 0; return }
    const latency = Math.max(measured ?? 0, age)
    this.latencyMs = latency
    if ((measured ?? 0) > this.targetLatencyMs || age > ageLimit) {
      if (nowMs < this.nextCutMs) return
      // the first cut starts from what is pending: the queue that made the latency; by Little's law the queue
      // scales with the latency, so it is cut in the target's proportion (within LIMIT_CUT_MIN..LIMIT_CUT)
      const cut = Math.min(LIMIT_CUT, Math.max(LIMIT_CUT_MIN, this.targetLatencyMs / latency))
      this.limitTxs = Math.max(LIMIT_FLOOR_TXS, Math.floor(Math.min(this.limitTxs, clientPending) * cut))
      this.nextCutMs = nowMs + Math.min(LATENCY_WINDOW_MS, latency) / 2
      this.grownAtMs = nowMs
    } else if (this.limitTxs !== Number.POSITIVE_INFINITY && clientPending >= this.limitTxs / 2 && nowMs - this.grownAtMs >= GROW_MS) {
      this.limitTxs += Math.max(LIMIT_STEP_TXS, Math.floor(this.limitTxs * LIMIT_GROWTH))
      this.grownAtMs = nowMs
    }
  }

  /** Records the finality latency of an accepted vertex (first seen to committed). */
  observeFinality (latencyMs: number, nowMs: number = Date.now()): void {
    const second = Math.floor(nowMs / 1000)
    const last = this.finality[this.finality.length - 1]
    if (last !== undefined && last.second === second) last.minMs = Math.min(last.minMs, latencyMs)
    else this.finality.push({ second, minMs: latencyMs })
    while (this.finality.length > 0 && (second - this.finality[0].second) * 1000 >= BASE_WINDOW_MS) this.finality.shift()
    this.recent.push({ atMs: nowMs, ms: latencyMs })
    if (this.recent.length > MAX_RECENT_FINALITY) this.recent.shift()
  }

  /** Median vertex finality latency over the last BASE_WINDOW_MS; 0 when none (a sort: for dag_stats, not check). */
  finalityP50Ms (nowMs: number = Date.now()): number {
    while (this.recent.length > 0 && nowMs - this.recent[0].atMs >= BASE_WINDOW_MS) this.recent.shift()
    if (this.recent.length === 0) return 0
    const sorted = this.recent.map(r => r.ms).sort((a, b) => a - b)
    return sorted[Math.floor((sorted.length - 1) / 2)]
  }

  /** The node's own finality latency: the shortest vertex finality of the last BASE_WINDOW_MS (0 when none). */
  baseLatencyMs (nowMs: number = Date.now()): number {
    const second = Math.floor(nowMs / 1000)
    let min = Number.POSITIVE_INFINITY
    for (const f of this.finality) if ((second - f.second) * 1000 < BASE_WINDOW_MS) min = Math.min(min, f.minMs)
    return min === Number.POSITIVE_INFINITY ? 0 : min
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
    return this.figures(nowMs, true)
  }

  /** The figures; the oldest pending transaction's age only when `withAge` (it walks the undecided vertices). */
  private figures (nowMs: number, withAge: boolean): AdmissionView {
    const rate = this.finalRate(nowMs)
    const baseMs = this.baseLatencyMs(nowMs)
    this.adapt(nowMs)
    return {
      pendingTxs: this.load.pendingTxs(),
      boundTxs: Math.max(this.minPendingTxs, Math.floor((rate * (baseMs + this.targetQueueMs)) / 1000)),
      finalTxsPerSecond: rate,
      oldestPendingAgeMs: withAge ? this.oldestAgeMs(nowMs) : 0,
      baseLatencyMs: baseMs,
      latencyMs: this.latencyMs,
      clientPendingTxs: this.clientPending.size,
      clientLimitTxs: this.limitTxs,
      refusedTxs: this.refusals
    }
  }

  /**
   * Throws BUSY (with `retryAfterMs`) when one more transaction would be past capacity. The latency rule binds only
   * a client's transaction (`client`: RPC, forwarded, a task announce): what the node itself sends for work already
   * under way (a bridge credit, a validator's award, a provider's bid) is held to the rate rule alone, so shedding
   * new work never starves the work it would add to.
   */
  check (nowMs: number = Date.now(), client = true): void {
    // runs on every submit: the oldest pending transaction is looked up only when a rule needs it (a refusal's
    // hint, or the age rule when it is on)
    const fast = this.figures(nowMs, false)
    const needAge = fast.pendingTxs >= fast.boundTxs || (fast.pendingTxs > 0 && this.maxPendingAgeMs !== Number.POSITIVE_INFINITY)
    const v = needAge ? { ...fast, oldestPendingAgeMs: this.oldestAgeMs(nowMs) } : fast
    if (v.pendingTxs >= v.boundTxs) {
      // time to finalize the excess at the rate the pending transactions drain
      const retryAfterMs = clamp(Math.ceil((1000 * (v.pendingTxs - v.boundTxs + 1)) / drainRate(v)))
      this.refuse('pending', `node is at capacity: ${v.pendingTxs} transactions pending against a bound of ${v.boundTxs} (${Math.round(v.finalTxsPerSecond)} tx/s finalized); retry after ${retryAfterMs} ms or send to another node`, retryAfterMs, v)
    }
    if (v.pendingTxs > 0 && v.oldestPendingAgeMs > v.baseLatencyMs + this.maxPendingAgeMs) {
      const retryAfterMs = clamp(Math.ceil(this.targetQueueMs / 4))
      this.refuse('age', `node is not finalizing in time: its oldest pending transaction has waited ${v.oldestPendingAgeMs} ms; retry after ${retryAfterMs} ms or send to another node`, retryAfterMs, v)
    }
    if (client && v.clientPendingTxs >= v.clientLimitTxs) {
      // about the time one of them takes now: what a client waits for room
      const retryAfterMs = clamp(Math.ceil(v.latencyMs / 2))
      this.refuse('latency', `node is at its latency limit: its clients' transactions take ${v.latencyMs} ms to finalize (target ${this.targetLatencyMs} ms), ${v.clientPendingTxs} pending against a limit of ${v.clientLimitTxs}; retry after ${retryAfterMs} ms or send to another node`, retryAfterMs, v)
    }
  }

  private oldestAgeMs (nowMs: number): number {
    const oldest = this.load.oldestPendingMs()
    return oldest === undefined ? 0 : Math.max(0, nowMs - oldest)
  }

  private refuse (reason: BusyReason, message: string, retryAfterMs: number, v: AdmissionView): never {
    this.refusedTxs++
    this.onRefuse?.(reason)
    // `rule` says which rule refused; the latency rule's refusal also carries the count it limits and its limit
    const latency = reason === 'latency' ? { clientPendingTxs: v.clientPendingTxs, clientLimitTxs: v.clientLimitTxs } : {}
    throw new DagError('BUSY', message, { retryAfterMs, rule: reason, pendingTxs: v.pendingTxs, boundTxs: v.boundTxs, ...latency })
  }

  private sample (nowMs: number): void {
    const last = this.samples[this.samples.length - 1]
    if (last === undefined || nowMs - last.atMs >= SAMPLE_MS) this.samples.push({ atMs: nowMs, finalTxs: this.load.finalTxs() })
    // keep one sample at or before the window's start so the span covers the whole window
    while (this.samples.length > 2 && nowMs - this.samples[1].atMs >= this.rateWindowMs) this.samples.shift()
  }
}

/**
 * Transactions per second the pending ones drain at, for a refusal's retryAfterMs: the larger of the rate finalized
 * over the window and Little's law on what is pending now (pending / the oldest one's age: everything pending came
 * in within that age). Without the second, a node that had not finalized yet (or only just: the window still held
 * the time before) counted 1 tx/s and told every client to wait RETRY_MAX_MS: measured, the 120 clients of
 * bench:ledger's ingest, refused once at the start, all slept 5 s, and the node sat idle for 40% of the run. A stalled
 * node's oldest transaction ages, so its hint still grows to the maximum.
 */
function drainRate (v: AdmissionView): number {
  const little = v.oldestPendingAgeMs > 0 ? (1000 * v.pendingTxs) / v.oldestPendingAgeMs : 0
  return Math.max(1, v.finalTxsPerSecond, little)
}

function p90 (xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))]
}

function clamp (ms: number): number {
  return Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, ms))
}
