/**
 * Signed market transactions, built where the key lives (a requester's wallet, a provider agent, a validator):
 * the secret key never travels to a node. Each builder encodes, decodes again (so a builder never signs what the
 * ledger would refuse to decode) and signs.
 */
import { addressBytesFromPublicKey } from '../../core/address.ts'
import { signTx, type Transaction, TX_VERSION } from '../../dag/tx.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'
import { taskIdOf } from '../accounts.ts'
import { bidCommitment, bidCommitKind, bidCommitsKind, type BidRevealPayload, bidRevealKind, bidRevealsKind } from './bid.ts'
import { type TaskAwardPayload, taskAwardKind, type TaskResultPayload, taskResultKind, type TaskSettlePayload, taskSettleKind } from './decision.ts'
import { type BondSlashPayload, bondSlashKind, type ProviderAttestPayload, providerAttestKind, type ProviderRegisterPayload, providerRegisterKind } from './provider.ts'
import { type TaskAnnouncePayload, taskAnnounceKind, taskCancelKind } from './task.ts'
import { type TaskReexecPayload, taskReexecKind } from './reexec.ts'

export interface SignerKeys { publicKey: Uint8Array, secretKey: Uint8Array }

/** Who signs, on which chain, with which nonce and fee (an account's next nonce; fee ≥ the genesis minimum). */
export interface SignedBy {
  chainId: string
  keys: SignerKeys
  nonce: bigint
  fee: bigint
}

function build<P> (kind: TxKind<P>, by: SignedBy, payload: P): Transaction {
  const bytes = kind.encode(payload)
  kind.decode(bytes)
  return signTx(by.chainId, { version: TX_VERSION, kind: kind.id, publicKey: by.keys.publicKey, nonce: by.nonce, fee: by.fee, payload: bytes }, by.keys.secretKey)
}

export function buildProviderRegister (by: SignedBy, payload: ProviderRegisterPayload): Transaction {
  return build(providerRegisterKind, by, payload)
}

/** The announce and the id of the task it creates (from the signer's account and the nonce). */
export function buildTaskAnnounce (by: SignedBy, payload: TaskAnnouncePayload): { tx: Transaction, taskId: Uint8Array } {
  return { tx: build(taskAnnounceKind, by, payload), taskId: taskIdOf(addressBytesFromPublicKey(by.keys.publicKey), by.nonce) }
}

export function buildTaskCancel (by: SignedBy, taskId: Uint8Array): Transaction {
  return build(taskCancelKind, by, { taskId })
}

/** A sealed bid: keep `price` and `salt` to reveal it (the salt must be 32 random bytes). */
export function buildBidCommit (by: SignedBy, taskId: Uint8Array, price: bigint, salt: Uint8Array): Transaction {
  const provider = addressBytesFromPublicKey(by.keys.publicKey)
  return build(bidCommitKind, by, { taskId, commitment: bidCommitment(taskId, provider, price, salt) })
}

export function buildBidReveal (by: SignedBy, payload: BidRevealPayload): Transaction {
  return build(bidRevealKind, by, payload)
}

/** Sealed bids for several tasks in one transaction (distinct tasks, 1..MAX_BID_BATCH). */
export function buildBidCommits (by: SignedBy, bids: ReadonlyArray<{ taskId: Uint8Array, price: bigint, salt: Uint8Array }>): Transaction {
  const provider = addressBytesFromPublicKey(by.keys.publicKey)
  return build(bidCommitsKind, by, bids.map(b => ({ taskId: b.taskId, commitment: bidCommitment(b.taskId, provider, b.price, b.salt) })))
}

export function buildBidReveals (by: SignedBy, reveals: BidRevealPayload[]): Transaction {
  return build(bidRevealsKind, by, reveals)
}

export function buildTaskResult (by: SignedBy, payload: TaskResultPayload): Transaction {
  return build(taskResultKind, by, payload)
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
