/**
 * The market's Prometheus metrics (names end in their unit): tasks by state, auction latency, bids per task,
 * verification outcomes, slashes, payments, refusals by code. Fed from the market state's applied stream, so every
 * node counts what became final, not what it proposed.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { TxInfo } from '../dag/tx.ts'
import { bondSlashKind, inputClaimKind, inputVerdictKind, taskAwardKind, taskSettleKind, TX_KIND_BID_COMMIT, TX_KIND_INPUT_CLAIM, TX_KIND_INPUT_VERDICT, TX_KIND_BOND_SLASH, TX_KIND_TASK_ANNOUNCE, TX_KIND_TASK_AWARD, TX_KIND_TASK_SETTLE } from './kinds/index.ts'
import type { ApplyOutcome } from './state/apply.ts'
import type { MarketState } from './state/market-state.ts'
import { TASK_PHASES } from './state/reader.ts'
import { phaseOf } from './state/records.ts'

export interface MarketMetrics {
  tasks: Gauge<'phase'>
  announced: Counter
  /** announce → first award, seconds of market time */
  auctionSeconds: Histogram
  bidsPerTask: Histogram
  outcomes: Counter<'outcome'>
  slashes: Counter<'reason'>
  paymentsBaseUnits: Counter<'kind'>
  refused: Counter<'code'>
  /** clients' transactions this node refused before queueing them (state/admission.ts), by the market's code */
  admissionRefused: Counter<'code'>
  issued: Counter<'kind' | 'detail'>
  orderRefused: Counter<'kind' | 'verdict'>
  finalizingHeld: Gauge
  finalizingCut: Counter<'kind'>
  /** final input claims (an assigned provider could not fetch a public task's inputs) */
  inputClaims: Counter<'claim'>
  /** final input verdicts by outcome (available, unavailable) */
  inputVerdicts: Counter<'outcome'>
}

/** Creates the metrics and subscribes them to `state`'s applied stream; returns them and an unsubscribe. */
export function createMarketMetrics (registry: Registry, state: MarketState): { metrics: MarketMetrics, detach: () => void } {
  const registers = [registry]
  const metrics: MarketMetrics = {
    tasks: new Gauge({
      name: 'harmony_market_tasks',
      help: 'open tasks by phase (settled ones leave the open set)',
      labelNames: ['phase'],
      registers,
      async collect () {
        const counts = new Map<string, number>(TASK_PHASES.map(p => [p, 0]))
        const now = Date.now()
        for (const id of state.openTaskIds().slice(0, 10_000)) {
          const t = await state.taskRecord(id)
          if (t !== undefined) { const ph = phaseOf(t, now); counts.set(ph, (counts.get(ph) ?? 0) + 1) }
        }
        for (const [phase, n] of counts) this.set({ phase }, n)
      }
    }),
    announced: new Counter({ name: 'harmony_market_tasks_announced_total', help: 'final task announces', registers }),
    auctionSeconds: new Histogram({ name: 'harmony_market_auction_seconds', help: 'market time from a task\'s announce to its first award', buckets: [0.5, 1, 2, 5, 10, 30, 60, 300], registers }),
    bidsPerTask: new Histogram({ name: 'harmony_market_bids_per_task', help: 'bid commits of a task at its first award', buckets: [0, 1, 2, 3, 5, 8, 13, 21, 64], registers }),
    outcomes: new Counter({ name: 'harmony_market_settlements_total', help: 'final settles by verification outcome', labelNames: ['outcome'], registers }),
    slashes: new Counter({ name: 'harmony_market_slashes_total', help: 'final bond slashes by reason', labelNames: ['reason'], registers }),
    paymentsBaseUnits: new Counter({ name: 'harmony_market_payments_base_units_total', help: 'base units paid by final settles: payouts, fees, refunds', labelNames: ['kind'], registers }),
    refused: new Counter({ name: 'harmony_market_refused_total', help: 'final market transactions the market rules refused (nothing stored, nothing paid)', labelNames: ['code'], registers }),
    admissionRefused: new Counter({ name: 'harmony_market_admission_refusals_total', help: 'clients\' bids, results and cancels this node refused before queueing them (TX_REFUSED), by market code', labelNames: ['code'], registers }),
    issued: new Counter({ name: 'harmony_market_decisions_issued_total', help: 'awards, settles and slashes this validator submitted', labelNames: ['kind', 'detail'], registers }),
    finalizingHeld: new Gauge({ name: 'harmony_market_tasks_held_finalizing', help: 'open tasks whose award or late slash is due on the wall clock, held by this validator for an in-time reveal or result still finalizing (at most 10 s more)', registers }),
    finalizingCut: new Counter({ name: 'harmony_market_finalizing_waits_cut_total', help: 'awards and late slashes this validator issued once its 10-s wait for an in-time reveal or result still finalizing here ran out (that reveal is left out; that result counts as late)', labelNames: ['kind'], registers }),
    inputClaims: new Counter({ name: 'harmony_market_input_claims_total', help: 'final input claims: an assigned provider could not fetch a task\'s inputs (claim: first, or appeal after a judge\'s `available` it could not fetch or a silent judge)', labelNames: ['claim'], registers }),
    inputVerdicts: new Counter({ name: 'harmony_market_input_verdicts_total', help: 'final input verdicts by outcome (available: a validator fetched the inputs and serves them; unavailable: it could not either)', labelNames: ['outcome'], registers }),
    orderRefused: new Counter({ name: 'harmony_market_order_refusals_total', help: 'commit rule: decisions this node refused where the order reached them (not due: pending; contradicting the state: invalid)', labelNames: ['kind', 'verdict'], registers })
  }
  const detach = state.onApplied((tx: TxInfo, outcome: ApplyOutcome, timeMs: number) => {
    if (outcome.status === 'refused') { metrics.refused.inc({ code: outcome.code }); return }
    if (outcome.status !== 'applied') return
    if (tx.tx.kind === TX_KIND_TASK_ANNOUNCE) metrics.announced.inc()
    else if (tx.tx.kind === TX_KIND_TASK_AWARD) {
      const p = taskAwardKind.decode(tx.tx.payload)
      if (p.round !== 0 || outcome.taskId === undefined) return
      void state.taskRecord(outcome.taskId).then(t => {
        if (t === undefined) return
        metrics.auctionSeconds.observe(Math.max(0, timeMs - t.announcedAtMs) / 1000)
        metrics.bidsPerTask.observe(t.bids.size)
      })
    } else if (tx.tx.kind === TX_KIND_TASK_SETTLE) {
      const p = taskSettleKind.decode(tx.tx.payload)
      metrics.outcomes.inc({ outcome: p.outcome })
      for (const x of p.payouts) metrics.paymentsBaseUnits.inc({ kind: 'payout' }, Number(x.amount))
      if (p.fee > 0n) metrics.paymentsBaseUnits.inc({ kind: 'fee' }, Number(p.fee))
      if (p.refund > 0n) metrics.paymentsBaseUnits.inc({ kind: 'refund' }, Number(p.refund))
    } else if (tx.tx.kind === TX_KIND_BOND_SLASH) {
      metrics.slashes.inc({ reason: bondSlashKind.decode(tx.tx.payload).reason })
    } else if (tx.tx.kind === TX_KIND_INPUT_CLAIM) {
      metrics.inputClaims.inc({ claim: inputClaimKind.decode(tx.tx.payload).attempt === 0 ? 'first' : 'appeal' })
    } else if (tx.tx.kind === TX_KIND_INPUT_VERDICT) {
      metrics.inputVerdicts.inc({ outcome: inputVerdictKind.decode(tx.tx.payload).outcome })
    } else if (tx.tx.kind === TX_KIND_BID_COMMIT) {
      // counted per task at its award (bidsPerTask)
    }
  })
  return { metrics, detach }
}
