/** Signed transactions of the chain bridge kinds. */
import { MAX_TX_AMOUNT, requireAddressBytes, requireTxField, signTx, type Transaction, TX_VERSION } from '../../dag/tx.ts'
import { type DepositCreditPayload, depositCreditKind, TX_KIND_DEPOSIT_ATTEST, TX_KIND_DEPOSIT_CREDIT } from './deposit-credit.ts'
import { epochCloseKind, TX_KIND_EPOCH_CLOSE } from './epoch-close.ts'
import { TX_KIND_WITHDRAW, withdrawKind } from './withdraw.ts'

export interface SignerKeys { publicKey: Uint8Array, secretKey: Uint8Array }

/** A validator's credit of a confirmed deposit (nonce 0, fee 0: it acts for the deposit's own account). */
export function buildDepositCredit (chainId: string, signer: SignerKeys, deposit: DepositCreditPayload): Transaction {
  return buildDepositTx(chainId, signer, deposit, TX_KIND_DEPOSIT_CREDIT)
}

/** A validator's attestation of a deposit its chain view confirmed (the commit rule; nonce 0, fee 0). */
export function buildDepositAttest (chainId: string, signer: SignerKeys, deposit: DepositCreditPayload): Transaction {
  return buildDepositTx(chainId, signer, deposit, TX_KIND_DEPOSIT_ATTEST)
}

function buildDepositTx (chainId: string, signer: SignerKeys, deposit: DepositCreditPayload, kind: number): Transaction {
  const payload = depositCreditKind.encode(deposit)
  depositCreditKind.decode(payload)
  return signTx(chainId, { version: TX_VERSION, kind, publicKey: signer.publicKey, nonce: 0n, fee: 0n, payload }, signer.secretKey)
}

export interface WithdrawInit {
  chainId: string
  publicKey: Uint8Array
  secretKey: Uint8Array
  evmAddress: Uint8Array
  amount: bigint
  nonce: bigint
  fee: bigint
}

/**
 * An account's burn for a withdrawal to `evmAddress` on the EVM chain. An amount, nonce, fee or address out of range
 * is refused with a DagError naming it (AMOUNT_INVALID, ENCODING_INVALID, ADDRESS_INVALID).
 */
export function buildWithdraw (init: WithdrawInit): Transaction {
  requireTxField('amount', init.amount, 1n, MAX_TX_AMOUNT, 'AMOUNT_INVALID')
  requireAddressBytes('evmAddress', init.evmAddress)
  const payload = withdrawKind.encode({ evmAddress: init.evmAddress, amount: init.amount })
  withdrawKind.decode(payload)
  return signTx(init.chainId, { version: TX_VERSION, kind: TX_KIND_WITHDRAW, publicKey: init.publicKey, nonce: init.nonce, fee: init.fee, payload }, init.secretKey)
}

/**
 * A validator's close of withdrawal epoch `epoch` (nonce epoch-1 of the epoch account, fee 0), sweeping `fees`
 * base units out of the fee pool (at most the pool's balance in the close's causal past, or the close is rejected).
 */
export function buildEpochClose (chainId: string, signer: SignerKeys, epoch: bigint, withdrawals: Uint8Array[], fees = 0n): Transaction {
  const payload = epochCloseKind.encode({ epoch, withdrawals, fees })
  epochCloseKind.decode(payload)
  return signTx(chainId, { version: TX_VERSION, kind: TX_KIND_EPOCH_CLOSE, publicKey: signer.publicKey, nonce: epoch - 1n, fee: 0n, payload }, signer.secretKey)
}
