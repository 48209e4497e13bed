/**
 * The market's check of a client's transaction before this node queues it (the ledger's TxAdmission state checks):
 * a bid after its window, a reveal that does not open its commit or comes twice, a result from a provider never
 * awarded, a cancel of an awarded task. Each is refused with `TX_REFUSED` and the market's code as its rule, so the
 * sender learns at once, its nonce stays unused, and the transaction costs no vertex, no verification on every node
 * and no ledger record.
 *
 * Sound because every refusal here is one this node's market rules would give wherever it applies the transaction:
 * - the rules' refusals of these kinds are permanent on a node's state (a window that closed stays closed, a bid or
 *   result once stored stays, an award's assignments and a settle never change);
 * - a transaction this node admits is carried by this node's own vertices, stamped no earlier than now, so a window
 *   closed by this node's clock at admission is closed at the vertex's market time.
 *
 * Whatever is not known here yet (the task, the commit, the award) parks and is admitted. A bid batch is refused only
 * when every entry is: an entry that applies keeps its batch, and the others are refused where the batch is applied,
 * one by one, as before.
 */
import type { StateCheck, StateRefusal } from '../../dag/tx-admission.ts'
import type { TxInfo } from '../../dag/tx.ts'
import {
  entryCount, TX_KIND_BID_COMMIT, TX_KIND_BID_COMMITS, TX_KIND_BID_REVEAL, TX_KIND_BID_REVEALS, TX_KIND_INPUT_CLAIM, TX_KIND_TASK_CANCEL,
  TX_KIND_TASK_RESULT
} from '../kinds/index.ts'
import type { ApplyOutcome } from './apply.ts'

/** The kinds a client signs whose rules this node judges at admission (not announces: their rules are the kind's). */
export const ADMISSION_CHECKED_KINDS: readonly number[] = [
  TX_KIND_BID_COMMIT, TX_KIND_BID_REVEAL, TX_KIND_BID_COMMITS, TX_KIND_BID_REVEALS, TX_KIND_TASK_RESULT, TX_KIND_TASK_CANCEL, TX_KIND_INPUT_CLAIM
]

export interface AdmissionCheckComponents {
  /** MarketState.precheck. */
  precheck: (tx: TxInfo, timeMs: number, entry?: number) => Promise<ApplyOutcome>
  /** Counts a refusal by the market's code. */
  onRefused?: (code: string) => void
  now?: () => number
}

/** The state check the market registers with the ledger for each of ADMISSION_CHECKED_KINDS. */
export function marketAdmissionCheck (c: AdmissionCheckComponents): StateCheck {
  const now = c.now ?? Date.now
  return async (tx) => {
    const timeMs = now()
    const n = entryCount(tx)
    let first: StateRefusal | undefined
    for (let entry = 0; entry < (n ?? 1); entry++) {
      const outcome = await c.precheck(tx, timeMs, n === undefined ? undefined : entry)
      if (outcome.status !== 'refused') return undefined
      first ??= { rule: outcome.code, message: n === undefined ? outcome.reason : `entry ${entry} of ${n}: ${outcome.reason}` }
    }
    if (first !== undefined) c.onRefused?.(first.rule)
    return first
  }
}
