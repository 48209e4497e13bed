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
 * until the claim's time plus this; past it the usual late rule applies (the validators had their turns: at the
 * default 10 s per rank and a 15 s fetch, four validators' turns end within 45 s of the claim).
 */
export const INPUT_VERDICT_WAIT_MS = 60_000
/**
 * After an `available` verdict the claimant's deadline becomes the verdict's time plus the task's own execution
 * deadline, at most this much (once: one claim per provider and round).
 */
export const INPUT_EXTENSION_MAX_MS = 600_000
