/**
 * The market's transaction kind ids (32..47, docs/market.md "Kinds"; an id is never reused), the bounded
 * enumerations their payloads carry, and the announce's bounds (what the CLI checks its flags against without
 * loading the kinds). Each enumeration is encoded as its index (u8): append, never reorder.
 */
export const TX_KIND_PROVIDER_REGISTER = 32
export const TX_KIND_PROVIDER_ATTEST = 33
export const TX_KIND_TASK_ANNOUNCE = 34
export const TX_KIND_BID_COMMIT = 35
export const TX_KIND_BID_REVEAL = 36
export const TX_KIND_TASK_AWARD = 37
export const TX_KIND_TASK_RESULT = 38
export const TX_KIND_TASK_SETTLE = 39
export const TX_KIND_BOND_SLASH = 40
export const TX_KIND_TASK_CANCEL = 41
export const TX_KIND_TASK_REEXEC = 42
export const TX_KIND_BID_COMMITS = 43
export const TX_KIND_BID_REVEALS = 44
export const TX_KIND_INPUT_CLAIM = 45
export const TX_KIND_INPUT_VERDICT = 46

/** Every market kind id, in order. */
export const MARKET_KIND_IDS: readonly number[] = [32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46]

/** Executor a provider runs (capability) or a task requires (`any` only in requirements). */
export const EXECUTOR_KINDS = ['cpu', 'webgpu'] as const
export type ExecutorKindName = (typeof EXECUTOR_KINDS)[number]
export const REQUIRED_EXECUTORS = ['any', 'cpu', 'webgpu'] as const
export type RequiredExecutor = (typeof REQUIRED_EXECUTORS)[number]

/** Providers that each run a task: 5 at most. */
export const MAX_REDUNDANCY = 5
/** Bid and reveal windows: 10 minutes at most (a sealed-bid auction is seconds, Akash's 5-minute timeout is the outer bound). */
export const MAX_WINDOW_MS = 600_000
/** Execution deadline: one day at most. */
export const MAX_DEADLINE_MS = 86_400_000
/** Budgets are below this (exclusive): a budget per replica is at most 2^120-1, so budget × replicas never overflows u128. */
export const BUDGET_LIMIT = 1n << 120n

export const VERIFICATION_MODES = ['none', 'redundancy', 'spot-check'] as const
export type VerificationMode = (typeof VERIFICATION_MODES)[number]

/** How a task's escrow left (task-settle). */
export const SETTLE_OUTCOMES = [
  /** verified result(s) paid, the rest refunded */
  'paid',
  /** a dispute re-execution decided who is paid */
  'disputed',
  /** no valid bid, or no replacement left: everything refunded */
  'expired',
  /** cancelled by the requester before an award */
  'cancelled',
  /** no verifiable result (all faulty or late): refunded */
  'failed',
  /**
   * a private task whose results disagree: no validator can read its inputs to re-execute it, so nobody can tell
   * who is right; everything refunded, nobody paid, nobody slashed (docs/market.md "Private tasks")
   */
  'unresolved',
  /**
   * an assigned provider claimed it could not fetch the task's inputs and the validator in turn could not either
   * (input-claim, input-verdict `unavailable`): everything refunded, nobody paid, nobody slashed (docs/market.md
   * "Inputs no peer serves")
   */
  'inputs-unavailable'
] as const
export type SettleOutcome = (typeof SETTLE_OUTCOMES)[number]

/** A validator's verdict on an input claim (input-verdict): whether it fetched every input the claim names. */
export const INPUT_VERDICTS = ['available', 'unavailable'] as const
export type InputVerdict = (typeof INPUT_VERDICTS)[number]

/** Why a bond was slashed (bond-slash). */
export const SLASH_REASONS = ['late', 'fault'] as const
export type SlashReason = (typeof SLASH_REASONS)[number]

/** Why a bid lost (docs/market.md "Award rule"); shown by `market_bids`. */
export const LOSS_REASONS = ['price', 'tie-reputation', 'tie-hash', 'capability', 'late', 'reveal-mismatch', 'over-budget', 'no-bond', 'unrevealed', 'excluded', 'slashed'] as const
export type LossReason = (typeof LOSS_REASONS)[number]
