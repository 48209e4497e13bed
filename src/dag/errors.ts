import { HarmonyError } from '../node/errors.ts'

/** Every way the ledger refuses input or fails. Bounded: these become metric labels and RPC error mappings. */
export type DagErrorCode =
  | 'ENCODING_INVALID'
  | 'KIND_UNKNOWN'
  | 'TOO_LARGE'
  | 'PARENTS_INVALID'
  | 'PARENT_MISSING'
  | 'TIMESTAMP_FUTURE'
  | 'AUTHOR_UNKNOWN'
  | 'SIGNATURE_INVALID'
  | 'NONCE_TOO_LOW'
  | 'NONCE_GAP'
  | 'NONCE_UNCHAINED'
  | 'TX_CONFLICT'
  | 'TX_KNOWN'
  | 'INSUFFICIENT_BALANCE'
  | 'FEE_TOO_LOW'
  | 'AMOUNT_INVALID'
  | 'ADDRESS_INVALID'
  | 'MEMPOOL_FULL'
  | 'QUEUE_FULL'
  | 'GENESIS_INVALID'
  | 'KEY_FILE_INVALID'
  | 'NOT_RUNNING'
  | 'NOT_VALIDATOR'
  | 'PROTOCOL_ERROR'

export class DagError extends HarmonyError<DagErrorCode> {
  constructor (code: DagErrorCode, message: string, meta: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(code, message, meta, options)
    this.name = 'DagError'
  }
}
