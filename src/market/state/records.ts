/**
 * The market state's stored records (the `market` sublevel, prefixes in src/core/storage.ts) and their views.
 * Records are written with the structured-clone encoding (`node:v8`): bigints and byte arrays round-trip without
 * per-field codecs, and a record that does not decode is refused (never half-read).
 */
import { deserialize, serialize } from 'node:v8'
import { formatAddress } from '../../core/address.ts'
import { fromHex, toHex } from '../../core/codec.ts'
import type { InputVerdict, LossReason, SettleOutcome, SlashReason, TaskAnnouncePayload, Capability } from '../kinds/index.ts'
import { INPUT_EXTENSION_MAX_MS, INPUT_VERDICT_WAIT_MS } from '../rules/constants.ts'
import { escrowOf } from '../kinds/index.ts'
import type { ReputationRecord } from '../rules/reputation.ts'
import type { RankedBid } from '../rules/award.ts'
import type { AwardView, BidView, InputClaimView, PaymentView, ProviderView, ResultVerdict, TaskPhase, TaskView } from './reader.ts'

export interface BidRecord {
  provider: string
  commitTx: string
  commitTimeMs: number
  commitment: string
  revealTx?: string
  revealTimeMs?: number
  price?: bigint
  /** the reveal opened the commitment */
  matches?: boolean
  /** commit in the bid window and reveal in the reveal window */
  inTime?: boolean
  /** a private task's bid: the provider's ML-KEM-768 key for the task, hex (what its inputs are sealed to) */
  taskKey?: string
}

export interface AwardRecord {
  txId: string
  round: number
  timeMs: number
  winners: string[]
  checker?: string
  considered: string[]
}

export interface AssignmentRecord {
  provider: string
  price: bigint
  role: 'winner' | 'checker'
  round: number
  /** in-time results are due by then */
  deadlineMs: number
  /** `late`: slashed for no in-time result (and replaced when a bid was left) */
  state: 'open' | 'late'
}

export interface ResultRecord {
  txId: string
  provider: string
  round: number
  timeMs: number
  commitment: string
  outputBlob: string
  outputBytes: number
  profile: string
  inTime: boolean
}

export interface SettlementRecord {
  txId: string
  timeMs: number
  outcome: SettleOutcome
  payouts: Array<{ provider: string, amount: bigint }>
  fee: bigint
  refund: bigint
  /** assigned providers with an in-time result that was not paid (a verified outcome: a fault) */
  faults: string[]
}

/** An assigned provider's claim that it could not fetch the task's inputs (input-claim), and the verdict on it. */
export interface InputClaimRecord {
  provider: string
  round: number
  /** 0 for the provider's first claim of the round, 1.. for its appeals (absent in records before s43: 0) */
  attempt?: number
  txId: string
  timeMs: number
  /** a private task's claim that revealed the seed of the claimant's task key (hex): its judge opens the envelopes */
  keySeed?: string
  /**
   * `needs` (an `unavailable` verdict's, s48): how many distinct judges' `unavailable` verdicts excuse the claimant
   * (rules/input-judge.ts `unavailableJudgesNeeded`, as of the verdict); absent in records before s48: 1
   */
  verdict?: { outcome: InputVerdict, validator: string, txId: string, timeMs: number, needs?: number }
}

export interface SlashRecord { txId: string, provider: string, reason: SlashReason, amount: bigint, timeMs: number }

export interface TaskRecord {
  taskId: string
  /** hex address */
  requester: string
  announceTx: string
  announcedAtMs: number
  announce: TaskAnnouncePayload
  bids: Map<string, BidRecord>
  awards: AwardRecord[]
  /** the first round's valid bids in the award rule's order (replacements come from it) */
  ranking: RankedBid[]
  /** why each bidder lost (first round), or was found invalid */
  losses: Map<string, LossReason>
  assigned: AssignmentRecord[]
  results: Map<string, ResultRecord>
  slashes: SlashRecord[]
  settlement?: SettlementRecord
  cancelRequested: boolean
  /** commit rule: validators' re-execution commitments of a disputed task (validator address hex → commitment hex) */
  reexecutions?: Map<string, string>
  /** input claims of assigned providers and their verdicts (absent: none) */
  inputClaims?: InputClaimRecord[]
}

export interface ProviderRecord {
  address: string
  bond: bigint
  kemPublicKey: Uint8Array
  capability: Capability
  registeredAtMs: number
  attestation?: { challengeId: string, measuredGflopsMilli: number, passed: boolean, timeMs: number, txId: string }
  reputation: ReputationRecord
  verified: number
  faults: number
  lates: number
  received: bigint
  /** open awards: task id → the bid price it is owed on a verified result */
  owed: Map<string, bigint>
}

export function encodeRecord (value: TaskRecord | ProviderRecord | PaymentView): Uint8Array {
  return new Uint8Array(serialize(value))
}

export function decodeRecord<T> (bytes: Uint8Array): T {
  return deserialize(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as T
}

export function isTerminal (t: TaskRecord): boolean {
  return t.settlement !== undefined
}

/** Settled and every fault slashed: nothing more for the coordinator to do (the task leaves the open set). */
export function isDone (t: TaskRecord): boolean {
  const s = t.settlement
  if (s === undefined) return false
  return s.faults.every(f => t.slashes.some(x => x.provider === f && x.reason === 'fault'))
}

export function bidsCloseAt (t: TaskRecord): number { return t.announcedAtMs + t.announce.bidWindowMs }
export function revealsCloseAt (t: TaskRecord): number { return bidsCloseAt(t) + t.announce.revealWindowMs }
export function escrowOfTask (t: TaskRecord): bigint { return escrowOf(t.announce) }

/** The input claims of `provider` for award round `round`, first claim first (each later one an appeal). */
export function claimsOf (t: TaskRecord, provider: string, round: number): InputClaimRecord[] {
  return (t.inputClaims ?? []).filter(c => c.provider === provider && c.round === round)
}

/**
 * Whether an assignment's input claims excuse it (docs/market.md "Inputs no peer serves"): its claims of the round
 * hold `unavailable` verdicts of as many distinct judges as those verdicts need (two; one where a single validator
 * may judge the claimant, and in records before s48). The provider could not fetch the inputs and neither could the
 * judges, so it is not late. A function of the verdicts alone: the same whatever order they were applied in.
 */
export function excusedByInputs (t: TaskRecord, a: Pick<AssignmentRecord, 'provider' | 'round'>): boolean {
  const unavailable = claimsOf(t, a.provider, a.round).flatMap(c => (c.verdict?.outcome === 'unavailable' ? [c.verdict] : []))
  const judges = new Set(unavailable.map(v => v.validator)).size
  return unavailable.some(v => judges >= (v.needs ?? 1))
}

/**
 * Until when claim `c` of `t` holds its claimant's late slash, past the deadline: without a verdict,
 * INPUT_VERDICT_WAIT_MS after the claim (its judge's window, or an appeal's); with an `unavailable` verdict while it
 * is the claimant's last claim of the round, INPUT_VERDICT_WAIT_MS after the verdict (the time to appeal for a second
 * judge's; once appealed, the appeal holds it). Undefined otherwise.
 */
export function claimHoldsSlashUntil (t: TaskRecord, c: InputClaimRecord): number | undefined {
  if (c.verdict === undefined) return c.timeMs + INPUT_VERDICT_WAIT_MS
  if (c.verdict.outcome !== 'unavailable' || claimsOf(t, c.provider, c.round).at(-1) !== c) return undefined
  return c.verdict.timeMs + INPUT_VERDICT_WAIT_MS
}

/**
 * When an assignment's result is due: its deadline, or, once a validator found the inputs `available` on one of its
 * claims, the latest such verdict's time plus the task's execution deadline (at most INPUT_EXTENSION_MAX_MS), if later.
 * A maximum over the claims' verdicts: the same whatever order they were applied in.
 */
export function resultDueAt (t: TaskRecord, a: Pick<AssignmentRecord, 'provider' | 'round' | 'deadlineMs'>): number {
  let due = a.deadlineMs
  for (const c of claimsOf(t, a.provider, a.round)) {
    if (c.verdict?.outcome === 'available') due = Math.max(due, extendedDue(t, c.verdict.timeMs))
  }
  return due
}

/** The deadline an `available` verdict stamped at `verdictMs` gives its claimant. */
export function extendedDue (t: TaskRecord, verdictMs: number): number {
  return verdictMs + Math.min(t.announce.executionDeadlineMs, INPUT_EXTENSION_MAX_MS)
}

/** Assignments still standing (not late). */
export function standing (t: TaskRecord): AssignmentRecord[] {
  return t.assigned.filter(a => a.state === 'open')
}

export function lastRound (t: TaskRecord): number | undefined {
  return t.awards.at(-1)?.round
}

const addr = (hex: string): string => formatAddress(fromHex(hex))

export function phaseOf (t: TaskRecord, nowMs: number): TaskPhase {
  const s = t.settlement
  if (s !== undefined) {
    if (s.outcome === 'cancelled') return 'cancelled'
    if (s.outcome === 'expired') return 'expired'
    if (s.outcome === 'failed') return 'refunded'
    return s.payouts.length > 0 ? 'settled' : 'refunded'
  }
  if (t.awards.length === 0) {
    if (nowMs <= bidsCloseAt(t)) return 'bidding'
    return 'revealing'
  }
  const open = standing(t)
  if (open.length > 0 && open.every(a => t.results.get(a.provider)?.inTime === true)) return 'verifying'
  if (open.some(a => t.results.has(a.provider))) return 'executing'
  return 'awarded'
}

function resultVerdict (t: TaskRecord, r: ResultRecord): ResultVerdict {
  if (!r.inTime || t.assigned.some(a => a.provider === r.provider && a.state === 'late')) return 'late'
  const s = t.settlement
  if (s === undefined) return 'pending'
  // neither paid nor faulted, and never will be: it must not read as still waiting for verification
  if (s.outcome === 'unresolved') return 'unresolved'
  if (t.slashes.some(x => x.provider === r.provider && x.reason === 'fault') || s.faults.includes(r.provider)) return 'fault'
  return s.payouts.some(p => p.provider === r.provider) ? 'agrees' : 'pending'
}

export function taskView (t: TaskRecord, nowMs: number): TaskView {
  const a = t.announce
  const open = standing(t)
  let params: unknown
  try { params = JSON.parse(a.spec.paramsJson) } catch { params = null }
  return {
    taskId: t.taskId,
    requester: addr(t.requester),
    announceTx: t.announceTx,
    announcedAtMs: t.announcedAtMs,
    phase: phaseOf(t, nowMs),
    spec: { kernel: a.spec.kernel, params, ...(a.spec.wgslBlob !== undefined ? { wgslBlob: toHex(a.spec.wgslBlob) } : {}) },
    inputs: a.inputs.map(i => toHex(i)),
    outputLimitBytes: a.outputLimitBytes,
    budget: a.budget,
    redundancy: a.redundancy,
    k: a.k,
    verification: a.verification,
    bidWindowMs: a.bidWindowMs,
    revealWindowMs: a.revealWindowMs,
    executionDeadlineMs: a.executionDeadlineMs,
    requirements: { ...a.requirements },
    private: a.private,
    ...(a.requesterKemKey !== undefined ? { requesterKemKey: toHex(a.requesterKemKey) } : {}),
    reannounce: a.reannounce,
    escrow: escrowOf(a),
    bidsCloseAtMs: bidsCloseAt(t),
    revealsCloseAtMs: revealsCloseAt(t),
    ...(t.awards.length > 0 ? { round: lastRound(t) } : {}),
    awards: t.awards.map((w): AwardView => ({
      txId: w.txId,
      round: w.round,
      timeMs: w.timeMs,
      deadlineMs: w.timeMs + a.executionDeadlineMs,
      winners: w.winners.map(addr),
      ...(w.checker !== undefined ? { checker: addr(w.checker) } : {}),
      considered: [...w.considered]
    })),
    winners: open.filter(x => x.role === 'winner').map(x => addr(x.provider)),
    ...(open.some(x => x.role === 'checker') ? { checker: addr((open.find(x => x.role === 'checker') as AssignmentRecord).provider) } : {}),
    results: [...t.results.values()].map(r => ({
      txId: r.txId, provider: addr(r.provider), round: r.round, timeMs: r.timeMs, commitment: r.commitment, outputBlob: r.outputBlob, outputBytes: r.outputBytes, profile: r.profile, verdict: resultVerdict(t, r)
    })),
    slashes: t.slashes.map(s => ({ txId: s.txId, provider: addr(s.provider), reason: s.reason, amount: s.amount, timeMs: s.timeMs })),
    inputClaims: (t.inputClaims ?? []).map(c => claimView(t, c)),
    ...(t.settlement !== undefined
      ? { settlement: { txId: t.settlement.txId, timeMs: t.settlement.timeMs, outcome: t.settlement.outcome, payouts: t.settlement.payouts.map(p => ({ provider: addr(p.provider), amount: p.amount })), fee: t.settlement.fee, refund: t.settlement.refund } }
      : {}),
    cancelRequested: t.cancelRequested,
    bidCount: t.bids.size
  }
}

function claimView (t: TaskRecord, c: InputClaimRecord): InputClaimView {
  const deadlineMs = t.assigned.find(a => a.provider === c.provider && a.round === c.round)?.deadlineMs ?? 0
  const excused = excusedByInputs(t, c)
  const holds = excused ? undefined : claimHoldsSlashUntil(t, c)
  return {
    txId: c.txId,
    provider: addr(c.provider),
    round: c.round,
    attempt: c.attempt ?? 0,
    timeMs: c.timeMs,
    keyRevealed: c.keySeed !== undefined,
    ...(c.verdict !== undefined ? { verdict: { outcome: c.verdict.outcome, validator: addr(c.verdict.validator), txId: c.verdict.txId, timeMs: c.verdict.timeMs } } : {}),
    dueAtMs: resultDueAt(t, { provider: c.provider, round: c.round, deadlineMs }),
    ...(holds !== undefined ? { holdsSlashUntilMs: Math.max(deadlineMs, holds) } : {}),
    excused
  }
}

export function bidViews (t: TaskRecord): BidView[] {
  const firstAward = t.awards[0]
  const considered = new Set(firstAward?.considered ?? [])
  const rank = new Map(t.ranking.map((r, i) => [r.provider, i]))
  const out: BidView[] = []
  for (const b of t.bids.values()) {
    const won = t.assigned.find(a => a.provider === b.provider)
    let status: BidView['status']
    let lossReason: LossReason | undefined
    if (won !== undefined) status = 'won'
    else if (b.revealTx === undefined) {
      status = firstAward === undefined ? 'committed' : 'lost'
      if (firstAward !== undefined) lossReason = 'unrevealed'
    } else if (b.matches === false || b.inTime === false) {
      status = 'invalid'
      lossReason = b.matches === false ? 'reveal-mismatch' : 'late'
    } else if (firstAward === undefined) status = 'revealed'
    else if (!considered.has(b.revealTx)) { status = 'excluded'; lossReason = 'excluded' } else {
      lossReason = t.losses.get(b.provider)
      status = lossReason === 'price' || lossReason === 'tie-reputation' || lossReason === 'tie-hash' || lossReason === undefined ? 'lost' : 'invalid'
    }
    out.push({
      taskId: t.taskId,
      provider: addr(b.provider),
      commitTx: b.commitTx,
      commitTimeMs: b.commitTimeMs,
      ...(b.revealTx !== undefined ? { revealTx: b.revealTx, revealTimeMs: b.revealTimeMs } : {}),
      ...(b.price !== undefined ? { price: b.price } : {}),
      ...(b.taskKey !== undefined ? { taskKey: b.taskKey } : {}),
      status,
      ...(lossReason !== undefined ? { lossReason } : {}),
      ...(won !== undefined ? { round: won.round } : {}),
      ...(rank.has(b.provider) ? { rank: rank.get(b.provider) } : {})
    })
  }
  return out.sort((x, y) => (x.rank ?? 1e9) - (y.rank ?? 1e9) || x.commitTimeMs - y.commitTimeMs)
}

export function providerView (p: ProviderRecord): ProviderView {
  let owed = 0n
  for (const v of p.owed.values()) owed += v
  let reputation = p.reputation.base
  for (const [, d] of p.reputation.recent) reputation += d
  return {
    address: addr(p.address),
    bond: p.bond,
    kemPublicKey: toHex(p.kemPublicKey),
    capability: { ...p.capability },
    registeredAtMs: p.registeredAtMs,
    ...(p.attestation !== undefined ? { attestation: { ...p.attestation } } : {}),
    reputation,
    verified: p.verified,
    faults: p.faults,
    lates: p.lates,
    received: p.received,
    owed,
    openTasks: [...p.owed.keys()]
  }
}
