import { HarmonyError } from '../core/errors.ts'

export type ChainErrorCode =
  | 'ANVIL_START_FAILED'
  | 'ARTIFACT_INVALID'
  | 'CONTRACTS_FILE_INVALID'
  | 'CHAIN_UNREACHABLE'
  | 'CHAIN_ANSWER_INVALID'
  | 'CHAIN_ID_MISMATCH'
  | 'TX_REVERTED'
  | 'TX_STUCK'
  | 'TX_FAILED'
  | 'DEPLOY_FAILED'
  | 'CHECKPOINT_INVALID'
  | 'CHECKPOINT_MESSAGE_INVALID'
  | 'WITHDRAWAL_INVALID'
  | 'DEPOSIT_INVALID'
  | 'EVM_KEY_INVALID'
  | 'GENESIS_LOCK_MISMATCH'

/** Everything the chain side refuses or fails at, with a bounded code. */
export class ChainError extends HarmonyError<ChainErrorCode> {
  constructor (code: ChainErrorCode, message: string, meta: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(code, message, meta, options)
    this.name = 'ChainError'
  }
}
