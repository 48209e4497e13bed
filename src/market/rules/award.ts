/**
 * The award rule (docs/market.md "Award rule"), pure and deterministic: every node recomputes it from the reveals
 * an award lists and agrees. Valid reveals are sorted by price ascending, then standing descending (reputation
 * counted only below zero), then sha256(taskId ‖ provider) ascending; the first r win. In spot-check mode the
 * checker is the valid non-winner with the lowest sha256(seed ‖ provider), the seed fixed by the considered reveals
 * before anyone knows the winner.
 */
import { compareBytes, fromHex, toHex } from '../../core/codec.ts'
import { sha256 } from '../../core/crypto.ts'
import type { Capability, LossReason, TaskRequirements } from '../kinds/index.ts'
import { MIN_BOND } from './constants.ts'

const SEED_TAG = new TextEncoder().encode('HARMONY/market/spot-check/v1')

/** One revealed bid as the rule sees it. */
export interface RevealedBid {
  /** provider address, hex */
  provider: string
  /** the reveal transaction's id, hex */
  revealTx: string
  price: bigint
  /** the reveal opens its commitment */
  matches: boolean
  /** commit and reveal were each in their window */
  inTime: boolean
  /** the provider's bond when the reveals closed (0 when not registered) */
  bond: bigint
  capability?: Capability
  attested: boolean
  /** the provider's reputation as the rule counts it (reputationAt) */
  reputation: number
  /** already slashed for this task (never awarded it again) */
  slashed: boolean
}

export interface AwardTask {
  /** hex */
  taskId: string
  budget: bigint
  redundancy: number
  spotCheck: boolean
  requirements: TaskRequirements
}

export interface RankedBid { provider: string, revealTx: string, price: bigint, reputation: number, tieHash: string }

export interface AwardOutcome {
  /** valid bids in the rule's order */
  ranking: RankedBid[]
  winners: string[]
  checker?: string
  /** why each provider that is not a winner or the checker lost */
  losses: Map<string, LossReason>
}

/** Why a revealed bid is not valid (undefined: valid). */
export function invalidReason (bid: RevealedBid, task: AwardTask): LossReason | undefined {
  if (!bid.inTime) return 'late'
  if (!bid.matches) return 'reveal-mismatch'
  if (bid.price > task.budget) return 'over-budget'
  if (bid.bond < MIN_BOND) return 'no-bond'
  if (bid.slashed) return 'slashed'
  if (bid.capability === undefined || !meetsRequirements(bid.capability, bid.attested, task.requirements)) return 'capability'
  return undefined
}

export function meetsRequirements (c: Capability, attested: boolean, r: TaskRequirements): boolean {
  if (r.executor !== 'any' && c.executor !== r.executor) return false
  if (c.gflopsMilli < r.minGflopsMilli || c.memoryMiB < r.minMemoryMiB) return false
  return !r.attested || attested
}

function tieHash (taskId: string, provider: string): string {
  return toHex(sha256(fromHex(taskId), fromHex(provider)))
}

/**
 * What the rule's tie-break reads of a reputation: its faults, not its track record. Every provider in good standing
 * (verified results at least make up for its faults and lates) stands at 0, so at an equal price the hash, which
 * differs per task, spreads the work among them; a provider whose faults outweigh its verified results ranks below
 * them, by how far. Counting the whole sum let whoever won first win every tie after it, so a new provider at the
 * default price never got work (s34; docs/decisions.md).
 */
export function standingOf (reputation: number): number {
  return Math.min(reputation, 0)
}

/** The rule's order: price ascending, standing descending, sha256(taskId ‖ provider) ascending. */
export function rankBids (taskId: string, valid: ReadonlyArray<Pick<RevealedBid, 'provider' | 'revealTx' | 'price' | 'reputation'>>): RankedBid[] {
  // one bid per provider: its cheapest valid reveal (a provider reveals at most once per commit; it may commit once)
  const best = new Map<string, RankedBid>()
  for (const b of valid) {
    const cur = best.get(b.provider)
    if (cur === undefined || b.price < cur.price) best.set(b.provider, { provider: b.provider, revealTx: b.revealTx, price: b.price, reputation: b.reputation, tieHash: tieHash(taskId, b.provider) })
  }
  return [...best.values()].sort((a, b) => {
    if (a.price !== b.price) return a.price < b.price ? -1 : 1
    const standing = standingOf(b.reputation) - standingOf(a.reputation)
    if (standing !== 0) return standing
    return a.tieHash < b.tieHash ? -1 : a.tieHash > b.tieHash ? 1 : 0
  })
}

/** The spot-check seed: sha256(tag ‖ taskId ‖ considered reveal ids in ascending order). */
export function spotCheckSeed (taskId: string, considered: readonly string[]): Uint8Array {
  const ids = [...considered].sort().map(id => fromHex(id))
  return sha256(SEED_TAG, fromHex(taskId), ...ids)
}

/** The first award of a task over the considered reveals. */
export function awardOf (task: AwardTask, bids: readonly RevealedBid[]): AwardOutcome {
  const losses = new Map<string, LossReason>()
  const valid: RevealedBid[] = []
  for (const b of bids) {
    const reason = invalidReason(b, task)
    if (reason === undefined) valid.push(b)
    else if (!losses.has(b.provider)) losses.set(b.provider, reason)
  }
  const ranking = rankBids(task.taskId, valid)
  for (const r of ranking) losses.delete(r.provider)
  const winners = ranking.slice(0, task.redundancy).map(r => r.provider)
  let checker: string | undefined
  if (task.spotCheck) {
    const seed = spotCheckSeed(task.taskId, bids.map(b => b.revealTx))
    let bestHash: Uint8Array | undefined
    for (const r of ranking.slice(task.redundancy)) {
      const h = sha256(seed, fromHex(r.provider))
      if (bestHash === undefined || compareBytes(h, bestHash) < 0) { bestHash = h; checker = r.provider }
    }
  }
  const last = ranking[winners.length - 1]
  for (const r of ranking) {
    if (winners.includes(r.provider) || r.provider === checker) continue
    losses.set(r.provider, lossAgainst(r, last))
  }
  return { ranking, winners, ...(checker !== undefined ? { checker } : {}), losses }
}

/** Why `r` lost to the last winner `last`. */
function lossAgainst (r: RankedBid, last: RankedBid | undefined): LossReason {
  if (last === undefined || r.price > last.price) return 'price'
  if (standingOf(r.reputation) < standingOf(last.reputation)) return 'tie-reputation'
  return 'tie-hash'
}

/**
 * A replacement round: the next valid bids of the first round's ranking, skipping everyone already awarded (or
 * slashed) for this task. `needed` replacements at most.
 */
export function replacementsOf (ranking: readonly RankedBid[], excluded: ReadonlySet<string>, needed: number): string[] {
  const out: string[] = []
  for (const r of ranking) {
    if (out.length >= needed) break
    if (!excluded.has(r.provider)) out.push(r.provider)
  }
  return out
}
