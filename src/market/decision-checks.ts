/**
 * The market's checks of a validator's decision (award, settle, slash), recomputed from this node's market state
 * with the plan (rules/plan.ts) the issuer used, through a `CheckView`: the coordinator's node view under Avalanche
 * (this node's clock, its lag answers `pending`, its own re-execution of a dispute) before it votes, or its order
 * view under the commit rule (the state as of the decision's slot and the carrying vertex's signed time) where the
 * order reaches the decision.
 */
import { BoundedSet } from '../core/bounded-set.ts'
import type { Logger } from '../core/logger.ts'
import { bytesEqual, fromHex, toHex } from '../core/codec.ts'
import type { ExternalVerdict } from '../dag/external-validity.ts'
import type { TxInfo } from '../dag/tx.ts'
import { bondSlashKind, settleTotal, taskAwardKind, taskSettleKind } from './kinds/index.ts'
import { awardOf } from './rules/award.ts'
import { escrowOfRecord, type PlanClock, type Step } from './rules/plan.ts'
import { slashAmount, slashBeneficiary } from './rules/settle.ts'
import { awardTaskOf, revealedBids } from './state/apply.ts'
import type { MarketState } from './state/market-state.ts'
import type { TaskRecord } from './state/records.ts'

/** Invalid decisions whose reason was logged (each is logged once). */
const REPORTED_INVALID = 1000

/** What a check reads: the plan's clock, whether the decision's account is behind here, and the step (a dispute's re-execution). */
export interface CheckView {
  clock: () => PlanClock
  behind: (tx: TxInfo) => Promise<boolean>
  step: (t: TaskRecord, clock: PlanClock) => Promise<Step>
}

function sameAddresses (a: readonly Uint8Array[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => toHex(x) === b[i])
}

function sameOptional (a: Uint8Array | undefined, b: string | undefined): boolean {
  return a === undefined ? b === undefined : toHex(a) === b
}


export class DecisionChecks {
  private readonly state: MarketState
  private readonly log: Logger
  private readonly reportedInvalid = new BoundedSet(REPORTED_INVALID)
  private readonly providers = { provider: async (address: string) => await this.state.providerRecord(address) }

  constructor (state: MarketState, log: Logger) {
    this.state = state
    this.log = log
  }

  /** True when this node found the decision invalid (the coordinator does not wait for such a decision's slot). */
  reported (txId: string): boolean { return this.reportedInvalid.has(txId) }

  private async taskOf (taskId: Uint8Array): Promise<TaskRecord | undefined> {
    return await this.state.taskRecord(toHex(taskId))
  }

  /**
   * Says `invalid` (and logs why, once per transaction: the veto is what stalls a slot, so its reason must be
   * visible) for a decision this node's state proves can never become right.
   */
  private invalid (tx: TxInfo, why: string): ExternalVerdict {
    if (this.reportedInvalid.add(tx.idHex)) {
      this.log.warn({ tx: tx.idHex, kind: tx.tx.kind, why }, 'market decision is invalid on this node\'s state')
    }
    return 'invalid'
  }

  /**
   * Recomputes an award from this node's market state. Views differ by timing (a reveal final here and not yet on
   * the issuer when it issued; a window closed on one clock and not the other): such a difference answers
   * `pending` or is not a veto at all, and only what can never become right answers `invalid`.
   */
  async checkAward (tx: TxInfo, view: CheckView): Promise<ExternalVerdict> {
    const p = taskAwardKind.decode(tx.tx.payload)
    if (await view.behind(tx)) return 'pending'
    const t = await this.taskOf(p.taskId)
    if (t === undefined) return 'pending'
    if (t.settlement !== undefined) return this.invalid(tx, 'task already settled')
    const expected = t.awards.length === 0 ? 0 : (t.awards.at(-1)?.round ?? 0) + 1
    if (p.round < expected) return this.invalid(tx, `round ${p.round} already awarded`)
    if (p.round > expected) return 'pending'
    const step = await view.step(t, view.clock())
    if (step.kind === 'wait') return 'pending'
    if (p.round === 0) {
      if (step.kind !== 'award') return this.invalid(tx, `first award while the task's next step is ${step.kind}`)
      const listed = p.considered.map(id => toHex(id))
      if (new Set(listed).size !== listed.length) return this.invalid(tx, 'a reveal listed twice')
      for (const id of listed) {
        const b = [...t.bids.values()].find(x => x.revealTx === id)
        if (b === undefined) return 'pending' // a reveal this node does not hold final yet
        if (b.matches !== true || b.inTime !== true) return this.invalid(tx, 'lists a late or mismatching reveal')
      }
      // Completeness is not a veto: an in-time reveal this node holds and the award does not list cannot be told
      // apart from the issuer's lag (it was not final there when the issuer's window closed). The bid shows as
      // `excluded` (market_bids) and its provider proves it with its commit and reveal (docs/market.md "Time").
      const revealed = await revealedBids(this.providers, t, listed)
      if (revealed === undefined) return 'pending'
      const outcome = awardOf(awardTaskOf(t), revealed)
      if (!sameAddresses(p.winners, outcome.winners)) return this.invalid(tx, 'winners differ from the rule over the listed reveals')
      return sameOptional(p.checker, outcome.checker) ? 'valid' : this.invalid(tx, 'spot-checker differs from the rule')
    }
    if (p.considered.length > 0) return this.invalid(tx, 'a replacement round lists reveals')
    // a late slash or its deadline not final here yet: the replacement may become due
    if (step.kind === 'slash-late') return 'pending'
    if (step.kind !== 'replace') return this.invalid(tx, `replacement while the task's next step is ${step.kind}`)
    return sameAddresses(p.winners, step.winners) && sameOptional(p.checker, step.checker) ? 'valid' : this.invalid(tx, 'replacements differ from the ranking')
  }

  /** Recomputes a settle (outcome, payouts, fee, refund) from this node's market state. */
  async checkSettle (tx: TxInfo, view: CheckView): Promise<ExternalVerdict> {
    const p = taskSettleKind.decode(tx.tx.payload)
    if (await view.behind(tx)) return 'pending'
    const t = await this.taskOf(p.taskId)
    if (t === undefined) return 'pending'
    if (t.settlement !== undefined) return this.invalid(tx, 'task already settled')
    if (!bytesEqual(p.requester, fromHex(t.requester))) return this.invalid(tx, 'wrong requester')
    if (settleTotal(p) !== escrowOfRecord(t)) return this.invalid(tx, 'does not move the whole escrow')
    const step = await view.step(t, view.clock())
    if (step.kind === 'wait' || step.kind === 'dispute' || step.kind === 'slash-late' || step.kind === 'replace') return 'pending'
    if (step.kind === 'award') return t.awards.length === 0 && !t.cancelRequested ? 'pending' : this.invalid(tx, 'settle before the award')
    if (step.kind !== 'settle') return this.invalid(tx, `settle while the task's next step is ${step.kind}`)
    const d = step.decision
    const same = p.outcome === d.outcome && p.fee === d.fee && p.refund === d.refund && p.payouts.length === d.payouts.length &&
      p.payouts.every((x, i) => toHex(x.provider) === d.payouts[i].provider && x.amount === d.payouts[i].amount)
    return same ? 'valid' : this.invalid(tx, `settle differs from the rule (${p.outcome} vs ${d.outcome})`)
  }

  /** A late slash: the provider's deadline passed here with no in-time result; a fault slash: the settle says so. */
  async checkSlash (tx: TxInfo, view: CheckView): Promise<ExternalVerdict> {
    const p = bondSlashKind.decode(tx.tx.payload)
    // an earlier slash of this bond not final here: the bond (so the amount) may differ until it is
    if (await view.behind(tx)) return 'pending'
    const t = await this.taskOf(p.taskId)
    if (t === undefined) return 'pending'
    if (!bytesEqual(p.beneficiary, slashBeneficiary(p.reason, fromHex(t.requester)))) return this.invalid(tx, 'wrong beneficiary')
    const provider = toHex(p.provider)
    if (t.slashes.some(s => s.provider === provider && s.reason === p.reason)) return this.invalid(tx, 'already slashed for this task')
    const prov = await this.state.providerRecord(provider)
    if (prov === undefined || p.amount !== slashAmount(prov.bond, p.reason)) return this.invalid(tx, 'wrong amount')
    if (p.reason === 'fault') {
      if (t.settlement === undefined) return 'pending'
      return t.settlement.faults.includes(provider) ? 'valid' : this.invalid(tx, 'the settle found no fault of this provider')
    }
    // late: valid once this provider's deadline (plus the grace) passed here with no in-time result
    if (t.settlement !== undefined) return this.invalid(tx, 'late slash of a settled task')
    if (t.results.get(provider)?.inTime === true) return this.invalid(tx, 'the provider\'s result was in time')
    const a = t.assigned.find(x => x.provider === provider && x.state === 'open')
    // not assigned here (yet): the award that assigned it may not be final on this node
    if (a === undefined) return t.assigned.some(x => x.provider === provider) ? this.invalid(tx, 'not an open assignment') : 'pending'
    const step = await view.step(t, view.clock())
    if (step.kind === 'slash-late' && step.providers.includes(provider)) return 'valid'
    // its deadline has not passed on this clock yet, or its result may still become final here
    return 'pending'
  }}
