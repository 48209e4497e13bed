/**
 * The market's protocol constants (docs/market.md). Every node must use the same values: they decide awards,
 * settlements and slashes that every validator recomputes.
 */

/** Protocol fee: 1 % of each payout, to the validators' fee pool (taken out of the payout, never on top of it). */
export const MARKET_FEE_BPS = 100n
/** Least bond for a provider's bid to be valid (base units; 1 AGC = 10^18). */
export const MIN_BOND = 1_000_000_000_000_000n
/** A winner with no in-time result loses 10 % of its bond. */
export const SLASH_LATE_BPS = 1000n
/** A result that disagrees with the verified one loses half the bond. */
export const SLASH_FAULT_BPS = 5000n
/** Reputation: +1 per verified result, −4 per fault or late result. */
export const REPUTATION_VERIFIED = 1
export const REPUTATION_PENALTY = -4
/** Replacement rounds after the first award (each late winner is replaced by the next valid bid). */
export const MAX_REPLACEMENT_ROUNDS = 4
/**
 * Input claims (docs/market.md "Inputs no peer serves"). A claim with no verdict holds its provider's late slash
 * until the claim's time plus this; past it the usual late rule applies (a claim's judge has INPUT_JUDGE_WINDOW_MS,
 * and an appeal made after that window holds the slash for its own INPUT_VERDICT_WAIT_MS).
 */
export const INPUT_VERDICT_WAIT_MS = 60_000
/**
 * A claim's verdict counts only when stamped within this of the claim (its one judge fetches for at most 15 s by
 * default); past it with no verdict, the claimant may appeal (claim again, judged by the next validator in turn).
 */
export const INPUT_JUDGE_WINDOW_MS = 30_000
/**
 * Claims per provider and round: the first and its appeals. An appeal follows an `available` verdict whose inputs
 * the claimant still could not fetch (a judge that lied, or lost them), a judge that stayed silent past its window,
 * or an `unavailable` verdict not yet confirmed by a second judge (INPUT_UNAVAILABLE_JUDGES); each claim is judged by
 * another validator, so up to MAX_INPUT_CLAIMS - 1 lying or silent judges in a row are covered.
 */
export const MAX_INPUT_CLAIMS = 3
/**
 * How many distinct judges must find a claimant's inputs `unavailable` before it is excused (s48): one lying judge
 * alone cannot excuse a claimant, as one lying judge alone cannot make it late (its appeal). One where a single
 * validator may judge the claimant. Until the second verdict, the first holds the late slash as a claim with no
 * verdict does (INPUT_VERDICT_WAIT_MS), and the claimant appeals for it.
 */
export const INPUT_UNAVAILABLE_JUDGES = 2
/**
 * After an `available` verdict the claimant's deadline becomes the verdict's time plus the task's own execution
 * deadline, at most this much (the latest such verdict of its claims counts).
 */
export const INPUT_EXTENSION_MAX_MS = 600_000
