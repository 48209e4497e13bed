/**
 * `deposit-credit` (kind 16): a genesis validator reports a confirmed `Deposited` event of the settlement
 * contract; the ledger mints `amount` into `account`.
 *
 * Exactly once per deposit: the transaction acts for a *deposit account* derived from the deposit's identity
 * (EVM chain id, transaction hash, log index), with nonce 0 and fee 0. Every credit of one deposit, whoever signs
 * it, is in the conflict set (depositAccount, 0): consensus lets exactly one become final on every node, and once
 * it is final the account's nonce is 1, so any later credit of that deposit is refused at submission and rejected
 * on arrival, deterministically. Validity against the chain is each validator's own check:
 *
 * - under Avalanche (externalCheck): a node does not prefer or vote for a vertex with a credit its chain view has
 *   not confirmed;
 * - under the commit rule, where no vertex can be held back (docs/consensus-next.md step 4), by a quorum of
 *   attestations (orderCheck): each validator whose chain view confirmed the deposit puts a `deposit-attest`
 *   (kind 19) of exactly this payload in the order, and a credit is valid when the order reaches it only if its
 *   signer and the validators whose attestation came before it hold the quorum of stake. An earlier credit is
 *   rejected `unattested` and leaves the deposit account's nonce unused, so a later credit can still take it. No
 *   one can mint what fewer than a quorum of validators saw on chain.
 *
 * See docs/protocol.md.
 */
import { ADDRESS_BYTES, addressBytesFromPublicKey, formatAddress } from '../../core/address.ts'
import { bytesEqual, Reader, toHex, Writer } from '../../core/codec.ts'
import { sha256 } from '../../core/crypto.ts'
import { DagError } from '../../dag/errors.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'

export const TX_KIND_DEPOSIT_CREDIT = 16
export const TX_KIND_DEPOSIT_ATTEST = 19
/** A credit's amount is a u128 (the chain's is a uint256; AGC's cap, 10^28 base units, fits). */
export const MAX_CREDIT_AMOUNT = (1n << 128n) - 1n
const DEPOSIT_ACCOUNT_TAG = new TextEncoder().encode('HARMONY/deposit-account/v1')
const ATTEST_ACCOUNT_TAG = new TextEncoder().encode('HARMONY/deposit-attest/v1')

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

/**
 * The system account of one validator's attestation of one deposit payload: sha256(tag ‖ validator address ‖
 * payload)[0..20]. Its nonce is 1 once the attestation is final: what a credit's order check reads.
 */
export function attestAccount (validator: Uint8Array, payload: DepositCreditPayload): Uint8Array {
  return sha256(ATTEST_ACCOUNT_TAG, validator, encodeDeposit(payload)).slice(0, ADDRESS_BYTES)
}

function encodeDeposit (p: DepositCreditPayload): Uint8Array {
  return new Writer(80).u64(p.evmChainId).fixed(p.txHash, 32).u32(p.logIndex).fixed(p.account, ADDRESS_BYTES).u128(p.amount).finish()
}

function decodeDeposit (bytes: Uint8Array, what: string): DepositCreditPayload {
  const r = new Reader(bytes, what)
  const evmChainId = r.u64()
  const txHash = r.fixed(32)
  const logIndex = r.u32()
  const account = r.fixed(ADDRESS_BYTES)
  const amount = r.u128()
  r.end()
  if (amount === 0n) r.fail('amount must be positive')
  if (evmChainId === 0n) r.fail('chain id must be positive')
  return { evmChainId, txHash, logIndex, account, amount }
}

function toJSON (p: DepositCreditPayload): Record<string, unknown> {
  return { evmChainId: p.evmChainId.toString(), depositTxHash: `0x${toHex(p.txHash)}`, logIndex: p.logIndex, to: formatAddress(p.account), amount: p.amount.toString() }
}

/**
 * What both deposit kinds share: the payload, its codec, and the rules of a system transaction acting for a derived
 * account (a genesis validator signs it, nonce 0, fee 0).
 */
function depositKindBase (name: string): Pick<TxKind<DepositCreditPayload>, 'name' | 'maxPayloadBytes' | 'encode' | 'decode' | 'toJSON' | 'validate' | 'validatorOnly' | 'feeExempt'> {
  return {
    name,
    maxPayloadBytes: 8 + 32 + 4 + ADDRESS_BYTES + 16,
    encode: encodeDeposit,
    decode: (bytes) => decodeDeposit(bytes, `${name} payload`),
    toJSON,
    validate (_p, tx) {
      if (tx.nonce !== 0n) throw new DagError('ENCODING_INVALID', `a ${name} has nonce 0`)
      if (tx.fee !== 0n) throw new DagError('ENCODING_INVALID', `a ${name} has fee 0`)
    },
    validatorOnly: true,
    feeExempt: true
  }
}

export const depositCreditKind: TxKind<DepositCreditPayload> = {
  ...depositKindBase('deposit-credit'),
  id: TX_KIND_DEPOSIT_CREDIT,
  effects (p) { return { debit: 0n, credits: [{ to: p.account, amount: p.amount }] } },
  account (p) { return depositAccount(p.evmChainId, p.txHash, p.logIndex) },
  externalCheck: true,
  /** The commit rule: the signer and the validators that attested this payload earlier in the order hold the quorum. */
  async orderCheck (p, ctx) {
    const signer = addressBytesFromPublicKey(ctx.signer)
    let stake = 0
    for (const v of ctx.validators) {
      if (bytesEqual(v.address, signer) || await ctx.nonceOf(attestAccount(v.address, p)) > 0n) stake += v.stake
      if (stake >= ctx.quorum) return undefined
    }
    return 'unattested'
  }
}

/**
 * `deposit-attest` (kind 19), the commit rule's half of a deposit: a validator says its chain view confirmed this
 * deposit, exactly as the payload states it. It moves no balance; it consumes nonce 0 of the account
 * `attestAccount(signer, payload)`, so each validator attests a payload once, and a credit's order check counts it.
 */
export const depositAttestKind: TxKind<DepositCreditPayload> = {
  ...depositKindBase('deposit-attest'),
  id: TX_KIND_DEPOSIT_ATTEST,
  effects () { return { debit: 0n, credits: [] } },
  account (p, signer) { return attestAccount(addressBytesFromPublicKey(signer.publicKey), p) }
}
