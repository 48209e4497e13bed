/**
 * Verification outcome and settlement amounts (docs/market.md "Verification and settlement"), pure: every
 * validator recomputes the settle from the final results and checks the one it is asked to vote for.
 *
 * Results compare by commitment (bitwise within one executor profile). `none` pays the winners' results;
 * `redundancy` pays the group of ≥ k equal results (a unique largest group) and faults the rest; `spot-check` pays
 * when the winners and the checker agree. Anything else is a dispute that the validators' re-execution decides:
 * the results equal to it are paid, the others are faults; a private task cannot be re-executed (its inputs are
 * sealed to its providers), so its dispute ends `unresolved`: all refunded, nobody paid, nobody slashed. Pay as bid; the fee (MARKET_FEE_BPS) comes out of each
 * payout; the refund is what is left of the escrow, so a settle moves exactly the escrow.
 */
import { FEE_POOL_ACCOUNT } from '../../dag/fee-pool.ts'
import type { SettleOutcome, SlashReason, VerificationMode } from '../kinds/index.ts'
import { MARKET_FEE_BPS, SLASH_FAULT_BPS, SLASH_LATE_BPS } from './constants.ts'

export interface Assignment {
  provider: string
  /** the bid price paid on a verified result */
  price: bigint
  role: 'winner' | 'checker'
}

export interface SettleInput {
  escrow: bigint
  verification: VerificationMode
  k: number
  /** the standing assignments (late ones already replaced are left out) */
  assigned: readonly Assignment[]
  /** in-time results of assigned providers: provider → commitment hex */
  results: ReadonlyMap<string, string>
  /** this node's re-execution of the task (a dispute): its commitment */
  reexecution?: string
  /** No validator can re-execute the task (a private task: its inputs are sealed to its providers). */
  noReexecution?: boolean
  /** the task was cancelled or never awarded */
  cancelled?: boolean
}

export interface SettleDecision {
  outcome: SettleOutcome
  payouts: Array<{ provider: string, amount: bigint }>
  fee: bigint
  refund: bigint
  /** assigned providers whose in-time result disagreed with the verified one */
  faults: string[]
}

/** Needs a re-execution before it can be settled. */
export interface DisputeNeeded { dispute: true }

export function feeOf (price: bigint): bigint {
  return price * MARKET_FEE_BPS / 10_000n
}

/** Pays `paid` at their prices (minus the fee), refunds the rest of the escrow. */
export function settlementOf (escrow: bigint, outcome: SettleOutcome, paid: readonly Assignment[], faults: string[] = []): SettleDecision {
  let spent = 0n
  let fee = 0n
  const payouts: Array<{ provider: string, amount: bigint }> = []
  for (const a of [...paid].sort((x, y) => (x.provider < y.provider ? -1 : 1))) {
    const f = feeOf(a.price)
    payouts.push({ provider: a.provider, amount: a.price - f })
    fee += f
    spent += a.price
  }
  if (spent > escrow) throw new RangeError('payouts above the escrow: the award rule admits no price above the budget')
  return { outcome, payouts, fee, refund: escrow - spent, faults: [...faults].sort() }
}

/** The settle of a task with no verified result to pay (expired, cancelled, failed). */
export function refundAll (escrow: bigint, outcome: 'expired' | 'cancelled' | 'failed' | 'unresolved' | 'inputs-unavailable'): SettleDecision {
  return settlementOf(escrow, outcome, [])
}

/** The verification outcome and the amounts; a dispute without re-execution asks for one. */
export function settleOf (input: SettleInput): SettleDecision | DisputeNeeded {
  const { escrow, assigned, results } = input
  if (input.cancelled === true) return refundAll(escrow, 'cancelled')
  const answered = assigned.filter(a => results.has(a.provider))
  if (answered.length === 0) return refundAll(escrow, 'failed')
  const winners = answered.filter(a => a.role === 'winner')
  if (input.verification === 'none') return winners.length === 0 ? refundAll(escrow, 'failed') : settlementOf(escrow, 'paid', winners)
  if (input.verification === 'redundancy') {
    const groups = new Map<string, Assignment[]>()
    for (const a of winners) {
      const c = results.get(a.provider) as string
      const g = groups.get(c)
      if (g === undefined) groups.set(c, [a])
      else g.push(a)
    }
    const sorted = [...groups.entries()].sort((x, y) => y[1].length - x[1].length)
    const [top, next] = sorted
    if (top !== undefined && top[1].length >= input.k && (next === undefined || next[1].length < top[1].length)) {
      return settlementOf(escrow, 'paid', top[1], winners.filter(a => results.get(a.provider) !== top[0]).map(a => a.provider))
    }
  } else {
    const checker = answered.find(a => a.role === 'checker')
    // without the checker's answer (late, no replacement left) the winners are paid unchecked
    if (checker === undefined) return winners.length === 0 ? refundAll(escrow, 'failed') : settlementOf(escrow, 'paid', winners)
    const c = results.get(checker.provider)
    if (winners.every(w => results.get(w.provider) === c)) return settlementOf(escrow, 'paid', answered)
  }
  // never a payout to a result nobody can check, never a slash without proof
  if (input.noReexecution === true) return refundAll(escrow, 'unresolved')
  if (input.reexecution === undefined) return { dispute: true }
  const agree = answered.filter(a => results.get(a.provider) === input.reexecution)
  const faults = answered.filter(a => results.get(a.provider) !== input.reexecution).map(a => a.provider)
  return agree.length === 0 ? { ...settlementOf(escrow, 'disputed', [], faults) } : settlementOf(escrow, 'disputed', agree, faults)
}

/** What a late or faulty provider loses: a share of its bond (at least 1 when it has any). */
export function slashAmount (bond: bigint, reason: 'late' | 'fault'): bigint {
  if (bond <= 0n) return 0n
  const share = bond * (reason === 'late' ? SLASH_LATE_BPS : SLASH_FAULT_BPS) / 10_000n
  return share > 0n ? share : 1n
}

/**
 * Who a slash pays. A fault (a result the verification refuted) compensates the requester. A late slash goes to the
 * validators' fee pool: a requester decides whether its winners can fetch its inputs (a blob it never serves, a
 * private task's inputs its node never seals to the winner), so a late slash paid to it would let it take honest
 * providers' bonds by withholding them.
 */
export function slashBeneficiary (reason: SlashReason, requester: Uint8Array): Uint8Array {
  return reason === 'late' ? FEE_POOL_ACCOUNT : requester
}
