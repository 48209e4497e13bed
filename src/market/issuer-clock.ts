/**
 * The clocks the coordinator plans by (rules/plan.ts PlanClock), read from the ledger: the final clock every node
 * reads, and the issuer's stricter one, which also waits for a task's reveals and results still finalizing here.
 * A check reads the plain clock, which is never stricter, so what the issuer issues is due where it is checked.
 */
import type { LedgerReader } from '../dag/reader.ts'
import { TX_KIND_BID_REVEAL, TX_KIND_BID_REVEALS, TX_KIND_TASK_RESULT } from './kinds/index.ts'
import { nextStep, type PlanClock, type Step } from './rules/plan.ts'
import { marketTaskIdsOf } from './state/apply.ts'
import type { TaskRecord } from './state/records.ts'

/**
 * What the ledger says of time, read before a drain: the final clock (LedgerReader.sealedThroughMs) and, for the
 * issuer, the earliest signed time of each task's reveals and results in vertices undecided here (undecidedOf).
 */
export interface FinalReading { sealed: bigint | undefined, undecided?: ReadonlyMap<string, number> }

/** What can still be in time for a task while its vertex is undecided: reveals (single and batched) and results. */
const FINALIZING_KINDS: ReadonlySet<number> = new Set([TX_KIND_BID_REVEAL, TX_KIND_BID_REVEALS, TX_KIND_TASK_RESULT])

/** The final clock, and for the issuer the earliest undecided reveal or result of each task (FINALIZING_KINDS). */
export function readFinal (reader: Pick<LedgerReader, 'sealedThroughMs' | 'undecidedOf'>, issuer: boolean): FinalReading {
  const sealed = reader.sealedThroughMs()
  if (!issuer) return { sealed }
  const undecided = new Map<string, number>()
  for (const { tx, stampMs } of reader.undecidedOf(FINALIZING_KINDS)) {
    const ms = Number(stampMs)
    for (const id of marketTaskIdsOf(tx)) if (ms < (undecided.get(id) ?? Infinity)) undecided.set(id, ms)
  }
  return { sealed, undecided }
}

/**
 * This node's clock for the plan, with the final clock as read before the market state was last drained. Under the
 * commit rule the order's checks read the same final clock as of the decision's slot, which is at or past the
 * issuer's: what the issuer found sealed is sealed there.
 */
export function planClock (init: Omit<PlanClock, 'nowMs'>, final: FinalReading): PlanClock {
  return { nowMs: Date.now(), ...init, ...(final.sealed === undefined ? {} : { sealedThroughMs: Number(final.sealed) }) }
}

/**
 * The clock this node issues by: a window's grace also waits for the task's reveals and results this node holds
 * undecided, stamped at or before the window's close (PlanClock.finalizing).
 */
export function issuerClock (init: Omit<PlanClock, 'nowMs'>, final: FinalReading, taskId: string): PlanClock {
  return { ...planClock(init, final), finalizing: { fromMs: final.undecided?.get(taskId) } }
}

/** True when the task's next decision is due on the wall-clock grace but waits for its reveals or results here. */
export function heldFinalizing (t: TaskRecord, init: Omit<PlanClock, 'nowMs'>, final: FinalReading): boolean {
  return nextStep(t, issuerClock(init, final, t.taskId)).kind === 'wait' && nextStep(t, planClock(init, final)).kind !== 'wait'
}

/**
 * True when `step`, planned on the issuer's `clock`, is due only because the wait for a reveal or result still
 * finalizing ran out (FINALIZING_WAIT_MS): planned with no bound on that wait it would still wait.
 */
export function waitRanOut (t: TaskRecord, step: Step, clock: PlanClock): boolean {
  if (step.kind === 'wait' || clock.finalizing?.fromMs === undefined) return false
  return nextStep(t, { ...clock, finalizing: { fromMs: clock.finalizing.fromMs, waitMs: Infinity } }).kind === 'wait'
}
