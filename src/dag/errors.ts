import { HarmonyError } from '../core/errors.ts'

/** Every way the ledger refuses input or fails. Bounded: these become metric labels and RPC error mappings. */
export const DAG_ERROR_CODES = [
  'ENCODING_INVALID',
  'KIND_UNKNOWN',
  'TOO_LARGE',
  'PARENTS_INVALID',
  'PARENT_MISSING',
  'TIMESTAMP_FUTURE',
  'AUTHOR_UNKNOWN',
  'SIGNATURE_INVALID',
  'NONCE_TOO_LOW',
  'NONCE_GAP',
  'NONCE_UNCHAINED',
  'TX_CONFLICT',
  'TX_KNOWN',
  'INSUFFICIENT_BALANCE',
  'FEE_TOO_LOW',
  'AMOUNT_INVALID',
  'ADDRESS_INVALID',
  'MEMPOOL_FULL',
  'QUEUE_FULL',
  'GENESIS_INVALID',
  'KEY_FILE_INVALID',
  'NOT_RUNNING',
  'NOT_VALIDATOR',
  'PROTOCOL_ERROR',
  'VERIFY_TIMEOUT',
  'VERIFIER_FAILED',
  'STORAGE_FAILED',
  'TIMESTAMP_BEFORE_PARENT',
  // past capacity (admission control): retryable, with meta.retryAfterMs
  'BUSY',
  // state sync: ancestry below the checkpoint cut a synced ledger started from is not known here
  'SYNC_BASE_TOO_SHALLOW',
  // state sync: a peer's checkpoint cut does not match the checkpoint anchored on chain, or none could be had
  'SYNC_FAILED',
  // catch-up: the ancestors this node lacks were pruned by its peers (below an anchored checkpoint); only a state
  // sync from the checkpoint (`harmonyd start --state-sync --resync`) can bring it back
  'HISTORY_PRUNED',
  // a transaction kind this network's consensus rule does not carry (consensus.rule commit: the kinds that need an
  // outside check, until validity is decided from the order; docs/consensus-next.md step 4)
  'KIND_UNSUPPORTED',
  // a part's rule refuses the transaction on this node's state wherever the node would apply it (meta.rule: the
  // part's code, e.g. the market's BID_LATE); its nonce stays unused (TxAdmission state checks)
  'TX_REFUSED'
] as const

export type DagErrorCode = (typeof DAG_ERROR_CODES)[number]

export function isDagErrorCode (code: unknown): code is DagErrorCode {
  return typeof code === 'string' && (DAG_ERROR_CODES as readonly string[]).includes(code)
}

/**
 * True for any error the ledger treats as its own refusal: a DagError, or a ground-floor error that carries a
 * ledger code (CodecError's ENCODING_INVALID, AddressError's ADDRESS_INVALID, KeyFileError's KEY_FILE_INVALID).
 * Gossip verdicts and the RPC error table map by code, so test with this, not `instanceof DagError`.
 */
export function isDagError (err: unknown): err is HarmonyError<DagErrorCode> {
  return err instanceof HarmonyError && isDagErrorCode(err.code)
}

export class DagError extends HarmonyError<DagErrorCode> {
  constructor (code: DagErrorCode, message: string, meta: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(code, message, meta, options)
    this.name = 'DagError'
  }
}
