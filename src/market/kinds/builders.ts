/**
 * Signed market transactions, built where the key lives (a requester's wallet, a provider agent, a validator):
 * the secret key never travels to a node. Each builder checks its numeric inputs (a DagError naming the field and
 * its range: AMOUNT_INVALID for amounts, ENCODING_INVALID for the others; signTx checks the nonce and fee), encodes,
 * decodes again (so a builder never signs what the ledger would refuse to decode) and signs. A byte field of the wrong
 * length is an ENCODING_INVALID DagError naming the field where the builder checks it (a bid's task id and salt, every
 * field of the validator-signed kinds), else naming the kind; so is a payload the kind's rules refuse.
 */
import { ADDRESS_BYTES, addressBytesFromPublicKey } from '../../core/address.ts'
import { errorMessage } from '../../core/errors.ts'
import { DagError } from '../../dag/errors.ts'
import { MAX_TX_AMOUNT, requireTxField, signTx, type Transaction, TX_VERSION } from '../../dag/tx.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'
import { taskIdOf } from '../accounts.ts'
import { MAX_INPUT_CLAIMS } from '../rules/constants.ts'
import { bidCommitment, bidCommitKind, bidCommitsKind, type BidRevealPayload, bidRevealKind, bidRevealsKind } from './bid.ts'
import { MAX_AWARD_ROUNDS, MAX_CONSIDERED_REVEALS, MAX_PAYOUTS, type TaskAwardPayload, taskAwardKind, type TaskResultPayload, taskResultKind, type TaskSettlePayload, taskSettleKind } from './decision.ts'
import { type BondSlashPayload, bondSlashKind, type ProviderAttestPayload, providerAttestKind, type ProviderRegisterPayload, providerRegisterKind, ML_KEM768_PUBLIC_KEY_BYTES, TASK_ID_BYTES } from './provider.ts'
import { type TaskAnnouncePayload, taskAnnounceKind, taskCancelKind } from './task.ts'
import { BUDGET_LIMIT, MAX_DEADLINE_MS, MAX_REDUNDANCY, MAX_WINDOW_MS } from './ids.ts'
import { type TaskReexecPayload, taskReexecKind } from './reexec.ts'
import { type InputClaimPayload, inputClaimKind, type InputVerdictPayload, inputVerdictKind } from './inputs.ts'
import { KEM_SEED_BYTES } from '../blobs/seal.ts'

// the payloads' u32 fields (byte counts, GFLOP/s × 1000, MiB), bounded by nothing else
const U32_MAX = 0xffff_ffff

/** A fixed-length byte field checked before the encoder, whose RangeError names neither the field nor the kind. */
function requireBytes (field: string, bytes: Uint8Array, length: number): void {
  const got = bytes instanceof Uint8Array ? bytes.length : typeof bytes
  if (got !== length) throw new DagError('ENCODING_INVALID', `${field} must be ${length} bytes, got ${got}`, { field })
}

/** A list field of at most `max` entries (the kind's decoder refuses more). */
function requireListLength (field: string, list: readonly unknown[], max: number): void {
  const got = Array.isArray(list) ? list.length : typeof list
  if (typeof got !== 'number' || got > max) throw new DagError('ENCODING_INVALID', `${field} must be a list of at most ${max} entries, got ${got}`, { field })
}

/** A list field of at most `max` entries of `length` bytes each. */
function requireByteList (field: string, list: readonly Uint8Array[], max: number, length: number): void {
  requireListLength(field, list, max)
  list.forEach((bytes, i) => { requireBytes(`${field}[${i}]`, bytes, length) })
}

/**
 * A commit's task id and salt are 32 bytes each. Both go into its commitment's hash before anything is encoded, so
 * the encoder's check comes too late: a salt of another length would only be refused at the reveal.
 */
function requireBid32 (prefix: string, taskId: Uint8Array, salt: Uint8Array): void {
  requireBytes(`${prefix}taskId`, taskId, 32)
  requireBytes(`${prefix}salt`, salt, 32)
}

export interface SignerKeys { publicKey: Uint8Array, secretKey: Uint8Array }

/** Who signs, on which chain, with which nonce and fee (an account's next nonce; fee ≥ the genesis minimum). */
export interface SignedBy {
  chainId: string
  keys: SignerKeys
  nonce: bigint
  fee: bigint
}

function build<P> (kind: TxKind<P>, by: SignedBy, payload: P): Transaction {
  let bytes: Uint8Array
  try {
    bytes = kind.encode(payload)
    kind.decode(bytes)
  } catch (err) {
    // a byte field of the wrong length (the encoder's RangeError) or a payload the kind's rules refuse (CodecError)
    if (err instanceof DagError) throw err
    throw new DagError('ENCODING_INVALID', `${kind.name}: ${errorMessage(err)}`)
  }
  return signTx(by.chainId, { version: TX_VERSION, kind: kind.id, publicKey: by.keys.publicKey, nonce: by.nonce, fee: by.fee, payload: bytes }, by.keys.secretKey)
}

export function buildProviderRegister (by: SignedBy, payload: ProviderRegisterPayload): Transaction {
  requireTxField('bond', payload.bond, 0n, MAX_TX_AMOUNT, 'AMOUNT_INVALID')
  requireTxField('capability.memoryMiB', payload.capability.memoryMiB, 0, U32_MAX)
  requireTxField('capability.gflopsMilli', payload.capability.gflopsMilli, 0, U32_MAX)
  return build(providerRegisterKind, by, payload)
}

/** The announce's numbers within the task-announce kind's rules (task.ts decode, which stays the authority). */
function checkAnnounceNumbers (p: TaskAnnouncePayload): void {
  requireTxField('budget', p.budget, 1n, BUDGET_LIMIT - 1n, 'AMOUNT_INVALID')
  requireTxField('redundancy', p.redundancy, 1, MAX_REDUNDANCY)
  requireTxField('k', p.k, 1, p.redundancy)
  requireTxField('outputLimitBytes', p.outputLimitBytes, 1, U32_MAX)
  requireTxField('bidWindowMs', p.bidWindowMs, 1, MAX_WINDOW_MS)
  requireTxField('revealWindowMs', p.revealWindowMs, 1, MAX_WINDOW_MS)
  requireTxField('executionDeadlineMs', p.executionDeadlineMs, 1, MAX_DEADLINE_MS)
  requireTxField('requirements.minGflopsMilli', p.requirements.minGflopsMilli, 0, U32_MAX)
  requireTxField('requirements.minMemoryMiB', p.requirements.minMemoryMiB, 0, U32_MAX)
}

/** The announce and the id of the task it creates (from the signer's account and the nonce). */
export function buildTaskAnnounce (by: SignedBy, payload: TaskAnnouncePayload): { tx: Transaction, taskId: Uint8Array } {
  checkAnnounceNumbers(payload)
  return { tx: build(taskAnnounceKind, by, payload), taskId: taskIdOf(addressBytesFromPublicKey(by.keys.publicKey), by.nonce) }
}

export function buildTaskCancel (by: SignedBy, taskId: Uint8Array): Transaction {
  return build(taskCancelKind, by, { taskId })
}

/** A sealed bid: keep `price` and `salt` to reveal it (the salt must be 32 random bytes). */
export function buildBidCommit (by: SignedBy, taskId: Uint8Array, price: bigint, salt: Uint8Array): Transaction {
  requireTxField('price', price, 0n, MAX_TX_AMOUNT, 'AMOUNT_INVALID')
  requireBid32('', taskId, salt)
  const provider = addressBytesFromPublicKey(by.keys.publicKey)
  return build(bidCommitKind, by, { taskId, commitment: bidCommitment(taskId, provider, price, salt) })
}

export function buildBidReveal (by: SignedBy, payload: BidRevealPayload): Transaction {
  requireTxField('price', payload.price, 1n, MAX_TX_AMOUNT, 'AMOUNT_INVALID')
  if (payload.taskKey !== undefined) requireBytes('taskKey', payload.taskKey, ML_KEM768_PUBLIC_KEY_BYTES)
  return build(bidRevealKind, by, payload)
}

/** Sealed bids for several tasks in one transaction (distinct tasks, 1..MAX_BID_BATCH). */
export function buildBidCommits (by: SignedBy, bids: ReadonlyArray<{ taskId: Uint8Array, price: bigint, salt: Uint8Array }>): Transaction {
  bids.forEach((b, i) => {
    requireTxField(`bids[${i}].price`, b.price, 0n, MAX_TX_AMOUNT, 'AMOUNT_INVALID')
    requireBid32(`bids[${i}].`, b.taskId, b.salt)
  })
  const provider = addressBytesFromPublicKey(by.keys.publicKey)
  return build(bidCommitsKind, by, bids.map(b => ({ taskId: b.taskId, commitment: bidCommitment(b.taskId, provider, b.price, b.salt) })))
}

export function buildBidReveals (by: SignedBy, reveals: BidRevealPayload[]): Transaction {
  reveals.forEach((r, i) => { requireTxField(`reveals[${i}].price`, r.price, 1n, MAX_TX_AMOUNT, 'AMOUNT_INVALID') })
  return build(bidRevealsKind, by, reveals)
}

export function buildTaskResult (by: SignedBy, payload: TaskResultPayload): Transaction {
  requireTxField('round', payload.round, 0, MAX_AWARD_ROUNDS - 1)
  requireTxField('outputBytes', payload.outputBytes, 0, U32_MAX)
  return build(taskResultKind, by, payload)
}

/** An assigned provider's claim that it could not fetch the task's inputs (docs/market.md "Inputs no peer serves"). */
export function buildInputClaim (by: SignedBy, payload: InputClaimPayload): Transaction {
  requireBytes('taskId', payload.taskId, TASK_ID_BYTES)
  requireTxField('round', payload.round, 0, MAX_AWARD_ROUNDS - 1)
  requireTxField('attempt', payload.attempt, 0, MAX_INPUT_CLAIMS - 1)
  if (payload.keySeed !== undefined) requireBytes('keySeed', payload.keySeed, KEM_SEED_BYTES)
  return build(inputClaimKind, by, payload)
}

// validator-signed: fee 0, the nonce is the system account's next one. Each checks its fields as the client-side
// builders do (a DagError naming the field): a validator's own bug shows as what it got wrong, not as an encoder's
// "u8 out of range" under the kind's name.

export function buildProviderAttest (chainId: string, keys: SignerKeys, nonce: bigint, payload: ProviderAttestPayload): Transaction {
  requireBytes('provider', payload.provider, ADDRESS_BYTES)
  requireBytes('challengeId', payload.challengeId, 32)
  requireTxField('measuredGflopsMilli', payload.measuredGflopsMilli, 0, U32_MAX)
  return build(providerAttestKind, { chainId, keys, nonce, fee: 0n }, payload)
}

export function buildTaskAward (chainId: string, keys: SignerKeys, nonce: bigint, payload: TaskAwardPayload): Transaction {
  requireBytes('taskId', payload.taskId, TASK_ID_BYTES)
  requireTxField('round', payload.round, 0, MAX_AWARD_ROUNDS - 1)
  requireByteList('considered', payload.considered, MAX_CONSIDERED_REVEALS, 32)
  requireByteList('winners', payload.winners, MAX_REDUNDANCY, ADDRESS_BYTES)
  if (payload.checker !== undefined) requireBytes('checker', payload.checker, ADDRESS_BYTES)
  return build(taskAwardKind, { chainId, keys, nonce, fee: 0n }, payload)
}

export function buildTaskSettle (chainId: string, keys: SignerKeys, nonce: bigint, payload: TaskSettlePayload): Transaction {
  requireBytes('taskId', payload.taskId, TASK_ID_BYTES)
  requireListLength('payouts', payload.payouts, MAX_PAYOUTS)
  payload.payouts.forEach((x, i) => {
    requireBytes(`payouts[${i}].provider`, x.provider, ADDRESS_BYTES)
    // a payout is positive (task-settle's decoder)
    requireTxField(`payouts[${i}].amount`, x.amount, 1n, MAX_TX_AMOUNT, 'AMOUNT_INVALID')
  })
  requireTxField('fee', payload.fee, 0n, MAX_TX_AMOUNT, 'AMOUNT_INVALID')
  requireTxField('refund', payload.refund, 0n, MAX_TX_AMOUNT, 'AMOUNT_INVALID')
  requireBytes('requester', payload.requester, ADDRESS_BYTES)
  return build(taskSettleKind, { chainId, keys, nonce, fee: 0n }, payload)
}

export function buildBondSlash (chainId: string, keys: SignerKeys, nonce: bigint, payload: BondSlashPayload): Transaction {
  requireBytes('provider', payload.provider, ADDRESS_BYTES)
  requireBytes('taskId', payload.taskId, TASK_ID_BYTES)
  // 0 is a slash of a provider with no bond left (bond-slash's decoder)
  requireTxField('amount', payload.amount, 0n, MAX_TX_AMOUNT, 'AMOUNT_INVALID')
  requireBytes('beneficiary', payload.beneficiary, ADDRESS_BYTES)
  return build(bondSlashKind, { chainId, keys, nonce, fee: 0n }, payload)
}

/** A validator's re-execution commitment of a disputed task (nonce 0 of its own re-execution account for the task). */
export function buildTaskReexec (chainId: string, keys: SignerKeys, payload: TaskReexecPayload): Transaction {
  requireBytes('taskId', payload.taskId, TASK_ID_BYTES)
  requireBytes('commitment', payload.commitment, 32)
  return build(taskReexecKind, { chainId, keys, nonce: 0n, fee: 0n }, payload)
}

/** A validator's verdict on an input claim (nonce 0 of its verdict account for that claim: one per validator and claim). */
export function buildInputVerdict (chainId: string, keys: SignerKeys, payload: InputVerdictPayload): Transaction {
  requireBytes('taskId', payload.taskId, TASK_ID_BYTES)
  requireBytes('provider', payload.provider, ADDRESS_BYTES)
  requireTxField('round', payload.round, 0, MAX_AWARD_ROUNDS - 1)
  requireTxField('attempt', payload.attempt, 0, MAX_INPUT_CLAIMS - 1)
  return build(inputVerdictKind, { chainId, keys, nonce: 0n, fee: 0n }, payload)
}
