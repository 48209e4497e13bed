/**
 * Signed market transactions, built where the key lives (a requester's wallet, a provider agent, a validator):
 * the secret key never travels to a node. Each builder checks its numeric inputs (a DagError naming the field and
 * its range: AMOUNT_INVALID for amounts, ENCODING_INVALID for the others; signTx checks the nonce and fee), encodes,
 * decodes again (so a builder never signs what the ledger would refuse to decode) and signs. A byte field of the wrong
 * length, or a payload the kind's rules refuse, is an ENCODING_INVALID DagError naming the kind.
 */
import { addressBytesFromPublicKey } from '../../core/address.ts'
import { errorMessage } from '../../core/errors.ts'
import { DagError } from '../../dag/errors.ts'
import { MAX_TX_AMOUNT, requireTxField, signTx, type Transaction, TX_VERSION } from '../../dag/tx.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'
import { taskIdOf } from '../accounts.ts'
import { bidCommitment, bidCommitKind, bidCommitsKind, type BidRevealPayload, bidRevealKind, bidRevealsKind } from './bid.ts'
import { MAX_AWARD_ROUNDS, type TaskAwardPayload, taskAwardKind, type TaskResultPayload, taskResultKind, type TaskSettlePayload, taskSettleKind } from './decision.ts'
import { type BondSlashPayload, bondSlashKind, type ProviderAttestPayload, providerAttestKind, type ProviderRegisterPayload, providerRegisterKind } from './provider.ts'
import { MAX_BUDGET, MAX_DEADLINE_MS, MAX_REDUNDANCY, MAX_WINDOW_MS, type TaskAnnouncePayload, taskAnnounceKind, taskCancelKind } from './task.ts'
import { type TaskReexecPayload, taskReexecKind } from './reexec.ts'
import { type InputClaimPayload, inputClaimKind, type InputVerdictPayload, inputVerdictKind } from './inputs.ts'

// the payloads' u32 fields (byte counts, GFLOP/s × 1000, MiB), bounded by nothing else
const U32_MAX = 0xffff_ffff

/**
 * A commit's task id and salt are 32 bytes each. Both go into its commitment's hash before anything is encoded, so
 * the encoder's check comes too late: a salt of another length would only be refused at the reveal.
 */
function requireBid32 (prefix: string, taskId: Uint8Array, salt: Uint8Array): void {
  for (const [field, bytes] of [['taskId', taskId], ['salt', salt]] as const) {
    const got = bytes instanceof Uint8Array ? bytes.length : typeof bytes
    if (got !== 32) throw new DagError('ENCODING_INVALID', `${prefix}${field} must be 32 bytes, got ${got}`)
  }
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
  requireTxField('budget', p.budget, 1n, MAX_BUDGET - 1n, 'AMOUNT_INVALID')
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
  requireTxField('round', payload.round, 0, MAX_AWARD_ROUNDS - 1)
  return build(inputClaimKind, by, payload)
}

// validator-signed: fee 0, the nonce is the system account's next one

export function buildProviderAttest (chainId: string, keys: SignerKeys, nonce: bigint, payload: ProviderAttestPayload): Transaction {
  return build(providerAttestKind, { chainId, keys, nonce, fee: 0n }, payload)
}

export function buildTaskAward (chainId: string, keys: SignerKeys, nonce: bigint, payload: TaskAwardPayload): Transaction {
  return build(taskAwardKind, { chainId, keys, nonce, fee: 0n }, payload)
}

export function buildTaskSettle (chainId: string, keys: SignerKeys, nonce: bigint, payload: TaskSettlePayload): Transaction {
  return build(taskSettleKind, { chainId, keys, nonce, fee: 0n }, payload)
}

export function buildBondSlash (chainId: string, keys: SignerKeys, nonce: bigint, payload: BondSlashPayload): Transaction {
  return build(bondSlashKind, { chainId, keys, nonce, fee: 0n }, payload)
}

/** A validator's re-execution commitment of a disputed task (nonce 0 of its own re-execution account for the task). */
export function buildTaskReexec (chainId: string, keys: SignerKeys, payload: TaskReexecPayload): Transaction {
  return build(taskReexecKind, { chainId, keys, nonce: 0n, fee: 0n }, payload)
}

/** A validator's verdict on an input claim (nonce 0 of the claim's verdict account: one verdict per claim). */
export function buildInputVerdict (chainId: string, keys: SignerKeys, payload: InputVerdictPayload): Transaction {
  requireTxField('round', payload.round, 0, MAX_AWARD_ROUNDS - 1)
  return build(inputVerdictKind, { chainId, keys, nonce: 0n, fee: 0n }, payload)
}
