/**
 * How one final market transaction changes the market records. Deterministic given the records it reads: a
 * transaction whose dependency (its task's announce, the commit a reveal opens, the award a result answers) is
 * not applied here yet is *parked* and applied when it is, so every node ends with the same records whatever
 * order concurrent vertices became final in. Market rule violations are *refused* with a typed code: nothing is
 * stored for them and nothing is paid (the ledger has already moved no money for them: their effects are none).
 */
import { addressBytesFromPublicKey } from '../../core/address.ts'
import { bytesEqual, fromHex, toHex } from '../../core/codec.ts'
import type { TxInfo } from '../../dag/tx.ts'
import { taskIdHexOf } from '../accounts.ts'
import {
  inputClaimKind, inputVerdictKind, TX_KIND_INPUT_CLAIM, TX_KIND_INPUT_VERDICT,
  type BidCommitPayload, bidCommitKind, bidCommitment, bidCommitsKind, type BidRevealPayload, bidRevealKind, bidRevealsKind, bondSlashKind, providerAttestKind, providerRegisterKind, taskAnnounceKind, taskAwardKind,
  taskCancelKind, taskReexecKind, taskResultKind, taskSettleKind, TX_KIND_BID_COMMIT, TX_KIND_BID_COMMITS, TX_KIND_BID_REVEAL, TX_KIND_BID_REVEALS, TX_KIND_BOND_SLASH, TX_KIND_PROVIDER_ATTEST, TX_KIND_PROVIDER_REGISTER,
  TX_KIND_TASK_ANNOUNCE, TX_KIND_TASK_AWARD, TX_KIND_TASK_CANCEL, TX_KIND_TASK_REEXEC, TX_KIND_TASK_RESULT, TX_KIND_TASK_SETTLE
} from '../kinds/index.ts'
import { awardOf, type RevealedBid } from '../rules/award.ts'
import { addReputation, emptyReputation, reputationAt, reputationDelta } from '../rules/reputation.ts'
import { bidsCloseAt, isTerminal, lastRound, type ProviderRecord, resultDueAt, revealsCloseAt, type TaskRecord } from './records.ts'

import { applyInputClaim, applyInputVerdict } from './apply-inputs.ts'
import { type ApplyContext, type ApplyOutcome, type FinalAt, parked, refused } from './apply-types.ts'

export type { ApplyContext, ApplyOutcome, FinalAt } from './apply-types.ts'

/**
 * The task record an announce opens when it is final at `at` (its vertex's time). A provider also reads it from an
 * announce still pending in a vertex it has received (the vertex's time is the same): provider/pending.ts.
 * Throws the kind's ENCODING_INVALID on a payload that is no announce.
 */
export function announcedTask (tx: Pick<TxInfo, 'tx' | 'account'>, at: FinalAt): TaskRecord {
  return {
    taskId: taskIdHexOf(tx.account, tx.tx.nonce),
    requester: toHex(addressBytesFromPublicKey(tx.tx.publicKey)),
    announceTx: at.txId,
    announcedAtMs: at.timeMs,
    announce: taskAnnounceKind.decode(tx.tx.payload),
    bids: new Map(), awards: [], ranking: [], losses: new Map(), assigned: [], results: new Map(), slashes: [], cancelRequested: false
  }
}

/** Applies `tx`, final at `at`; `entry`: which entry of a bid batch (queue.ts), undefined for a single kind. */
export async function applyMarketTx (ctx: ApplyContext, tx: TxInfo, at: FinalAt, entry?: number): Promise<ApplyOutcome> {
  const signer = toHex(addressBytesFromPublicKey(tx.tx.publicKey))
  switch (tx.tx.kind) {
    case TX_KIND_PROVIDER_REGISTER: {
      const p = providerRegisterKind.decode(tx.tx.payload)
      const cur = await ctx.provider(signer)
      const rec: ProviderRecord = cur === undefined
        ? { address: signer, bond: p.bond, kemPublicKey: p.kemPublicKey, capability: p.capability, registeredAtMs: at.timeMs, reputation: emptyReputation(), verified: 0, faults: 0, lates: 0, received: 0n, owed: new Map() }
        : { ...cur, bond: cur.bond + p.bond, kemPublicKey: p.kemPublicKey, capability: p.capability }
      // a new capability needs a new challenge
      if (cur !== undefined && JSON.stringify(cur.capability) !== JSON.stringify(p.capability)) delete rec.attestation
      ctx.putProvider(rec)
      return { status: 'applied', provider: signer }
    }
    case TX_KIND_PROVIDER_ATTEST: {
      const p = providerAttestKind.decode(tx.tx.payload)
      const provider = toHex(p.provider)
      const cur = await ctx.provider(provider)
      if (cur === undefined) return refused('PROVIDER_UNKNOWN', 'attestation of an unregistered provider')
      ctx.putProvider({ ...cur, attestation: { challengeId: toHex(p.challengeId), measuredGflopsMilli: p.measuredGflopsMilli, passed: p.passed, timeMs: at.timeMs, txId: at.txId } })
      return { status: 'applied', provider }
    }
    case TX_KIND_TASK_ANNOUNCE: {
      const task = announcedTask(tx, at)
      ctx.putTask(task, true)
      return { status: 'applied', taskId: task.taskId }
    }
    case TX_KIND_TASK_REEXEC: {
      // a validator's re-execution of a disputed task (commit rule: a quorum of matching ones settles the dispute)
      const p = taskReexecKind.decode(tx.tx.payload)
      const t = await ctx.task(toHex(p.taskId))
      if (t === undefined) return parked('task unknown')
      if (isTerminal(t)) return refused('TASK_CLOSED', 'the task is settled')
      const reexecutions = new Map(t.reexecutions ?? [])
      reexecutions.set(signer, toHex(p.commitment))
      ctx.putTask({ ...t, reexecutions })
      return { status: 'applied', taskId: t.taskId }
    }
    case TX_KIND_TASK_CANCEL: {
      const p = taskCancelKind.decode(tx.tx.payload)
      const t = await ctx.task(toHex(p.taskId))
      if (t === undefined) return parked('task unknown')
      if (t.requester !== signer) return refused('NOT_REQUESTER', 'only the requester cancels its task')
      if (isTerminal(t) || t.awards.length > 0) return refused('TASK_CLOSED', 'the task is awarded or settled')
      ctx.putTask({ ...t, cancelRequested: true })
      return { status: 'applied', taskId: t.taskId }
    }
    case TX_KIND_BID_COMMIT: return await applyCommit(ctx, signer, bidCommitKind.decode(tx.tx.payload), at)
    case TX_KIND_BID_REVEAL: return await applyReveal(ctx, signer, bidRevealKind.decode(tx.tx.payload), at)
    case TX_KIND_BID_COMMITS: return await applyEntries(bidCommitsKind.decode(tx.tx.payload), entry, async (p) => await applyCommit(ctx, signer, p, at))
    case TX_KIND_BID_REVEALS: return await applyEntries(bidRevealsKind.decode(tx.tx.payload), entry, async (p) => await applyReveal(ctx, signer, p, at))
    case TX_KIND_TASK_AWARD: {
      const p = taskAwardKind.decode(tx.tx.payload)
      const t = await ctx.task(toHex(p.taskId))
      if (t === undefined) return parked('task unknown')
      if (isTerminal(t)) return refused('TASK_CLOSED', 'award of a settled task')
      const expected = (lastRound(t) ?? -1) + 1
      if (p.round !== expected) return p.round > expected ? parked('earlier round unknown') : refused('DECISION_INVALID', `award round ${p.round}, expected ${expected}`)
      const considered = p.considered.map(id => toHex(id))
      let { ranking, losses } = t
      if (p.round === 0) {
        const revealed = await revealedBids(ctx, t, considered)
        if (revealed === undefined) return parked('a considered reveal is not applied here yet')
        const outcome = awardOf(awardTaskOf(t), revealed)
        ranking = outcome.ranking
        losses = outcome.losses
      }
      const priceOf = (provider: string): bigint => t.bids.get(provider)?.price ?? 0n
      const deadlineMs = at.timeMs + t.announce.executionDeadlineMs
      const added = [
        ...p.winners.map(w => ({ provider: toHex(w), price: priceOf(toHex(w)), role: 'winner' as const, round: p.round, deadlineMs, state: 'open' as const })),
        ...(p.checker !== undefined ? [{ provider: toHex(p.checker), price: priceOf(toHex(p.checker)), role: 'checker' as const, round: p.round, deadlineMs, state: 'open' as const }] : [])
      ]
      ctx.putTask({ ...t, awards: [...t.awards, { txId: at.txId, round: p.round, timeMs: at.timeMs, winners: p.winners.map(w => toHex(w)), ...(p.checker !== undefined ? { checker: toHex(p.checker) } : {}), considered }], ranking, losses, assigned: [...t.assigned, ...added], cancelRequested: false })
      for (const a of added) {
        const prov = await ctx.provider(a.provider)
        if (prov === undefined) continue
        const owed = new Map(prov.owed)
        owed.set(t.taskId, a.price + (owed.get(t.taskId) ?? 0n))
        ctx.putProvider({ ...prov, owed })
      }
      return { status: 'applied', taskId: t.taskId }
    }
    case TX_KIND_TASK_RESULT: {
      const p = taskResultKind.decode(tx.tx.payload)
      const t = await ctx.task(toHex(p.taskId))
      if (t === undefined) return parked('task unknown')
      // a settled (or refunded) task's results are what its end was decided on: a result final after that end (a late
      // one, or one sent again after a restart) changes nothing, and is refused, so a task reported ended stays so
      if (isTerminal(t)) return refused('TASK_CLOSED', 'result for a settled task')
      const round = lastRound(t)
      if (round === undefined || p.round > round) return parked('award unknown')
      const assignment = t.assigned.find(a => a.provider === signer && a.round === p.round)
      if (assignment === undefined) return refused('RESULT_NOT_AWARDED', 'the signer holds no award of this task and round')
      if (t.results.has(signer)) return refused('RESULT_DUPLICATE', 'one result per provider and task')
      const results = new Map(t.results)
      results.set(signer, {
        txId: at.txId, provider: signer, round: p.round, timeMs: at.timeMs, commitment: toHex(p.commitment), outputBlob: toHex(p.outputBlob), outputBytes: p.outputBytes, profile: p.profile, inTime: at.timeMs <= resultDueAt(t, assignment)
      })
      ctx.putTask({ ...t, results })
      return { status: 'applied', taskId: t.taskId }
    }
    case TX_KIND_INPUT_CLAIM: return await applyInputClaim(ctx, signer, inputClaimKind.decode(tx.tx.payload), at)
    case TX_KIND_INPUT_VERDICT: return await applyInputVerdict(ctx, signer, tx.tx.publicKey, inputVerdictKind.decode(tx.tx.payload), at)
    case TX_KIND_TASK_SETTLE: {
      const p = taskSettleKind.decode(tx.tx.payload)
      const t = await ctx.task(toHex(p.taskId))
      if (t === undefined) return parked('task unknown')
      if (isTerminal(t)) return refused('TASK_CLOSED', 'the task is already settled')
      const payouts = p.payouts.map(x => ({ provider: toHex(x.provider), amount: x.amount }))
      const paid = new Set(payouts.map(x => x.provider))
      const verified = p.outcome === 'paid' || p.outcome === 'disputed'
      const faults = verified ? t.assigned.filter(a => a.state === 'open' && t.results.get(a.provider)?.inTime === true && !paid.has(a.provider)).map(a => a.provider) : []
      ctx.putTask({ ...t, cancelRequested: p.outcome === 'cancelled', settlement: { txId: at.txId, timeMs: at.timeMs, outcome: p.outcome, payouts, fee: p.fee, refund: p.refund, faults } })
      for (const a of new Set(t.assigned.map(x => x.provider))) {
        const prov = await ctx.provider(a)
        if (prov === undefined) continue
        const owed = new Map(prov.owed)
        owed.delete(t.taskId)
        const amount = payouts.filter(x => x.provider === a).reduce((s, x) => s + x.amount, 0n)
        // a fault counts when its slash is final (the results this node holds at the settle may differ from
        // another node's); a verified result counts here, from the settle's own payouts
        const verifiedNow = paid.has(a)
        ctx.putProvider({
          ...prov,
          owed,
          received: prov.received + amount,
          verified: prov.verified + (verifiedNow ? 1 : 0),
          reputation: verifiedNow ? addReputation(prov.reputation, at.timeMs, reputationDelta('verified')) : prov.reputation
        })
      }
      for (const x of payouts) ctx.payment(x.provider, { taskId: t.taskId, kind: 'payout', to: x.provider, amount: x.amount, txId: at.txId, timeMs: at.timeMs })
      if (p.refund > 0n) ctx.payment(t.requester, { taskId: t.taskId, kind: 'refund', to: t.requester, amount: p.refund, txId: at.txId, timeMs: at.timeMs })
      return { status: 'applied', taskId: t.taskId }
    }
    case TX_KIND_BOND_SLASH: {
      const p = bondSlashKind.decode(tx.tx.payload)
      const provider = toHex(p.provider)
      const t = await ctx.task(toHex(p.taskId))
      if (t === undefined) return parked('task unknown')
      const prov = await ctx.provider(provider)
      if (prov !== undefined) {
        const owed = new Map(prov.owed)
        if (p.reason === 'late') owed.delete(t.taskId)
        ctx.putProvider({
          ...prov,
          owed,
          bond: prov.bond > p.amount ? prov.bond - p.amount : 0n,
          lates: prov.lates + (p.reason === 'late' ? 1 : 0),
          faults: prov.faults + (p.reason === 'fault' ? 1 : 0),
          reputation: addReputation(prov.reputation, at.timeMs, reputationDelta(p.reason))
        })
      }
      const assigned = p.reason === 'late' ? t.assigned.map(a => (a.provider === provider && a.state === 'open' ? { ...a, state: 'late' as const } : a)) : t.assigned
      ctx.putTask({ ...t, assigned, slashes: [...t.slashes, { txId: at.txId, provider, reason: p.reason, amount: p.amount, timeMs: at.timeMs }] })
      // a slash of an empty bond moves nothing: no payment to list. Listed under who it paid (rules/settle.ts
      // slashBeneficiary: the requester for a fault, the fee pool for lateness)
      if (p.amount > 0n) ctx.payment(toHex(p.beneficiary), { taskId: t.taskId, kind: 'slash', to: toHex(p.beneficiary), amount: p.amount, txId: at.txId, timeMs: at.timeMs })
      return { status: 'applied', taskId: t.taskId, provider }
    }
    default:
      return refused('DECISION_INVALID', `kind ${tx.tx.kind} is not a market kind`)
  }
}

/** A bid commit from `signer` (a `bid-commit`, or one entry of a `bid-commits`). */
async function applyCommit (ctx: ApplyContext, signer: string, p: BidCommitPayload, at: FinalAt): Promise<ApplyOutcome> {
  const t = await ctx.task(toHex(p.taskId))
  if (t === undefined) return parked('task unknown')
  // judged by its own time only (not by a cancel or a settle that may be final before it on one node and
  // after it on another): every node stores the same bids
  if (at.timeMs > bidsCloseAt(t)) return refused('BID_LATE', 'bid committed after the bid window')
  if (t.bids.has(signer)) return refused('BID_DUPLICATE', 'one bid per provider and task')
  const bids = new Map(t.bids)
  bids.set(signer, { provider: signer, commitTx: at.txId, commitTimeMs: at.timeMs, commitment: toHex(p.commitment) })
  ctx.putTask({ ...t, bids })
  ctx.indexBid(signer, t.taskId)
  return { status: 'applied', taskId: t.taskId }
}

/** A bid reveal from `signer` (a `bid-reveal`, or one entry of a `bid-reveals`). */
async function applyReveal (ctx: ApplyContext, signer: string, p: BidRevealPayload, at: FinalAt): Promise<ApplyOutcome> {
  const t = await ctx.task(toHex(p.taskId))
  if (t === undefined) return parked('task unknown')
  const bid = t.bids.get(signer)
  if (bid === undefined) return isTerminal(t) ? refused('BID_UNKNOWN', 'reveal without a commit') : parked('commit unknown')
  if (bid.revealTx !== undefined) return refused('BID_DUPLICATE', 'the bid is already revealed')
  // a private task's inputs are sealed to the key its winner's bid revealed (blobs/seal.ts `taskKeySeed`)
  if (t.announce.private && p.taskKey === undefined) return refused('REVEAL_KEY_INVALID', 'a private task\'s reveal carries the provider\'s task key (a single bid-reveal)')
  if (!t.announce.private && p.taskKey !== undefined) return refused('REVEAL_KEY_INVALID', 'a public task\'s reveal carries no task key')
  const matches = bytesEqual(bidCommitment(p.taskId, fromHex(signer), p.price, p.salt), fromHex(bid.commitment))
  const inTime = at.timeMs <= revealsCloseAt(t)
  const bids = new Map(t.bids)
  // a late or mismatching reveal stays on the bid (the explanation of why it lost) but is never considered
  bids.set(signer, { ...bid, revealTx: at.txId, revealTimeMs: at.timeMs, price: p.price, matches, inTime, ...(p.taskKey === undefined ? {} : { taskKey: toHex(p.taskKey) }) })
  ctx.putTask({ ...t, bids })
  if (!inTime) return refused('BID_LATE', 'revealed after the reveal window')
  if (!matches) return refused('REVEAL_MISMATCH', 'the reveal does not open the commitment')
  return { status: 'applied', taskId: t.taskId }
}

/**
 * A bid batch's entry `entry`: each final entry is queued and applied on its own (queue.ts), and the admission
 * check asks entry by entry (admission.ts). A batch without an entry index names no single task: refused.
 */
async function applyEntries<P> (entries: P[], entry: number | undefined, apply: (p: P) => Promise<ApplyOutcome>): Promise<ApplyOutcome> {
  if (entry === undefined || entry >= entries.length) return refused('DECISION_INVALID', entry === undefined ? 'a bid batch applies entry by entry' : `entry ${entry} of ${entries.length}`)
  return await apply(entries[entry])
}

/**
 * The task a market transaction (or entry `entry` of a bid batch) is about (none for a provider's register or
 * attest, or for a whole batch); throws on a payload of another kind.
 */
export function marketTaskIdOf (tx: Pick<TxInfo, 'tx' | 'account'>, entry?: number): string | undefined {
  const k = tx.tx.kind
  const p = tx.tx.payload
  switch (k) {
    case TX_KIND_TASK_ANNOUNCE: return taskIdHexOf(tx.account, tx.tx.nonce)
    case TX_KIND_TASK_CANCEL: return toHex(taskCancelKind.decode(p).taskId)
    case TX_KIND_TASK_REEXEC: return toHex(taskReexecKind.decode(p).taskId)
    case TX_KIND_BID_COMMIT: return toHex(bidCommitKind.decode(p).taskId)
    case TX_KIND_BID_REVEAL: return toHex(bidRevealKind.decode(p).taskId)
    case TX_KIND_BID_COMMITS: return entryTask(bidCommitsKind.decode(p), entry)
    case TX_KIND_BID_REVEALS: return entryTask(bidRevealsKind.decode(p), entry)
    case TX_KIND_TASK_AWARD: return toHex(taskAwardKind.decode(p).taskId)
    case TX_KIND_TASK_RESULT: return toHex(taskResultKind.decode(p).taskId)
    case TX_KIND_TASK_SETTLE: return toHex(taskSettleKind.decode(p).taskId)
    case TX_KIND_BOND_SLASH: return toHex(bondSlashKind.decode(p).taskId)
    case TX_KIND_INPUT_CLAIM: return toHex(inputClaimKind.decode(p).taskId)
    case TX_KIND_INPUT_VERDICT: return toHex(inputVerdictKind.decode(p).taskId)
    default: return undefined
  }
}

/** Every task a market transaction names (a batch: each entry's); none for another kind. */
export function marketTaskIdsOf (tx: Pick<TxInfo, 'tx' | 'account'>): string[] {
  const p = tx.tx.payload
  if (tx.tx.kind === TX_KIND_BID_COMMITS) return bidCommitsKind.decode(p).map(e => toHex(e.taskId))
  if (tx.tx.kind === TX_KIND_BID_REVEALS) return bidRevealsKind.decode(p).map(e => toHex(e.taskId))
  const id = marketTaskIdOf(tx)
  return id === undefined ? [] : [id]
}

function entryTask (entries: Array<{ taskId: Uint8Array }>, entry: number | undefined): string | undefined {
  const e = entry === undefined ? undefined : entries[entry]
  return e === undefined ? undefined : toHex(e.taskId)
}

export function awardTaskOf (t: TaskRecord): { taskId: string, budget: bigint, redundancy: number, spotCheck: boolean, requirements: TaskRecord['announce']['requirements'] } {
  return { taskId: t.taskId, budget: t.announce.budget, redundancy: t.announce.redundancy, spotCheck: t.announce.verification === 'spot-check', requirements: t.announce.requirements }
}

/**
 * The award rule's view of the considered reveals (undefined when one is not applied here). Reputation counts
 * the events before the task's announce (rules/reputation.ts).
 */
export async function revealedBids (ctx: Pick<ApplyContext, 'provider'>, t: TaskRecord, considered: readonly string[]): Promise<RevealedBid[] | undefined> {
  const byReveal = new Map<string, string>()
  for (const b of t.bids.values()) if (b.revealTx !== undefined) byReveal.set(b.revealTx, b.provider)
  const out: RevealedBid[] = []
  for (const id of considered) {
    const provider = byReveal.get(id)
    if (provider === undefined) return undefined
    const b = t.bids.get(provider)
    if (b === undefined) return undefined
    const prov = await ctx.provider(provider)
    out.push({
      provider,
      revealTx: id,
      price: b.price ?? 0n,
      matches: b.matches === true,
      inTime: b.inTime === true,
      bond: prov?.bond ?? 0n,
      ...(prov !== undefined ? { capability: prov.capability } : {}),
      attested: prov?.attestation?.passed === true,
      reputation: prov === undefined ? 0 : reputationAt(prov.reputation, t.announcedAtMs),
      slashed: t.slashes.some(s => s.provider === provider)
    })
  }
  return out
}
