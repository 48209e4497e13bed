/**
 * The validators' side of the market (docs/market.md "Kinds", "Verification and settlement"):
 *
 * - **Issuing**: a validator walks the open tasks and issues what each needs next (rules/plan.ts: the first award
 *   once the reveal window closed, a late winner's `bond-slash` and its replacement round, the settle, the fault
 *   slashes), in turn (`core/turn.ts`: rank r waits r × `proposeDelayMs`), so usually one validator issues and a
 *   silent one is covered. Decisions of a task act for its escrow account with the escrow's next nonce, slashes for
 *   the provider's bond account: two validators issuing the same slot conflict and exactly one becomes final.
 * - **Checking**: every node registers external checkers for `task-award`, `task-settle` and `bond-slash` that
 *   recompute them from its own market state with the same plan: `pending` while this node lacks a referenced
 *   transaction (or an earlier one of the decision's account) or the moment has not come on its clock, `invalid`
 *   only where its state proves the decision can never become right (an `invalid` vertex is never voted for, so a
 *   disagreement by timing alone would stall the slot), `valid` otherwise. An award that leaves out an in-time
 *   reveal is not vetoed: the bid is `excluded` (decision-checks.ts). Under the commit rule the same checks run where
 *   the order reaches the decision instead (its order checks, registered at construction: src/dag/order-checkers.ts),
 *   on the state as of that slot and at the carrying vertex's time; nothing is held, and a refusal frees the slot.
 * - **Disputes**: results that do not agree are settled by re-execution: the injected `reexecute(task)` returns the
 *   commitment this node computes (src/compute through the provider side); without it a dispute stays pending here.
 *
 * The clocks both read are in issuer-clock.ts, the checks' own logic in decision-checks.ts.
 */
import { addressBytesFromPublicKey } from '../core/address.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import { fromHex, toHex } from '../core/codec.ts'
import { turnRank } from '../core/turn.ts'
import { DagError } from '../dag/errors.ts'
import type { ExternalVerdict } from '../dag/external-validity.ts'
import type { OrderChecker, OrderPoint } from '../dag/order-checkers.ts'
import type { Transaction, TxInfo } from '../dag/tx.ts'
import type { VertexInfo } from '../dag/vertex.ts'
import { bondAccount, escrowAccount, reexecAccount } from './accounts.ts'
import { buildBondSlash, buildTaskAward, buildTaskReexec, buildTaskSettle, TX_KIND_BOND_SLASH, TX_KIND_TASK_AWARD, TX_KIND_TASK_SETTLE } from './kinds/index.ts'
import { awardOf } from './rules/award.ts'
import { agreedReexecution, escrowOfRecord, FINALIZING_WAIT_MS, nextStep, type PlanClock, type Quorum, type Step } from './rules/plan.ts'
import { slashAmount, slashBeneficiary } from './rules/settle.ts'
import { awardTaskOf, revealedBids } from './state/apply.ts'
import { type TaskRecord, taskView } from './state/records.ts'
import type { CoordinatorComponents, CoordinatorInit } from './coordinator-types.ts'
import { type CheckView, DecisionChecks } from './decision-checks.ts'
import { type FinalReading, heldFinalizing, issuerClock, planClock, readFinal, waitRanOut } from './issuer-clock.ts'

export type { CoordinatorComponents, CoordinatorInit, Reexecute } from './coordinator-types.ts'

/** Refusals that mean someone's decision for that slot is already pending or final. */
const TAKEN_CODES = new Set(['TX_CONFLICT', 'TX_KNOWN', 'NONCE_TOO_LOW', 'NONCE_GAP'])
/** Re-execution commitments kept (one per disputed task). */
const REEXEC_CACHE = 1000
/** Decisions seen pending in inserted vertices, by slot. */
const PENDING_SLOTS = 10_000

/** The decisions every validator recomputes before it votes (its external checkers). */
const CHECKED_KINDS: ReadonlySet<number> = new Set([TX_KIND_TASK_AWARD, TX_KIND_TASK_SETTLE, TX_KIND_BOND_SLASH])

export class MarketCoordinator implements Startable {
  private readonly c: CoordinatorComponents
  private readonly log: Logger
  private readonly issue: boolean
  private readonly proposeDelayMs: number
  private readonly tickMs: number
  private readonly resubmitMs: number
  private readonly clockInit: Omit<PlanClock, 'nowMs'>
  /** slot (account:nonce) → when this node last submitted for it */
  private readonly submitted = new Map<string, number>()
  /** slot → a decision for it (any validator's) in a vertex inserted here, and when it arrived */
  private readonly pendingSlots = new Map<string, { txId: string, atMs: number }>()
  private readonly onVertex = (info: VertexInfo): void => {
    for (const t of info.txs) {
      if (!CHECKED_KINDS.has(t.tx.kind)) continue
      this.pendingSlots.set(`${toHex(t.account)}:${t.tx.nonce}`, { txId: t.idHex, atMs: Date.now() })
      if (this.pendingSlots.size > PENDING_SLOTS) this.pendingSlots.delete(this.pendingSlots.keys().next().value as string)
    }
  }
  /** task → first time this node saw its current step due (the turn's start) */
  private readonly dueSince = new Map<string, { step: string, atMs: number }>()
  private readonly reexecuted = new Map<string, string>()
  private readonly reexecuting = new Set<string>()
  private readonly checks: DecisionChecks
  private timer: NodeJS.Timeout | undefined
  private ticking: Promise<void> | undefined
  private running = false
  private detachApplied: (() => void) | undefined
  /**
   * Set under the commit rule (decisions checked where the order reaches them, not voted on): the validators' stake
   * and quorum, for the re-executions that settle a dispute.
   */
  private readonly quorum: Quorum | undefined

  constructor (components: CoordinatorComponents, init: CoordinatorInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'market-coordinator' })
    this.checks = new DecisionChecks(components.state, this.log)
    this.issue = init.issue ?? true
    this.proposeDelayMs = init.proposeDelayMs ?? 1500
    this.tickMs = init.tickMs ?? 250
    this.resubmitMs = init.resubmitMs ?? 10_000
    this.clockInit = { lateGraceMs: init.lateGraceMs ?? 2000, verificationWindowMs: init.verificationWindowMs ?? 0 }
    const q = components.dag.reader.orderQuorum()
    this.quorum = q === undefined ? undefined : { stake: new Map(q.validators.map(v => [toHex(v.address), v.stake])), quorum: q.quorum }
    // under the commit rule every node checks each decision where the order reaches it, with the market state as of
    // that point and the carrying vertex's time: registered before the ledger starts (it waits for them)
    if (this.quorum !== undefined) {
      const ready = async (): Promise<void> => { await this.c.state.caughtUp() }
      const at = (kind: 'award' | 'settle' | 'slash', check: (tx: TxInfo, view: CheckView) => Promise<ExternalVerdict>): OrderChecker => ({
        ready,
        check: async (tx, at) => {
          const verdict = await check(tx, this.orderView(at))
          if (verdict === 'valid') return undefined
          this.c.onOrderRefused?.(kind, verdict)
          if (verdict === 'pending') this.log.debug({ tx: tx.idHex, kind: tx.tx.kind }, 'market decision refused where the order reached it: not due on the order\'s state')
          // refused for good: its slot is free again at once, for this node's turn or another's (not after resubmitMs)
          const slot = `${tx.accountHex}:${tx.tx.nonce}`
          this.submitted.delete(slot)
          this.pendingSlots.delete(slot)
          return verdict
        }
      })
      components.dag.setOrderChecker(TX_KIND_TASK_AWARD, at('award', async (tx, view) => await this.checkAward(tx, view)))
      components.dag.setOrderChecker(TX_KIND_TASK_SETTLE, at('settle', async (tx, view) => await this.checkSettle(tx, view)))
      components.dag.setOrderChecker(TX_KIND_BOND_SLASH, at('slash', async (tx, view) => await this.checkSlash(tx, view)))
    }
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    const { dag } = this.c
    if (this.quorum === undefined) {
      dag.setExternalChecker(TX_KIND_TASK_AWARD, async (tx) => await this.checkAward(tx))
      dag.setExternalChecker(TX_KIND_TASK_SETTLE, async (tx) => await this.checkSettle(tx))
      dag.setExternalChecker(TX_KIND_BOND_SLASH, async (tx) => await this.checkSlash(tx))
      // a decision held 'pending' waits for this node's market state to apply what the issuer had applied: checked
      // again as soon as it moves, not up to the ledger's recheck interval later (measured: 2026-12-03, docs/market.md)
      this.detachApplied = this.c.state.onApplied(() => { dag.recheckExternal(CHECKED_KINDS) })
    }
    this.c.vertices?.on('vertex:inserted', this.onVertex)
    this.schedule()
  }

  async stop (): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
    await this.ticking
    this.detachApplied?.()
    this.detachApplied = undefined
    this.c.vertices?.off('vertex:inserted', this.onVertex)
    // the order checks stay: the ledger may still commit a slot carrying a decision, and they read only the state
    if (this.quorum === undefined) for (const kind of CHECKED_KINDS) this.c.dag.setExternalChecker(kind, undefined)
  }

  private readonly providers = { provider: async (address: string) => await this.c.state.providerRecord(address) }

  private clock (final: FinalReading = readFinal(this.c.dag.reader, false)): PlanClock { return planClock(this.clockInit, final) }

  /** How a check reads the world when this node votes (Avalanche): its clock, its lag, its own re-execution. */
  private readonly nodeView: CheckView = {
    clock: () => this.clock(),
    behind: async (tx) => await this.accountBehind(tx),
    // under the commit rule the issuer plans with the dispute rule the order's checks apply (agreedReexecution)
    step: async (t, clock) => this.quorum !== undefined ? nextStep(t, clock, agreedReexecution(t, this.quorum)) : await this.stepOf(t, clock)
  }

  /**
   * How a check reads the world where the commit rule's order reaches a decision: the state as of the slot (the
   * ledger made it ready), the order's clock (the carrying vertex's signed time, the final clock as of the slot), and
   * the re-execution validators holding the quorum of stake put in the order before it (a node's own is not the same
   * everywhere: until such a quorum, a dispute stays a dispute).
   */
  private orderView (at: OrderPoint): CheckView {
    const clock: PlanClock = { nowMs: Number(at.vertexTimeMs), ...this.clockInit, ...(at.sealedThroughMs === undefined ? {} : { sealedThroughMs: Number(at.sealedThroughMs) }) }
    const quorum = this.quorum
    return { clock: () => clock, behind: async () => false, step: async (t, c) => nextStep(t, c, quorum === undefined ? undefined : agreedReexecution(t, quorum)) }
  }

  private schedule (): void {
    if (!this.running) return
    this.timer = setTimeout(() => {
      this.ticking = this.tick().catch(err => { this.log.warn({ err }, 'market coordinator round failed') }).finally(() => { this.ticking = undefined; this.schedule() })
    }, this.tickMs)
    this.timer.unref()
  }

  /** One walk over the open tasks (tests call it; the loop runs it every tickMs). */
  async tick (): Promise<void> {
    const reader = this.c.dag.reader
    if (!this.issue || !reader.isValidator) return
    const open = this.c.state.openTaskIds()
    // turn bookkeeping of tasks that left the open set
    if (this.dueSince.size > open.length + 1000) {
      const keep = new Set(open)
      for (const id of this.dueSince.keys()) if (!keep.has(id)) this.dueSince.delete(id)
    }
    // one reading for the walk (a pass over the undecided vertices' reveals and results); a decision due by it is
    // planned again on a fresh one before it is issued (caughtUp)
    const reading = readFinal(this.c.dag.reader, true)
    let held = 0
    for (const id of open) {
      if (!this.running) return
      const t = await this.c.state.taskRecord(id)
      if (t === undefined) continue
      await this.advance(t, reading)
      if (reading.undecided?.has(id) === true && heldFinalizing(t, this.clockInit, reading)) held++
    }
    this.c.onFinalizingHeld?.(held)
  }

  private async reexecution (t: TaskRecord): Promise<string | undefined> {
    const done = this.reexecuted.get(t.taskId)
    if (done !== undefined || this.c.reexecute === undefined || this.reexecuting.has(t.taskId)) return done
    this.reexecuting.add(t.taskId)
    // runs in the background: a check or a round never waits on an execution
    void this.c.reexecute(taskView(t, Date.now())).then((commitment) => {
      this.reexecuted.set(t.taskId, commitment)
      if (this.reexecuted.size > REEXEC_CACHE) this.reexecuted.delete(this.reexecuted.keys().next().value as string)
    }, (err: unknown) => { this.log.warn({ err, task: t.taskId }, 'dispute re-execution failed; retried') }).finally(() => { this.reexecuting.delete(t.taskId) })
    return undefined
  }

  private async stepOf (t: TaskRecord, clock: PlanClock): Promise<Step> {
    let step = nextStep(t, clock, this.reexecuted.get(t.taskId))
    if (step.kind === 'dispute') {
      const commitment = await this.reexecution(t)
      if (commitment !== undefined) step = nextStep(t, clock, commitment)
    }
    return step
  }

  private myRank (slotSeed: bigint): number {
    const keys = this.c.dag.reader.validatorKeys().map(k => toHex(k)).sort()
    return turnRank(keys.indexOf(toHex(this.c.identity.publicKey)), slotSeed, keys.length)
  }

  /** True when it is this node's turn for `slot` (and it did not submit it recently). */
  private myTurn (taskId: string, slot: string, step: string, nonce: bigint): boolean {
    const now = Date.now()
    const key = `${taskId}:${step}:${slot}`
    let due = this.dueSince.get(taskId)
    if (due?.step !== key) { due = { step: key, atMs: now }; this.dueSince.set(taskId, due) }
    const rank = this.myRank(BigInt(`0x${taskId.slice(0, 12)}`) + nonce)
    if (now < due.atMs + rank * this.proposeDelayMs) return false
    // another validator's decision for this slot is on its way (not one this node found invalid): wait for it as for
    // one's own, rather than issue a conflicting second one when the turn passes before the first is final
    const pending = this.pendingSlots.get(slot)
    if (pending !== undefined && now < pending.atMs + this.resubmitMs && !this.checks.reported(pending.txId)) return false
    const last = this.submitted.get(slot)
    return last === undefined || now >= last + this.resubmitMs
  }

  /**
   * Commit rule: this validator's own re-execution of a disputed task, put in the order once (task-reexec), with no
   * turn: the settle needs a quorum of them. It runs in the background (`reexecution`); a later walk submits it.
   */
  private async attestReexecution (t: TaskRecord): Promise<void> {
    const self = addressBytesFromPublicKey(this.c.identity.publicKey)
    if (t.reexecutions?.has(toHex(self)) === true) return
    const commitment = await this.reexecution(t)
    if (commitment === undefined) return
    const taskId = fromHex(t.taskId)
    const slot = `${toHex(reexecAccount(self, taskId))}:0`
    const last = this.submitted.get(slot)
    if (last !== undefined && Date.now() < last + this.resubmitMs) return
    await this.submit(slot, buildTaskReexec(this.c.dag.reader.chainId, this.c.identity, { taskId, commitment: fromHex(commitment) }), 'reexec', 'dispute')
  }

  private async submit (slot: string, tx: Transaction, kind: 'award' | 'settle' | 'slash' | 'reexec', detail: string): Promise<void> {
    this.submitted.set(slot, Date.now())
    if (this.submitted.size > 10_000) this.submitted.delete(this.submitted.keys().next().value as string)
    try {
      const id = await this.c.dag.submitTransaction(tx)
      this.c.onIssued?.(kind, detail)
      this.log.debug({ id, kind, detail }, 'market decision issued')
    } catch (err) {
      if (err instanceof DagError && TAKEN_CODES.has(err.code)) return
      this.log.warn({ err, kind }, 'market decision refused')
    }
  }

  /**
   * The task and its step as of every decision final on the ledger when `account`'s nonce was read: the market
   * state applies final transactions after the ledger commits them, and a decision issued from a state that lags
   * the nonce (a final award not applied yet, the escrow's nonce already past it) would be issued again at the
   * next nonce, a duplicate every validator then finds invalid (measured: all 15 invalid verdicts of a 50-task run
   * were such duplicates, "round 0 already awarded"). Read the nonce first, then drain.
   */
  private async caughtUp (taskId: string, account: Uint8Array): Promise<{ nonce: bigint, t: TaskRecord, step: Step, waitCut: boolean } | undefined> {
    const nonce = (await this.c.dag.reader.account(account)).nonce
    // read before the drain: every vertex that moved it past a window's close is then applied to the state
    const final = readFinal(this.c.dag.reader, true)
    await this.c.state.caughtUp()
    const t = await this.c.state.taskRecord(taskId)
    if (t === undefined) return undefined
    const clock = issuerClock(this.clockInit, final, taskId)
    const step = await this.nodeView.step(t, clock)
    return { nonce, t, step, waitCut: waitRanOut(t, step, clock) }
  }

  /** An award or late slash issued with an in-time reveal or result of the task still finalizing here. */
  private waitCut (taskId: string, kind: 'award' | 'slash'): void {
    this.c.onFinalizingCut?.(kind)
    this.log.warn({ task: taskId, kind, waitedMs: FINALIZING_WAIT_MS }, 'market decision issued while a reveal or result stamped in time is still finalizing here (the wait for it ran out)')
  }

  private async advance (first: TaskRecord, reading: FinalReading): Promise<void> {
    const { reader } = this.c.dag
    const planned = await this.nodeView.step(first, issuerClock(this.clockInit, reading, first.taskId))
    const taskId = fromHex(first.taskId)
    const chainId = reader.chainId
    const keys = this.c.identity
    if (planned.kind === 'slash-late' || planned.kind === 'slash-fault') {
      const reason = planned.kind === 'slash-late' ? 'late' : 'fault'
      for (const provider of planned.providers) {
        const acct = bondAccount(fromHex(provider))
        const seen = (await reader.account(acct)).nonce
        if (!this.myTurn(first.taskId, `${toHex(acct)}:${seen}`, `${reason}:${provider}`, seen)) continue
        const cur = await this.caughtUp(first.taskId, acct)
        if (cur === undefined || cur.step.kind !== planned.kind || !cur.step.providers.includes(provider)) continue
        // the bond as of every slash final so far (another task's slash changes the amount); with no bond left the
        // slash takes nothing but is still issued: the task's replacement or its end waits on it
        const amount = slashAmount((await this.c.state.providerRecord(provider))?.bond ?? 0n, reason)
        if (cur.waitCut) this.waitCut(first.taskId, 'slash')
        await this.submit(`${toHex(acct)}:${cur.nonce}`, buildBondSlash(chainId, keys, cur.nonce, { provider: fromHex(provider), taskId, reason, amount, beneficiary: slashBeneficiary(reason, fromHex(cur.t.requester)) }), 'slash', reason)
      }
      return
    }
    if (planned.kind === 'dispute' && this.quorum !== undefined) { await this.attestReexecution(first); return }
    if (planned.kind !== 'award' && planned.kind !== 'replace' && planned.kind !== 'settle') return
    const escrow = escrowAccount(taskId)
    const seen = (await reader.account(escrow)).nonce
    if (!this.myTurn(first.taskId, `${toHex(escrow)}:${seen}`, planned.kind, seen)) return
    const cur = await this.caughtUp(first.taskId, escrow)
    if (cur === undefined || cur.step.kind !== planned.kind) return
    const { nonce, t, step } = cur
    const slot = `${toHex(escrow)}:${nonce}`
    if (step.kind === 'award') {
      const revealed = await revealedBids(this.providers, t, step.considered)
      if (revealed === undefined) return
      const outcome = awardOf(awardTaskOf(t), revealed)
      if (cur.waitCut) this.waitCut(t.taskId, 'award')
      await this.submit(slot, buildTaskAward(chainId, keys, nonce, {
        taskId, round: 0, considered: step.considered.map(id => fromHex(id)), winners: outcome.winners.map(w => fromHex(w)), ...(outcome.checker !== undefined ? { checker: fromHex(outcome.checker) } : {})
      }), 'award', outcome.winners.length === 0 ? 'no-valid-bid' : 'round-0')
    } else if (step.kind === 'replace') {
      await this.submit(slot, buildTaskAward(chainId, keys, nonce, {
        taskId, round: step.round, considered: [], winners: step.winners.map(w => fromHex(w)), ...(step.checker !== undefined ? { checker: fromHex(step.checker) } : {})
      }), 'award', 'replacement')
    } else if (step.kind === 'settle') {
      // the whole escrow must be on the account (a settle moves all of it)
      if ((await reader.account(escrow)).balance !== escrowOfRecord(t)) return
      const d = step.decision
      await this.submit(slot, buildTaskSettle(chainId, keys, nonce, {
        taskId, outcome: d.outcome, payouts: d.payouts.map(p => ({ provider: fromHex(p.provider), amount: p.amount })), fee: d.fee, refund: d.refund, requester: fromHex(t.requester)
      }), 'settle', d.outcome)
    }
  }

  // ---------------------------------------------------------------- checks (decision-checks.ts)

  /**
   * True while an earlier transaction of the decision's account (escrow or bond) is not final here: wait for it.
   * Otherwise the market state catches up first, so it holds every decision final before this one (the state
   * applies final transactions after the ledger commits them: a lagging state would pass a duplicate).
   */
  private async accountBehind (tx: TxInfo): Promise<boolean> {
    if ((await this.c.dag.reader.account(tx.account)).nonce < tx.tx.nonce) return true
    await this.c.state.caughtUp()
    return false
  }

  /** The checks of a decision, through this node's view (Avalanche) unless another is given (tests, the order). */
  async checkAward (tx: TxInfo, view: CheckView = this.nodeView): Promise<ExternalVerdict> { return await this.checks.checkAward(tx, view) }
  async checkSettle (tx: TxInfo, view: CheckView = this.nodeView): Promise<ExternalVerdict> { return await this.checks.checkSettle(tx, view) }
  async checkSlash (tx: TxInfo, view: CheckView = this.nodeView): Promise<ExternalVerdict> { return await this.checks.checkSlash(tx, view) }
}
