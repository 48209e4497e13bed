/**
 * The market's transaction kinds (ids 32..47, docs/market.md "Kinds"). Every node must decode them in vertices,
 * so the node registers them at composition with `registerMarketKinds()`.
 */
import { getTxKind, registerTxKind, type TxKind } from '../../dag/tx-kinds.ts'
import { bidCommitKind, bidCommitsKind, bidRevealKind, bidRevealsKind } from './bid.ts'
import { taskAwardKind, taskResultKind, taskSettleKind } from './decision.ts'
import { bondSlashKind, providerAttestKind, providerRegisterKind } from './provider.ts'
import { inputClaimKind, inputVerdictKind } from './inputs.ts'
import { batchFinalRecords, marketFinalRecords } from './queue.ts'
import { taskReexecKind } from './reexec.ts'
import { taskAnnounceKind, taskCancelKind } from './task.ts'

/** The market's kinds, in id order. */
export const MARKET_KINDS: ReadonlyArray<TxKind<never>> = [
  providerRegisterKind, providerAttestKind, taskAnnounceKind, bidCommitKind, bidRevealKind, taskAwardKind, taskResultKind, taskSettleKind, bondSlashKind, taskCancelKind, taskReexecKind, bidCommitsKind, bidRevealsKind, inputClaimKind, inputVerdictKind
] as unknown as ReadonlyArray<TxKind<never>>

/** The bid batch kinds: each entry is queued and applied on its own (queue.ts). */
export const BATCH_KIND_IDS: ReadonlySet<number> = new Set([bidCommitsKind.id, bidRevealsKind.id])

/** A bid batch's entry count (its payload's first byte, checked when it was decoded); undefined for a single kind. */
export function entryCount (tx: { tx: { kind: number, payload: Uint8Array } }): number | undefined {
  return BATCH_KIND_IDS.has(tx.tx.kind) ? tx.tx.payload[0] : undefined
}

// every final market transaction is queued for the market state in its decision's batch (queue.ts), a bid batch as
// one record per entry
for (const kind of MARKET_KINDS as unknown as TxKind[]) kind.finalRecords = BATCH_KIND_IDS.has(kind.id) ? batchFinalRecords : marketFinalRecords

/** Registers the market's kinds into the DAG's kind registry; calling it again is a no-op. */
export function registerMarketKinds (): void {
  for (const kind of MARKET_KINDS) {
    if (getTxKind(kind.id) === (kind as unknown as TxKind)) continue
    registerTxKind(kind)
  }
}

export * from './ids.ts'
export * from './errors.ts'
export { bidCommitment, type BidCommitPayload, bidCommitKind, bidCommitsKind, type BidRevealPayload, bidRevealKind, bidRevealsKind, MAX_BID_BATCH, SALT_BYTES } from './bid.ts'
export { MAX_AWARD_ROUNDS, MAX_CONSIDERED_REVEALS, MAX_PAYOUTS, type Payout, settleTotal, type TaskAwardPayload, taskAwardKind, type TaskResultPayload, taskResultKind, type TaskSettlePayload, taskSettleKind } from './decision.ts'
export { type BondSlashPayload, bondSlashKind, type Capability, capabilityToJSON, ML_KEM768_PUBLIC_KEY_BYTES, mlKem768PublicKeyValid, type ProviderAttestPayload, providerAttestKind, type ProviderRegisterPayload, providerRegisterKind, TASK_ID_BYTES } from './provider.ts'
export { announceToJSON, BLOB_ID_BYTES, escrowOf, MAX_INPUTS, MAX_PARAMS_BYTES, replicasOf, type TaskAnnouncePayload, taskAnnounceKind, type TaskCancelPayload, taskCancelKind, type TaskRequirements, type TaskSpecRecord } from './task.ts'
export { buildBidCommit, buildBidCommits, buildBidReveal, buildBidReveals, buildBondSlash, buildInputClaim, buildInputVerdict, buildTaskReexec, buildProviderAttest, buildProviderRegister, buildTaskAnnounce, buildTaskAward, buildTaskCancel, buildTaskResult, buildTaskSettle, type SignedBy, type SignerKeys } from './builders.ts'
export { type TaskReexecPayload, taskReexecKind } from './reexec.ts'
export { type InputClaimPayload, inputClaimKind, type InputVerdictPayload, inputVerdictKind } from './inputs.ts'
export { decodeQueued, QUEUE_PREFIX, type QueuedTx, queuedEntries, queueKey, queueRecord } from './queue.ts'
