import { formatAddress } from '../../core/address.ts'
import { toHex } from '../../core/codec.ts'
import type { VertexInfo } from '../../dag/vertex.ts'
import { taskAwardKind, TX_KIND_TASK_ANNOUNCE, TX_KIND_TASK_AWARD } from '../kinds/index.ts'
import { announcedTask } from '../state/apply.ts'
import type { AwardView, TaskView } from '../state/reader.ts'
import { taskView } from '../state/records.ts'

/**
 * Market transactions a provider acts on before they are final here: announces (it bids) and awards naming it (it
 * starts the job). Each waits a finality time on a node otherwise, and under load that time is what made tasks fail.
 *
 * Announces: a task's bid window runs from its announce's vertex time, and under load the announce became final on a
 * provider's node too late to commit inside it (`too-late`: a quarter of the tasks at saturation in `bench:market`).
 * A commit is sealed and binds nothing, so the agent commits as soon as the announce's vertex is here and reveals at
 * the window's end; once the announce is final it checks the escrow, and an award (paid work) needs it final.
 *
 * The view is the one the market state will hold once the announce is final in this vertex (same record, same
 * time). The commit is built after the vertex was inserted here, so the announce's vertex is usually in the commit's
 * causal past and final first (a commit applied first waits for it in the market queue, with the same outcome). An
 * announce the ledger rejects leaves a bid that names no task: the agent gives it up after the reveal window.
 */
export interface PendingAnnounce {
  view: TaskView
  /** The requester's 20-byte account: what the announce can lock is at most its balance. */
  requester: Uint8Array
}

/** The announces in a vertex just inserted here, as the task views they will have once final in it. */
export function announcesIn (info: Pick<VertexInfo, 'txs' | 'vertex'>, nowMs: number): PendingAnnounce[] {
  const out: PendingAnnounce[] = []
  for (const tx of info.txs) {
    if (tx.tx.kind !== TX_KIND_TASK_ANNOUNCE) continue
    try {
      out.push({ view: taskView(announcedTask(tx, { txId: tx.idHex, timeMs: Number(info.vertex.timestampMs) }), nowMs), requester: tx.account })
    } catch {
      // admitted transactions decode; one that does not is the ledger's to reject, not a task to bid on
    }
  }
  return out
}

/** An award naming a provider, still pending: the award as the market state will show it once final (but its deadline). */
export interface PendingAward { taskId: string, award: Omit<AwardView, 'deadlineMs'> }

/**
 * The awards in a vertex just inserted here that name `address` (`hmy1…`) as a winner or the checker. Acting on one
 * early risks only the work: the result waits in the market queue until the award is final (the ledger applies it in
 * the result's causal past first, as it was built after the award arrived), and if a validator issued an award the
 * others reject, the result is refused and nothing is paid, as for any result without an award.
 */
export function awardsFor (info: Pick<VertexInfo, 'txs' | 'vertex'>, address: string): PendingAward[] {
  const out: PendingAward[] = []
  for (const tx of info.txs) {
    if (tx.tx.kind !== TX_KIND_TASK_AWARD) continue
    try {
      const p = taskAwardKind.decode(tx.tx.payload)
      const winners = p.winners.map(w => formatAddress(w))
      const checker = p.checker === undefined ? undefined : formatAddress(p.checker)
      if (!winners.includes(address) && checker !== address) continue
      const award = { txId: tx.idHex, round: p.round, timeMs: Number(info.vertex.timestampMs), winners, considered: p.considered.map(c => toHex(c)), ...(checker === undefined ? {} : { checker }) }
      out.push({ taskId: toHex(p.taskId), award })
    } catch {
      // admitted transactions decode
    }
  }
  return out
}
