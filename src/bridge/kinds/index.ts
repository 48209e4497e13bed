/**
 * Transaction kinds of the chain bridge (ids 16..31). Every node must decode them in vertices, with or without an
 * EVM chain, so the node registers them at composition with `registerBridgeKinds()`.
 */
import { getTxKind, registerTxKind, type TxKind } from '../../dag/tx-kinds.ts'
import { depositAttestKind, depositCreditKind } from './deposit-credit.ts'
import { epochCloseKind } from './epoch-close.ts'
import { withdrawKind } from './withdraw.ts'

/** The bridge's kinds, in id order. */
export const BRIDGE_KINDS: ReadonlyArray<TxKind<never>> = [depositCreditKind, withdrawKind, epochCloseKind, depositAttestKind] as unknown as ReadonlyArray<TxKind<never>>

/** Registers the bridge's kinds into the DAG's kind registry; calling it again is a no-op. */
export function registerBridgeKinds (): void {
  for (const kind of BRIDGE_KINDS) {
    if (getTxKind(kind.id) === (kind as unknown as TxKind)) continue
    registerTxKind(kind)
  }
}

export { buildDepositAttest, buildDepositCredit, buildEpochClose, buildWithdraw, type SignerKeys, type WithdrawInit } from './builders.ts'
export { attestAccount, type DepositCreditPayload, depositAccount, depositAttestKind, depositCreditKind, MAX_CREDIT_AMOUNT, TX_KIND_DEPOSIT_ATTEST, TX_KIND_DEPOSIT_CREDIT } from './deposit-credit.ts'
export { EPOCH_ACCOUNT, type EpochClosePayload, epochCloseKind, MAX_WITHDRAWALS_PER_EPOCH, TX_KIND_EPOCH_CLOSE } from './epoch-close.ts'
export { EVM_ADDRESS_BYTES, TX_KIND_WITHDRAW, type WithdrawPayload, withdrawKind } from './withdraw.ts'
