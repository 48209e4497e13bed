/**
 * `MarketReader`: what the market's neighbours (the API, the provider agent, the requester flow, the coordinator)
 * read of the market state. Every view is derived from final DAG transactions only, so it is the same on every
 * node that holds the same final transactions. Ids are lowercase hex without 0x; accounts are `hmy1…` addresses;
 * amounts are base units (bigint); times are the market's time (the holding vertex's timestamp, ms).
 */
import type { Capability, LossReason, RequiredExecutor, SettleOutcome, SlashReason, VerificationMode } from '../kinds/index.ts'
import type { KernelName } from '../../compute/types.ts'
import type { EventEmitter } from 'node:events'

/**
 * A task's phase. `bidding` until the bid window closes, `revealing` until the reveal window closes, then
 * `awarded` once an award is final (`executing` from the first result on), `verifying` once every winner (and the
 * checker) answered or the deadline passed, and a terminal phase once settled: `settled` (paid), `refunded` (no
 * verifiable result), `expired` (no valid bid), `cancelled`.
 */
export const TASK_PHASES = ['bidding', 'revealing', 'awarded', 'executing', 'verifying', 'settled', 'refunded', 'expired', 'cancelled'] as const
export type TaskPhase = (typeof TASK_PHASES)[number]
export const TERMINAL_PHASES: ReadonlySet<TaskPhase> = new Set(['settled', 'refunded', 'expired', 'cancelled'])

/**
 * A bid's status: `committed` (not revealed yet), `revealed` (valid, not yet decided), `won`, `lost` (with its
 * `lossReason`), `invalid` (refused by the award rule: late, mismatch, over budget, no bond, capability), and
 * `excluded`: an in-time valid reveal that a final award did not list (the provider proves it with its two
 * transactions).
 */
export type BidStatus = 'committed' | 'revealed' | 'won' | 'lost' | 'invalid' | 'excluded'

export interface BidView {
  taskId: string
  provider: string
  commitTx: string
  commitTimeMs: number
  revealTx?: string
  revealTimeMs?: number
  price?: bigint
  /** A private task's bid: the provider's ML-KEM-768 key for the task (hex), which its inputs are sealed to. */
  taskKey?: string
  status: BidStatus
  lossReason?: LossReason
  /** The award round it won (status `won`). */
  round?: number
  /** Its rank in the award rule's order among the valid reveals (0 = best). */
  rank?: number
}

export interface AwardView {
  txId: string
  round: number
  timeMs: number
  /** Results of this round are in time until then. */
  deadlineMs: number
  winners: string[]
  checker?: string
  considered: string[]
}

/** A result's standing: `unresolved` when its task settled `unresolved` (nobody can tell which result is right). */
export type ResultVerdict = 'pending' | 'agrees' | 'fault' | 'late' | 'unresolved'

export interface ResultView {
  txId: string
  provider: string
  round: number
  timeMs: number
  commitment: string
  outputBlob: string
  outputBytes: number
  profile: string
  verdict: ResultVerdict
}

export interface PaymentView {
  taskId: string
  /** `payout` to a provider, `refund`/`slash` to the requester, `fee` to the fee pool. */
  kind: 'payout' | 'refund' | 'fee' | 'slash'
  to: string
  amount: bigint
  txId: string
  timeMs: number
}

export interface SettlementView {
  txId: string
  timeMs: number
  outcome: SettleOutcome
  payouts: Array<{ provider: string, amount: bigint }>
  fee: bigint
  refund: bigint
}

export interface SlashView {
  txId: string
  provider: string
  reason: SlashReason
  amount: bigint
  timeMs: number
}

/**
 * An assigned provider's claim that it could not fetch the task's inputs, the validators' verdict, and what it did
 * to the provider's deadline: `dueAtMs` (its result is due then: the award's deadline, or later after an `available`
 * verdict), `holdsSlashUntilMs` while no verdict came (the late slash waits until then at most).
 */
export interface InputClaimView {
  txId: string
  provider: string
  round: number
  /** 0 for the provider's first claim of the round, 1.. for its appeals. */
  attempt: number
  timeMs: number
  /** The claim revealed the claimant's task key (a private task whose envelopes did not open): the judge opens them. */
  keyRevealed: boolean
  verdict?: { outcome: 'available' | 'unavailable', validator: string, txId: string, timeMs: number }
  dueAtMs: number
  /**
   * Until when the claim holds the claimant's late slash: while it has no verdict, or after an `unavailable` verdict
   * that does not yet excuse it (the claimant appeals for a second judge); absent otherwise.
   */
  holdsSlashUntilMs?: number
  /** The claimant's assignment of this round is excused: enough distinct judges found the inputs `unavailable`. */
  excused: boolean
}

export interface TaskView {
  taskId: string
  requester: string
  announceTx: string
  announcedAtMs: number
  phase: TaskPhase
  spec: { kernel: KernelName, params: unknown, wgslBlob?: string }
  inputs: string[]
  outputLimitBytes: number
  budget: bigint
  redundancy: number
  k: number
  verification: VerificationMode
  bidWindowMs: number
  revealWindowMs: number
  executionDeadlineMs: number
  requirements: { executor: RequiredExecutor, minGflopsMilli: number, minMemoryMiB: number, attested: boolean }
  private: boolean
  /** hex of the requester's ML-KEM-768 key (private tasks). */
  requesterKemKey?: string
  reannounce: boolean
  /** Locked at the announce (budget × replicas). */
  escrow: bigint
  /** Bid commits are in time until then; reveals until `revealsCloseAtMs`. */
  bidsCloseAtMs: number
  revealsCloseAtMs: number
  /** The last final award round (undefined before the first). */
  round?: number
  awards: AwardView[]
  /** Current winners (of the last award round and the earlier rounds still standing) and the spot-checker. */
  winners: string[]
  checker?: string
  results: ResultView[]
  slashes: SlashView[]
  /** Input claims of assigned providers and their verdicts (docs/market.md "Inputs no peer serves"). */
  inputClaims: InputClaimView[]
  settlement?: SettlementView
  cancelRequested: boolean
  /** Count of bid commits (the full list is `bids()`). */
  bidCount: number
}

export interface ProviderView {
  address: string
  /** Bond held now (registered minus slashed). */
  bond: bigint
  /** hex of the ML-KEM-768 public key results and private inputs are sealed to. */
  kemPublicKey: string
  capability: Capability
  registeredAtMs: number
  attestation?: { challengeId: string, measuredGflopsMilli: number, passed: boolean, timeMs: number, txId: string }
  /** Derived from the DAG: verified results (+1), faults and lates (−4). */
  reputation: number
  verified: number
  faults: number
  lates: number
  /** Paid out so far. */
  received: bigint
  /** Won and not settled yet: what the open awards would pay at the bid price (stuck payments show here). */
  owed: bigint
  /** Tasks won and not yet settled. */
  openTasks: string[]
}

export interface TaskFilter {
  phase?: TaskPhase
  requester?: string
  provider?: string
  /** @default 100 */
  limit?: number
}

export interface MarketReaderEvents {
  /** A final market transaction changed a task (its view after the change). */
  'task:changed': [TaskView]
  /** A provider registered, was attested, slashed or paid. */
  'provider:changed': [ProviderView]
}

/** The market state's read side. */
export interface MarketReader extends Pick<EventEmitter<MarketReaderEvents>, 'on' | 'off'> {
  task: (taskId: string) => Promise<TaskView | undefined>
  /** Newest first; by requester or provider from an index, else the open tasks then the recent settled ones. */
  tasks: (filter?: TaskFilter) => Promise<TaskView[]>
  /** Every bid of a task with its status and why it lost. */
  bids: (taskId: string) => Promise<BidView[]>
  provider: (address: string) => Promise<ProviderView | undefined>
  providers: (limit?: number) => Promise<ProviderView[]>
  /** Payments to and from an account (payouts, refunds, slashes received), newest first. */
  payments: (address: string, limit?: number) => Promise<PaymentView[]>
}
