import { replicasOf } from '../kinds/task.ts'
import type { TaskView } from '../state/reader.ts'
import type { ProviderConfig } from './config.ts'
import type { CapabilityRecord } from './capability.ts'
import { estimateWork, gflopOf, type TaskWork } from './work.ts'

/**
 * The pricing policy: for each announced task, a bid price or the reason this provider does not bid. Every reason
 * is kept (bounded) so `provider_status` can say "why I did not bid" (what Golem's providers cannot see).
 */

export const NO_BID_REASONS = ['capability', 'price-floor', 'escrow-missing', 'capacity', 'denied', 'too-large', 'kernel', 'too-late', 'invalid-task'] as const
export type NoBidReason = (typeof NO_BID_REASONS)[number]

/** What the policy reads of an announce (from the market's task view). */
export interface TaskOffer {
  taskId: string
  /** The requester's `hmy1…` address. */
  requester: string
  kernel: string
  params: Record<string, unknown>
  /** How many input blobs the announce names. */
  inputs: number
  /** The announce's limit on the output, bytes. */
  outputLimitBytes: number
  /** Price ceiling per replica, base units. */
  budget: bigint
  /** Replicas paid from the escrow (r, or r + 1 in spot-check mode). */
  replicas: number
  requirements: {
    executor: 'any' | 'cpu' | 'webgpu'
    /** GFLOP/s × 1000. */
    minGflopsMilli: number
    minMemoryMiB: number
    attested: boolean
  }
}

/** The offer of a task, as the market's view of its announce states it. */
export function offerOf (view: TaskView): TaskOffer {
  const params = view.spec.params !== null && typeof view.spec.params === 'object' ? view.spec.params as Record<string, unknown> : {}
  return { taskId: view.taskId, requester: view.requester, kernel: view.spec.kernel, params, inputs: view.inputs.length, outputLimitBytes: view.outputLimitBytes, budget: view.budget, replicas: replicasOf(view), requirements: view.requirements }
}

/** What the provider knows of itself when it decides. */
export interface ProviderSelf {
  capability: CapabilityRecord
  /** Kernels the executor runs (ExecutorInfo.kernels). */
  kernels: readonly string[]
  /** True once a validator's `provider-attest` with `passed` is final. */
  attested: boolean
}

/**
 * What a provider holds (tasks bid on or awarded and not finished). `capacity` bounds `reserved`: work it may have to
 * run (revealed bids an award can still name, and awards not yet answered). Sealed commits cost nothing to drop (an
 * unrevealed commit is never considered), so up to OPEN_BIDS_PER_SLOT × capacity of them may be open. Counting every
 * open bid against capacity made every provider refuse every task once `capacity` auctions were open at once (each
 * provider bids on each task), so the whole market ran `capacity` tasks at a time, not providers × capacity.
 */
export interface ProviderLoad {
  /** Bids committed and not revealed yet. */
  committed: number
  /** Revealed bids not decided yet, and awards not answered yet. */
  reserved: number
}

/** Open bids (committed or reserved) per unit of capacity. */
export const OPEN_BIDS_PER_SLOT = 4

/** The load of the tasks a provider holds, by the stage of each one's bid. */
export function loadOf (held: Iterable<{ stage: string }>): ProviderLoad {
  const load = { committed: 0, reserved: 0 }
  for (const r of held) {
    if (r.stage === 'committing' || r.stage === 'committed') load.committed++
    else load.reserved++
  }
  return load
}

export type BidDecision =
  | { bid: true, price: bigint, work: TaskWork }
  | { bid: false, reason: NoBidReason, detail: string }

const GFLOP = 1_000_000_000n

export class PricingPolicy {
  private readonly config: ProviderConfig
  private readonly allow: Set<string>
  private readonly deny: Set<string>

  constructor (config: ProviderConfig) {
    this.config = config
    this.allow = new Set(config.allow)
    this.deny = new Set(config.deny)
  }

  /**
   * The price for `work`: per GFLOP, rounded up, never below the minimum, and never 0 (a reveal of price 0 is refused,
   * so a provider configured to work for free, `pricePerGflop: 0` and `minPrice: 0`, would lose every bid it made).
   */
  price (work: TaskWork): bigint {
    const byWork = (this.config.pricePerGflop * work.flops + GFLOP - 1n) / GFLOP
    const price = byWork > this.config.minPrice ? byWork : this.config.minPrice
    return price > 0n ? price : 1n
  }

  /** Why a new bid cannot be committed now (undefined when it can). */
  atCapacity (load: ProviderLoad): string | undefined {
    const { capacity } = this.config
    if (load.reserved >= capacity) return `${load.reserved} tasks reserved (revealed bids and awards in hand), capacity ${capacity}`
    if (load.committed + load.reserved >= capacity * OPEN_BIDS_PER_SLOT) return `${load.committed + load.reserved} bids open, at most ${capacity * OPEN_BIDS_PER_SLOT} (${OPEN_BIDS_PER_SLOT} × capacity ${capacity})`
    return undefined
  }

  /** Why a committed bid is not revealed (undefined when it may be): revealing could win work past capacity. */
  revealRefusal (load: ProviderLoad): string | undefined {
    const { capacity } = this.config
    return load.reserved >= capacity ? `${load.reserved} tasks reserved (revealed bids and awards in hand), capacity ${capacity}: the commit is left unrevealed` : undefined
  }

  /**
   * Bid or not. `escrowBalance` is what the announce locks: the balance of the task's escrow account as final on
   * the DAG, or, for an announce not final yet, what the requester's balance lets it lock (the agent then reveals
   * only once the escrow is locked): a provider works only for money that is locked, never on a promise.
   */
  decide (task: TaskOffer, escrowBalance: bigint, load: ProviderLoad, self: ProviderSelf): BidDecision {
    const no = (reason: NoBidReason, detail: string): BidDecision => ({ bid: false, reason, detail })
    if (this.deny.has(task.requester) || (this.allow.size > 0 && !this.allow.has(task.requester))) {
      return no('denied', 'the requester is not served by this provider\'s allow/deny lists')
    }
    if (!self.kernels.includes(task.kernel)) return no('kernel', `the ${self.capability.executor} executor does not run ${task.kernel}`)
    const work = estimateWork(task.kernel, task.params)
    if (work === undefined) return no('kernel', `${task.kernel} tasks cannot be priced from their parameters`)
    // what the announce alone shows cannot run: no bid, so the task expires and is refunded (inputs of the wrong
    // size show only once fetched: the winner reports an input fault then, job.ts)
    const shape = work.shape
    if (shape !== undefined && shape.inputs !== task.inputs) return no('invalid-task', `${task.kernel} takes ${shape.inputs} inputs, the announce names ${task.inputs}`)
    if (shape !== undefined && shape.outputBytes > task.outputLimitBytes) return no('invalid-task', `the output is ${shape.outputBytes} bytes, over the announce's limit of ${task.outputLimitBytes}`)
    const req = task.requirements
    if (req.executor !== 'any' && req.executor !== self.capability.executor) {
      return no('capability', `requires a ${req.executor} executor, this one is ${self.capability.executor}`)
    }
    if (req.minGflopsMilli > self.capability.gflopsMilli) {
      return no('capability', `requires ${req.minGflopsMilli / 1000} GFLOP/s, this provider measured ${self.capability.gflopsMilli / 1000}`)
    }
    if (req.minMemoryMiB > self.capability.memoryMiB) {
      return no('capability', `requires ${req.minMemoryMiB} MiB, this provider offers ${self.capability.memoryMiB}`)
    }
    if (req.attested && !self.attested) return no('capability', 'requires an attested provider; no passed challenge is final yet')
    if (work.bytes > this.config.maxTaskBytes) return no('too-large', `${work.bytes} bytes of inputs and outputs, over maxTaskBytes ${this.config.maxTaskBytes}`)
    if (gflopOf(work) > this.config.maxTaskGflop) return no('too-large', `${gflopOf(work)} GFLOP, over maxTaskGflop ${this.config.maxTaskGflop}`)
    const atCapacity = this.atCapacity(load)
    if (atCapacity !== undefined) return no('capacity', atCapacity)
    const price = this.price(work)
    if (price > task.budget) return no('price-floor', `price ${price} is over the budget ${task.budget}`)
    const locked = task.budget * BigInt(task.replicas)
    if (escrowBalance < locked) return no('escrow-missing', `escrow holds ${escrowBalance}, the announce promised ${locked}`)
    return { bid: true, price, work }
  }
}

export interface NoBidEntry {
  taskId: string
  reason: NoBidReason
  detail: string
  atMs: number
}

/**
 * The last `limit` decisions not to bid, and a count per reason since start: what `provider_status` shows. A
 * task decided twice (a re-read after a restart) is kept once, at its latest reason.
 */
export class NoBidLog {
  private readonly limit: number
  private readonly entries = new Map<string, NoBidEntry>()
  private readonly counts = new Map<NoBidReason, number>()

  /** @param limit entries kept. @default 256 */
  constructor (limit = 256) {
    this.limit = limit
  }

  record (taskId: string, reason: NoBidReason, detail: string, atMs = Date.now()): void {
    this.entries.delete(taskId)
    this.entries.set(taskId, { taskId, reason, detail, atMs })
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1)
    while (this.entries.size > this.limit) {
      const oldest = this.entries.keys().next()
      if (oldest.done === true) break
      this.entries.delete(oldest.value)
    }
  }

  /** Newest first. */
  recent (): NoBidEntry[] {
    return [...this.entries.values()].reverse()
  }

  get (taskId: string): NoBidEntry | undefined {
    return this.entries.get(taskId)
  }

  totals (): Record<NoBidReason, number> {
    const out = {} as Record<NoBidReason, number>
    for (const reason of NO_BID_REASONS) out[reason] = this.counts.get(reason) ?? 0
    return out
  }
}
