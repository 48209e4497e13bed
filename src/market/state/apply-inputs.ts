/**
 * How a final `input-claim` or `input-verdict` changes its task's record (docs/market.md "Inputs no peer serves",
 * "Appeals"): a provider's claims of a round in order of their attempt, each answered by its one judge
 * (rules/input-judge.ts) within the judge's window. Called by apply.ts; the same rules of parking and refusal.
 */
import { fromHex, toHex } from '../../core/codec.ts'
import { seedGivesKey } from '../blobs/seal.ts'
import type { InputClaimPayload, InputVerdictPayload, MarketErrorCode } from '../kinds/index.ts'
import { INPUT_JUDGE_WINDOW_MS, INPUT_VERDICT_WAIT_MS } from '../rules/constants.ts'
import { isInputJudge, unavailableJudgesNeeded } from '../rules/input-judge.ts'
import { type ApplyContext, type ApplyOutcome, type FinalAt, parked, refused } from './apply-types.ts'
import { claimHoldsSlashUntil, claimsOf, extendedDue, type InputClaimRecord, isTerminal, lastRound, resultDueAt, type TaskRecord } from './records.ts'

/** A provider's claim (`signer`, hex address) that it could not fetch a task's inputs: its first, or an appeal. */
export async function applyInputClaim (ctx: ApplyContext, signer: string, p: InputClaimPayload, at: FinalAt): Promise<ApplyOutcome> {
  // judged only by what the claim's own account orders (its result, its earlier claims), fixed facts (the award's
  // assignments, its deadline) and signed times, never by a slash or a settle that other nodes may apply in
  // another order
  const t = await ctx.task(toHex(p.taskId))
  if (t === undefined) return parked('task unknown')
  const round = lastRound(t)
  if (round === undefined || p.round > round) return isTerminal(t) ? refused('TASK_CLOSED', 'claim for a settled task') : parked('award unknown', 'CLAIM_NOT_AWARDED')
  const assignment = t.assigned.find(a => a.provider === signer && a.round === p.round)
  if (assignment === undefined) return refused('CLAIM_NOT_AWARDED', 'the signer holds no award of this task and round')
  if (t.results.has(signer)) return refused('CLAIM_LATE', 'the provider has already answered the task')
  if (p.keySeed !== undefined) {
    // the seed must give the task key the claimant's bid revealed (what its inputs were sealed to): else the judge
    // would open envelopes with a key nothing was sealed to, and find any envelopes "not opening"
    const key = t.bids.get(signer)?.taskKey
    if (key === undefined) return refused('CLAIM_KEY_INVALID', 'a key seed on a claim whose bid revealed no task key (a public task)')
    if (!seedGivesKey(p.keySeed, fromHex(key))) return refused('CLAIM_KEY_INVALID', 'the key seed does not give the task key the claimant\'s bid revealed')
  }
  // claim n follows claims 0 .. n - 1 of the round (an earlier one may still be parked here)
  const earlier = claimsOf(t, signer, p.round)
  if (p.attempt < earlier.length) return refused('CLAIM_DUPLICATE', `the provider's claim ${p.attempt} of this round is applied already`)
  if (p.attempt > earlier.length) return parked('an earlier claim unknown', 'CLAIM_DUPLICATE')
  if (p.attempt === 0 && at.timeMs > assignment.deadlineMs) return refused('CLAIM_LATE', 'claim after the assignment\'s deadline')
  if (p.attempt > 0) {
    const appeal = appealStanding(t, earlier[p.attempt - 1], at.timeMs)
    if (appeal === 'wait') return parked('the last claim\'s verdict unknown', 'CLAIM_LATE')
    if (appeal !== 'ok') return refused(appeal.code, appeal.reason)
  }
  ctx.putTask({ ...t, inputClaims: [...(t.inputClaims ?? []), { provider: signer, round: p.round, attempt: p.attempt, txId: at.txId, timeMs: at.timeMs, ...(p.keySeed === undefined ? {} : { keySeed: toHex(p.keySeed) }) }] })
  return { status: 'applied', taskId: t.taskId, provider: signer }
}

/** A validator's verdict (`signer`, hex address of `signerKey`) on one claim. */
export async function applyInputVerdict (ctx: ApplyContext, signer: string, signerKey: Uint8Array, p: InputVerdictPayload, at: FinalAt): Promise<ApplyOutcome> {
  // validator-signed (the ledger refuses any other signer: validatorOnly), one per validator and claim (nonce 0 of
  // its verdict account); only the claim's judge counts (rules/input-judge.ts), within the judge's window
  const provider = toHex(p.provider)
  const t = await ctx.task(toHex(p.taskId))
  if (t === undefined) return parked('task unknown', 'VERDICT_NO_CLAIM')
  const round = lastRound(t)
  if (round === undefined || p.round > round) return isTerminal(t) ? refused('VERDICT_NO_CLAIM', 'no award of that round') : parked('award unknown', 'VERDICT_NO_CLAIM')
  if (!t.assigned.some(a => a.provider === provider && a.round === p.round)) return refused('VERDICT_NO_CLAIM', 'the provider holds no award of this task and round')
  const claim = claimsOf(t, provider, p.round)[p.attempt]
  // the claim may still be finalizing here: parked until it applies (refused VERDICT_NO_CLAIM past the park time)
  if (claim === undefined) return parked('claim unknown', 'VERDICT_NO_CLAIM')
  if (!isInputJudge(ctx.validatorKeys(), signerKey, t.taskId, provider, p.attempt)) return refused('VERDICT_NOT_JUDGE', 'the signer is not this claim\'s judge')
  if (at.timeMs > claim.timeMs + INPUT_JUDGE_WINDOW_MS) return refused('VERDICT_LATE', 'verdict stamped past the claim\'s judge window')
  if (claim.verdict !== undefined) return refused('DECISION_INVALID', 'the claim has a verdict')
  // an `unavailable` verdict records how many distinct judges must concur before the claimant is excused (as of now)
  const verdict = { outcome: p.outcome, validator: signer, txId: at.txId, timeMs: at.timeMs, ...(p.outcome === 'unavailable' ? { needs: unavailableJudgesNeeded(ctx.validatorKeys(), provider) } : {}) }
  const inputClaims = (t.inputClaims ?? []).map(c => (c === claim ? { ...c, verdict } : c))
  const next: TaskRecord = { ...t, inputClaims }
  // a result the claimant sent past its deadline and before this verdict was final here is in time by the
  // extended deadline: judged the same whichever of the two this node applied first
  const r = t.results.get(provider)
  const a = t.assigned.find(x => x.provider === provider && x.round === p.round)
  if (r !== undefined && a !== undefined && r.round === p.round && !r.inTime && r.timeMs <= resultDueAt(next, a)) {
    const results = new Map(t.results)
    results.set(provider, { ...r, inTime: true })
    next.results = results
  }
  ctx.putTask(next)
  return { status: 'applied', taskId: t.taskId, provider }
}

/**
 * Whether an appeal (a claim after `last`, the provider's latest claim of the round) stamped at `atMs` stands. It does
 * after an `available` verdict on `last` while the deadline that verdict gave runs (the claimant still could not fetch
 * the inputs), after an `unavailable` verdict that needs another judge's while it holds the slash (s48: the claimant
 * asks the next judge to confirm), or once `last`'s judge window is over with the late slash still held (a silent
 * judge), whatever `last`'s verdict turns out to be; so every node decides it alike, whichever of `last`'s verdict and
 * the appeal it applied first. 'wait' while `last` has no verdict here and only its verdict can make the appeal stand.
 * Only `last` is read: an earlier claim's verdict may still be finalizing here.
 */
function appealStanding (t: TaskRecord, last: InputClaimRecord, atMs: number): 'ok' | 'wait' | { code: MarketErrorCode, reason: string } {
  const deadlineMs = t.assigned.find(a => a.provider === last.provider && a.round === last.round)?.deadlineMs ?? 0
  if (atMs > last.timeMs + INPUT_JUDGE_WINDOW_MS && atMs <= Math.max(deadlineMs, last.timeMs + INPUT_VERDICT_WAIT_MS)) return 'ok'
  // past the hold, an `available` verdict's deadline may still run: only the verdict tells (parked until it applies,
  // refused past the park time when it never does)
  if (last.verdict === undefined) return 'wait'
  if (last.verdict.outcome === 'unavailable') {
    if ((last.verdict.needs ?? 1) <= 1) return { code: 'CLAIM_DUPLICATE', reason: 'the last claim was found unavailable: the provider is excused already' }
    if (atMs <= Math.max(deadlineMs, claimHoldsSlashUntil(t, last) ?? 0)) return 'ok'
    return { code: 'CLAIM_LATE', reason: 'appeal after the hold of the last claim\'s unavailable verdict' }
  }
  if (atMs <= Math.max(deadlineMs, extendedDue(t, last.verdict.timeMs))) return 'ok'
  return { code: 'CLAIM_LATE', reason: 'appeal after the deadline the last verdict gave' }
}
