/**
 * The market state's views (src/market/state/reader.ts) in their RPC shape (src/api/market-definitions.ts):
 * amounts as decimal strings of base units, task ids 0x-prefixed, absent values as null.
 */
import type { BidView, InputClaimView, ProviderView, TaskView } from '../market/state/reader.ts'
import type { RpcResultOf } from './definitions.ts'

type TaskRecord = NonNullable<RpcResultOf<'task_get'>>
type BidRecord = NonNullable<RpcResultOf<'market_bids'>>['bids'][number]
type ProviderRecord = RpcResultOf<'market_providers'>['providers'][number]

export function hex0x (id: string): string {
  return id.startsWith('0x') ? id : `0x${id}`
}

type InputClaimRecord = TaskRecord['inputClaims'][number]

export function inputClaimToRpc (c: InputClaimView): InputClaimRecord {
  return {
    provider: c.provider,
    round: c.round,
    attempt: c.attempt,
    keyRevealed: c.keyRevealed,
    atMs: c.timeMs,
    txId: hex0x(c.txId),
    verdict: c.verdict === undefined ? null : { outcome: c.verdict.outcome, validator: c.verdict.validator, atMs: c.verdict.timeMs, txId: hex0x(c.verdict.txId) },
    dueAtMs: c.dueAtMs,
    holdsSlashUntilMs: c.holdsSlashUntilMs ?? null,
    excused: c.excused
  }
}

export function taskToRpc (t: TaskView): TaskRecord {
  return {
    taskId: hex0x(t.taskId),
    requester: t.requester,
    state: t.phase,
    kernel: t.spec.kernel,
    params: t.spec.params,
    wgslBlob: t.spec.wgslBlob ?? null,
    inputs: t.inputs,
    outputLimitBytes: t.outputLimitBytes,
    budget: t.budget.toString(),
    escrow: t.escrow.toString(),
    redundancy: t.redundancy,
    k: t.k,
    verification: t.verification,
    bidWindowMs: t.bidWindowMs,
    revealWindowMs: t.revealWindowMs,
    executionDeadlineMs: t.executionDeadlineMs,
    requirements: {
      executor: t.requirements.executor,
      minGflops: t.requirements.minGflopsMilli / 1000,
      minMemoryMiB: t.requirements.minMemoryMiB,
      attested: t.requirements.attested
    },
    private: t.private,
    reannounce: t.reannounce,
    announcedAtMs: t.announcedAtMs,
    announceTx: hex0x(t.announceTx),
    bidsCloseAtMs: t.bidsCloseAtMs,
    revealsCloseAtMs: t.revealsCloseAtMs,
    awards: t.awards.map(a => ({
      round: a.round,
      winners: a.winners,
      spotChecker: a.checker ?? null,
      atMs: a.timeMs,
      deadlineMs: a.deadlineMs,
      considered: a.considered.map(hex0x),
      txId: hex0x(a.txId)
    })),
    winners: t.winners,
    spotChecker: t.checker ?? null,
    results: t.results.map(r => ({
      provider: r.provider,
      round: r.round,
      commitment: r.commitment,
      outputBlob: r.outputBlob,
      outputBytes: r.outputBytes,
      profile: r.profile,
      atMs: r.timeMs,
      txId: hex0x(r.txId),
      verdict: r.verdict
    })),
    slashes: t.slashes.map(s => ({ provider: s.provider, reason: s.reason, amount: s.amount.toString(), atMs: s.timeMs, txId: hex0x(s.txId) })),
    inputClaims: t.inputClaims.map(inputClaimToRpc),
    settlement: t.settlement === undefined
      ? null
      : {
          outcome: t.settlement.outcome,
          payouts: t.settlement.payouts.map(p => ({ provider: p.provider, amount: p.amount.toString() })),
          fee: t.settlement.fee.toString(),
          refund: t.settlement.refund.toString(),
          atMs: t.settlement.timeMs,
          txId: hex0x(t.settlement.txId)
        },
    cancelRequested: t.cancelRequested,
    bidCount: t.bidCount
  }
}

/** A bid in its RPC shape; `task`: its task's view, for the bidder's input claim (its latest: an appeal, if any). */
export function bidToRpc (b: BidView, task?: TaskView): BidRecord {
  const claim = task?.inputClaims.findLast(c => c.provider === b.provider)
  return {
    provider: b.provider,
    status: b.status,
    reason: b.lossReason ?? null,
    price: b.price?.toString() ?? null,
    rank: b.rank ?? null,
    round: b.round ?? null,
    commitTx: hex0x(b.commitTx),
    commitAtMs: b.commitTimeMs,
    revealTx: b.revealTx === undefined ? null : hex0x(b.revealTx),
    revealAtMs: b.revealTimeMs ?? null,
    inputClaim: claim === undefined ? null : inputClaimToRpc(claim)
  }
}

/** Why a task has no winner, for `market_bids.note`. */
export function bidsNote (t: TaskView, bids: BidView[]): string | null {
  // an expired task has its award too, one with no winner: the note says why
  if (t.awards.some(a => a.winners.length > 0)) return null
  if (t.phase === 'bidding' || t.phase === 'revealing') return bids.length === 0 ? 'no bids yet' : null
  if (t.phase === 'cancelled') return 'cancelled: the requester cancelled the task before an award'
  if (bids.length === 0) return 'no-bid: no provider bid in the bid window'
  // a bid never revealed reads `lost: unrevealed` once the award is in: not a valid bid
  if (bids.some(b => b.status === 'revealed' || b.status === 'won' || (b.status === 'lost' && b.lossReason !== 'unrevealed'))) return null
  if (bids.some(b => b.status === 'excluded')) return 'excluded: in-time reveals were final only after the award was issued (each provider proves its bid with its commit and reveal)'
  if (bids.every(b => b.lossReason === 'late')) return 'no-valid-bid: every reveal came after the reveal window (a longer reveal window leaves busy providers more time)'
  return 'no-valid-bid: every bid was invalid or unrevealed'
}

export function providerToRpc (p: ProviderView, kemKeyHash: string, lastHeartbeatMs: number | null = null): ProviderRecord {
  return {
    address: p.address,
    bond: p.bond.toString(),
    kemKeyHash,
    capability: { executor: p.capability.executor, adapter: p.capability.adapter, memoryMiB: p.capability.memoryMiB, gflops: p.capability.gflopsMilli / 1000, profile: p.capability.profile },
    attestation: p.attestation === undefined
      ? null
      : { passed: p.attestation.passed, measuredGflops: p.attestation.measuredGflopsMilli / 1000, challengeId: p.attestation.challengeId, atMs: p.attestation.timeMs, txId: hex0x(p.attestation.txId) },
    reputation: p.reputation,
    verified: p.verified,
    faults: p.faults,
    lates: p.lates,
    received: p.received.toString(),
    owed: p.owed.toString(),
    openTasks: p.openTasks.map(hex0x),
    registeredAtMs: p.registeredAtMs,
    lastHeartbeatMs
  }
}
