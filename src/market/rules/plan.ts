/**
 * What a task needs next, from the market state and a clock: the one function both the coordinator (which issues
 * the decision) and every validator's external check (which recomputes it) call, so they cannot drift apart.
 */
import { MAX_CONSIDERED_REVEALS } from '../kinds/index.ts'
import type { AssignmentRecord, TaskRecord } from '../state/records.ts'
import { bidsCloseAt, claimHoldsSlashUntil, claimsOf, excusedByInputs, lastRound, resultDueAt, revealsCloseAt, standing } from '../state/records.ts'
import { MAX_REPLACEMENT_ROUNDS } from './constants.ts'
import { replacementsOf } from './award.ts'
import { refundAll, type SettleDecision, settleOf } from './settle.ts'

export interface PlanClock {
  nowMs: number
  /** Late after the deadline by this much on this node's clock (results in time may still be finalizing). */
  lateGraceMs: number
  /** A settle waits this long after the last awaited result. */
  verificationWindowMs: number
  /**
   * How far every validator's final vertices reach in signed time on this node (LedgerReader.sealedThroughMs), read
   * before the market state was drained: past a window's close, no reveal still to come can be in time, so the
   * award need not wait out `lateGraceMs`. Absent: the grace alone decides.
   */
  sealedThroughMs?: number
  /**
   * The issuer's reading only (a check leaves it out and reads the wall-clock grace alone): the earliest signed time
   * among the vertices it holds undecided that carry a reveal or a result of this task (LedgerReader.undecidedOf;
   * `fromMs` undefined: none). A window the grace closes on the wall clock is closed for the issuer only once none of
   * them stamped at or before the close is still finalizing here: under load a vertex stamped before a close becomes final seconds after it, and
   * the grace alone left its in-time reveals out of the award (`excluded`; a task whose every bid was excluded
   * expired) and could slash a provider whose in-time result was still finalizing. `waitMs`: the most it waits so
   * past the grace (default FINALIZING_WAIT_MS; the coordinator reads it unbounded to tell when the bound decided).
   */
  finalizing?: { fromMs: number | undefined, waitMs?: number }
}

/** The most the issuer waits past a grace for vertices still finalizing (one that never decides must not hold a task). */
export const FINALIZING_WAIT_MS = 10_000

/**
 * True when `moment` plus the grace has passed on the wall clock and, for the issuer, none of the task's reveals or
 * results stamped at or before `moment` is still finalizing here (or every validator's final vertices reach past it:
 * nothing in time can still come), or it waited FINALIZING_WAIT_MS more.
 */
function graceOver (clock: PlanClock, moment: number): boolean {
  if (clock.nowMs < moment + clock.lateGraceMs) return false
  if (clock.finalizing === undefined || clock.nowMs >= moment + clock.lateGraceMs + (clock.finalizing.waitMs ?? FINALIZING_WAIT_MS)) return true
  if (clock.sealedThroughMs !== undefined && clock.sealedThroughMs > moment) return true
  const from = clock.finalizing.fromMs
  return from === undefined || from > moment
}

export type Step =
  | { kind: 'wait', untilMs?: number }
  /** the first award: the in-time matching reveals to consider (sorted ids) */
  | { kind: 'award', round: 0, considered: string[] }
  | { kind: 'replace', round: number, winners: string[], checker?: string }
  | { kind: 'slash-late', providers: string[] }
  | { kind: 'settle', decision: SettleDecision }
  | { kind: 'dispute' }
  | { kind: 'slash-fault', providers: string[] }
  | { kind: 'done' }

/** The in-time matching reveals an award considers: all of them, or the 64 best by (price, id) when more. */
export function consideredReveals (t: TaskRecord): string[] {
  const ok = [...t.bids.values()].filter(b => b.revealTx !== undefined && b.matches === true && b.inTime === true)
  ok.sort((a, b) => ((a.price ?? 0n) < (b.price ?? 0n) ? -1 : (a.price ?? 0n) > (b.price ?? 0n) ? 1 : (a.revealTx as string) < (b.revealTx as string) ? -1 : 1))
  return ok.slice(0, MAX_CONSIDERED_REVEALS).map(b => b.revealTx as string).sort()
}

function outstanding (t: TaskRecord): AssignmentRecord[] {
  return standing(t).filter(a => t.results.get(a.provider)?.inTime !== true)
}

/**
 * The moment past which (with the grace) an outstanding assignment that is not excused (excusedByInputs) is late:
 * its deadline; after an `available` verdict on one of its input claims, the extended deadline (resultDueAt); at
 * least as long as a claim holds the slash (claimHoldsSlashUntil: one with no verdict, or the last claim's
 * `unavailable` verdict, not appealed yet for a second judge's; then the usual late rule applies: a claim nobody
 * answered excuses nothing).
 */
export function lateAfter (t: TaskRecord, a: AssignmentRecord): number {
  let until = resultDueAt(t, a)
  for (const c of claimsOf(t, a.provider, a.round)) until = Math.max(until, claimHoldsSlashUntil(t, c) ?? until)
  return until
}

/** Providers excluded from replacement: everyone assigned before and everyone slashed for this task. */
function excludedOf (t: TaskRecord): Set<string> {
  return new Set([...t.assigned.map(a => a.provider), ...t.slashes.map(s => s.provider)])
}

/** Late assignments not replaced yet, by role. */
function unreplaced (t: TaskRecord): { winners: number, checker: boolean } {
  const late = t.assigned.filter(a => a.state === 'late')
  const lateWinners = late.filter(a => a.role === 'winner').length
  const replacedWinners = t.assigned.filter(a => a.round > 0 && a.role === 'winner').length
  const lateCheckers = late.filter(a => a.role === 'checker').length
  const replacedCheckers = t.assigned.filter(a => a.round > 0 && a.role === 'checker').length
  return { winners: Math.max(0, lateWinners - replacedWinners), checker: lateCheckers > replacedCheckers }
}

/** The replacement round due now (undefined when none is possible). */
export function replacementOf (t: TaskRecord): { round: number, winners: string[], checker?: string } | undefined {
  const round = (lastRound(t) ?? 0) + 1
  if (round > MAX_REPLACEMENT_ROUNDS) return undefined
  const need = unreplaced(t)
  if (need.winners === 0 && !need.checker) return undefined
  const picks = replacementsOf(t.ranking, excludedOf(t), need.winners + (need.checker ? 1 : 0))
  if (picks.length === 0) return undefined
  const winners = picks.slice(0, need.winners)
  const checker = need.checker ? picks[need.winners] : undefined
  return { round, winners, ...(checker !== undefined ? { checker } : {}) }
}

function faultsUnslashed (t: TaskRecord): string[] {
  return (t.settlement?.faults ?? []).filter(f => !t.slashes.some(s => s.provider === f && s.reason === 'fault'))
}

/**
 * The settle of an awarded task whose awaited results are in (or will never come). `excused`: assignments whose inputs
 * a validator found unavailable. They are left out of the verification, unpaid and unslashed, and their share of the
 * escrow goes back; the results of the others settle as usual, except that no validator can re-execute (it could not
 * fetch the inputs), so what only a re-execution could settle is refunded whole, `inputs-unavailable`, and so is a
 * settle that would pay no winner (a checker alone has checked nothing).
 */
function settleStep (t: TaskRecord, reexecution?: string, excused: readonly AssignmentRecord[] = []): Step {
  const assigned = standing(t).filter(a => !excused.includes(a)).map(a => ({ provider: a.provider, price: a.price, role: a.role }))
  const results = new Map<string, string>()
  for (const a of assigned) {
    const r = t.results.get(a.provider)
    if (r?.inTime === true) results.set(a.provider, r.commitment)
  }
  const escrow = escrowOfRecord(t)
  const d = settleOf({ escrow, verification: t.announce.verification, k: t.announce.k, assigned, results, noReexecution: t.announce.private || excused.length > 0, ...(reexecution !== undefined ? { reexecution } : {}) })
  if ('dispute' in d) return { kind: 'dispute' }
  if (excused.length > 0 && !d.payouts.some(p => assigned.some(a => a.provider === p.provider && a.role === 'winner'))) return { kind: 'settle', decision: refundAll(escrow, 'inputs-unavailable') }
  return { kind: 'settle', decision: d }
}

/**
 * True when no transaction still to come can change the first award (read on the final clock, `sealedThroughMs`):
 * every validator is final past the reveal window (a reveal is in time at a vertex time <= its close), or past the
 * bid window with every in-time commit already revealed (a reveal needs a commit, and no commit can still come).
 */
export function auctionSealed (t: TaskRecord, sealedThroughMs: number | undefined): boolean {
  if (sealedThroughMs === undefined) return false
  if (sealedThroughMs > revealsCloseAt(t)) return true
  const bidsClose = bidsCloseAt(t)
  return sealedThroughMs > bidsClose && [...t.bids.values()].every(b => b.commitTimeMs > bidsClose || b.revealTx !== undefined)
}

/** The next step of a task at `clock`; `reexecution` is this node's re-execution commitment once it has one. */
export function nextStep (t: TaskRecord, clock: PlanClock, reexecution?: string): Step {
  const escrow = escrowOfRecord(t)
  if (t.settlement !== undefined) {
    const faults = faultsUnslashed(t)
    return faults.length > 0 ? { kind: 'slash-fault', providers: faults } : { kind: 'done' }
  }
  if (t.awards.length === 0) {
    if (t.cancelRequested) return { kind: 'settle', decision: refundAll(escrow, 'cancelled') }
    const closes = revealsCloseAt(t)
    if (!graceOver(clock, closes) && !auctionSealed(t, clock.sealedThroughMs)) return { kind: 'wait', untilMs: closes + clock.lateGraceMs }
    return { kind: 'award', round: 0, considered: consideredReveals(t) }
  }
  if (t.awards[0].winners.length === 0) return { kind: 'settle', decision: refundAll(escrow, 'expired') }
  const outstandingNow = outstanding(t)
  const waiting = outstandingNow.filter(a => !excusedByInputs(t, a))
  if (waiting.length === 0) {
    // what is still outstanding is excused (its inputs are unavailable): nobody else can fetch them either, so no
    // replacement; with no winner's result in, the whole escrow goes back at once, nobody paid or slashed for it
    const excused = outstandingNow
    if (excused.length > 0 && !standing(t).some(a => a.role === 'winner' && t.results.get(a.provider)?.inTime === true)) return { kind: 'settle', decision: refundAll(escrow, 'inputs-unavailable') }
    let lastMs = t.awards.at(-1)?.timeMs ?? 0
    for (const a of standing(t)) lastMs = Math.max(lastMs, t.results.get(a.provider)?.timeMs ?? 0)
    if (clock.nowMs < lastMs + clock.verificationWindowMs) return { kind: 'wait', untilMs: lastMs + clock.verificationWindowMs }
    const replace = excused.length > 0 ? undefined : replacementOf(t)
    if (replace !== undefined) return { kind: 'replace', ...replace }
    return settleStep(t, reexecution, excused)
  }
  const due = waiting.filter(a => graceOver(clock, lateAfter(t, a)))
  if (due.length > 0) return { kind: 'slash-late', providers: due.map(a => a.provider) }
  return { kind: 'wait', untilMs: Math.min(...waiting.map(a => lateAfter(t, a) + clock.lateGraceMs)) }
}

/** The escrowed amount of a task. */
export function escrowOfRecord (t: TaskRecord): bigint {
  return t.announce.budget * BigInt(t.announce.redundancy + (t.announce.verification === 'spot-check' ? 1 : 0))
}

/** The validators' stake and the quorum (the genesis's), as the commit rule's dispute rule reads them. */
export interface Quorum {
  /** stake by validator address (hex) */
  stake: ReadonlyMap<string, number>
  quorum: number
}

/**
 * Under the commit rule, the re-execution that settles a dispute: the commitment that validators holding the quorum
 * of stake put in the order (task-reexec), or undefined while none has it. At most one can (quorums intersect).
 */
export function agreedReexecution (t: TaskRecord, q: Quorum): string | undefined {
  const stakeOf = new Map<string, number>()
  for (const [validator, commitment] of t.reexecutions ?? []) stakeOf.set(commitment, (stakeOf.get(commitment) ?? 0) + (q.stake.get(validator) ?? 0))
  for (const [commitment, stake] of stakeOf) if (stake >= q.quorum) return commitment
  return undefined
}
