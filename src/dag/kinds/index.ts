/**
 * Transaction kinds of the chain bridge, registered on import (src/dag/tx.ts imports this module, so every node
 * that decodes transactions knows them). Ids 16..31 belong to the chain bridge.
 */
import { registerTxKind } from '../tx-kinds.ts'
import { depositCreditKind } from './deposit-credit.ts'
import { epochCloseKind } from './epoch-close.ts'
import { withdrawKind } from './withdraw.ts'

registerTxKind(depositCreditKind)
registerTxKind(withdrawKind)
registerTxKind(epochCloseKind)

export { type DepositCreditPayload, depositAccount, depositCreditKind, TX_KIND_DEPOSIT_CREDIT } from './deposit-credit.ts'
export { EPOCH_ACCOUNT, type EpochClosePayload, epochCloseKind, MAX_WITHDRAWALS_PER_EPOCH, TX_KIND_EPOCH_CLOSE } from './epoch-close.ts'
export { EVM_ADDRESS_BYTES, TX_KIND_WITHDRAW, type WithdrawPayload, withdrawKind } from './withdraw.ts'
