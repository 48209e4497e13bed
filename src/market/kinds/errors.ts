import { HarmonyError } from '../../core/errors.ts'

/**
 * Every way the market refuses input (bounded: metric labels, gossip reject codes and RPC error mappings).
 * Decoding failures of a payload are the ledger's ENCODING_INVALID (CodecError); these are the market's own rules,
 * judged against the market state.
 */
export const MARKET_ERROR_CODES = [
  /** an announce whose fields break the rules (r, k, windows, spec) */
  'TASK_MALFORMED',
  /** the requester's balance does not cover budget × replicas + fee */
  'TASK_UNDERFUNDED',
  'TASK_UNKNOWN',
  /** the task is past the phase the transaction needs (settled, cancelled, awarded) */
  'TASK_CLOSED',
  /** a bid-commit after the bid window, a reveal after the reveal window, a result after the deadline */
  'BID_LATE',
  'BID_DUPLICATE',
  /** a reveal with no commit of the same provider */
  'BID_UNKNOWN',
  'REVEAL_MISMATCH',
  /** a private task's reveal without the provider's task key, or a public task's with one (s44) */
  'REVEAL_KEY_INVALID',
  /** a result from a provider that holds no award of the task's round */
  'RESULT_NOT_AWARDED',
  'RESULT_DUPLICATE',
  'PROVIDER_UNKNOWN',
  'NOT_REQUESTER',
  /** a validator transaction (award, settle, slash) that this node's market state disagrees with */
  'DECISION_INVALID',
  /** an input-claim from a provider that holds no award of that task and round (winner or spot-checker) */
  'CLAIM_NOT_AWARDED',
  /** an input-claim stamped after its assignment's deadline, or after the provider's own result */
  'CLAIM_LATE',
  /** an input-claim of one provider and round that is applied already, one whose earlier claim never applied, or an appeal after `unavailable` */
  'CLAIM_DUPLICATE',
  /**
   * no longer issued (s42): a claim on a private task is checked on the envelopes sealed to its claimant
   * (docs/market.md "Inputs no peer serves"); kept so that a client that knows the code still reads it
   */
  'CLAIM_PRIVATE',
  /** an input-claim whose key seed does not give the task key its bid revealed, or a public task's claim with a seed (s44) */
  'CLAIM_KEY_INVALID',
  /** an input-verdict that answers no input-claim (no such claim applied, or its provider holds no award of the round) */
  'VERDICT_NO_CLAIM',
  /** an input-verdict from a validator that is not the claim's judge (rules/input-judge.ts) */
  'VERDICT_NOT_JUDGE',
  /** an input-verdict stamped past its claim's judge window (INPUT_JUDGE_WINDOW_MS) */
  'VERDICT_LATE',
  'BLOB_TOO_LARGE',
  'STORAGE_FAILED'
] as const

export type MarketErrorCode = (typeof MARKET_ERROR_CODES)[number]

export function isMarketErrorCode (code: unknown): code is MarketErrorCode {
  return typeof code === 'string' && (MARKET_ERROR_CODES as readonly string[]).includes(code)
}

export class MarketError extends HarmonyError<MarketErrorCode> {
  constructor (code: MarketErrorCode, message: string, meta: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(code, message, meta, options)
    this.name = 'MarketError'
  }
}
