/**
 * `deposit-credit` (kind 16): a genesis validator reports a confirmed `Deposited` event of the settlement
 * contract; the ledger mints `amount` into `account`.
 *
 * Exactly once per deposit: the transaction acts for a *deposit account* derived from the deposit's identity
 * (EVM chain id, transaction hash, log index), with nonce 0 and fee 0. Every credit of one deposit, whoever signs
 * it, is in the conflict set (depositAccount, 0): consensus lets exactly one become final on every node, and once
 * it is final the account's nonce is 1, so any later credit of that deposit is refused at submission and rejected
 * on arrival, deterministically. Validity against the chain is each validator's own check (externalCheck: a node
 * does not prefer or vote for a vertex with a credit its chain view has not confirmed). See docs/protocol.md.
 */
import { ADDRESS_BYTES, formatAddress } from '../../core/address.ts'
import { Reader, toHex, Writer } from '../../core/codec.ts'
import { sha256 } from '../../core/crypto.ts'
import { DagError } from '../../dag/errors.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'

export const TX_KIND_DEPOSIT_CREDIT = 16
const DEPOSIT_ACCOUNT_TAG = new TextEncoder().encode('HARMONY/deposit-account/v1')

export interface DepositCreditPayload {
  /** EVM chain id of the settlement contract. */
  evmChainId: bigint
  /** 32-byte transaction hash of the deposit. */
  txHash: Uint8Array
  /** Index of the `Deposited` log in its block (as eth_getLogs reports it). */
  logIndex: number
  /** The DAG account credited (20 bytes). */
  account: Uint8Array
  /** Base units, > 0. */
  amount: bigint
}

/** The system account a deposit's credit acts for: sha256(tag ‖ u64 chainId ‖ txHash ‖ u32 logIndex)[0..20]. */
export function depositAccount (evmChainId: bigint, txHash: Uint8Array, logIndex: number): Uint8Array {
  return sha256(DEPOSIT_ACCOUNT_TAG, new Writer(44).u64(evmChainId).fixed(txHash, 32).u32(logIndex).finish()).slice(0, ADDRESS_BYTES)
}

export const depositCreditKind: TxKind<DepositCreditPayload> = {
  id: TX_KIND_DEPOSIT_CREDIT,
  name: 'deposit-credit',
  maxPayloadBytes: 8 + 32 + 4 + ADDRESS_BYTES + 16,
  encode (p) {
    return new Writer(80).u64(p.evmChainId).fixed(p.txHash, 32).u32(p.logIndex).fixed(p.account, ADDRESS_BYTES).u128(p.amount).finish()
  },
  decode (bytes) {
    const r = new Reader(bytes, 'deposit-credit payload')
    const evmChainId = r.u64()
    const txHash = r.fixed(32)
    const logIndex = r.u32()
    const account = r.fixed(ADDRESS_BYTES)
    const amount = r.u128()
    r.end()
    if (amount === 0n) r.fail('amount must be positive')
    if (evmChainId === 0n) r.fail('chain id must be positive')
    return { evmChainId, txHash, logIndex, account, amount }
  },
  effects (p) { return { debit: 0n, credits: [{ to: p.account, amount: p.amount }] } },
  toJSON (p) {
    return { evmChainId: p.evmChainId.toString(), depositTxHash: `0x${toHex(p.txHash)}`, logIndex: p.logIndex, to: formatAddress(p.account), amount: p.amount.toString() }
  },
  account (p) { return depositAccount(p.evmChainId, p.txHash, p.logIndex) },
  validate (_p, tx) {
    if (tx.nonce !== 0n) throw new DagError('ENCODING_INVALID', 'a deposit credit has nonce 0')
    if (tx.fee !== 0n) throw new DagError('ENCODING_INVALID', 'a deposit credit has fee 0')
  },
  validatorOnly: true,
  feeExempt: true,
  externalCheck: true
}
