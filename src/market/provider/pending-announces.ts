import type { VertexInfo } from '../../dag/vertex.ts'
import { TX_KIND_TASK_ANNOUNCE } from '../kinds/index.ts'
import { announcedTask } from '../state/apply.ts'
import type { TaskView } from '../state/reader.ts'
import { taskView } from '../state/records.ts'

/**
 * Announces a provider may bid on before they are final. A task's bid window runs from its announce's vertex time,
 * and under load the announce became final on a provider's node too late to commit inside it (`too-late`: a quarter
 * of the tasks at saturation in `bench:market`). A commit is sealed and binds nothing, so the agent commits as soon
 * as the announce's vertex is here; it reveals only once the announce is final and its escrow locked, as before.
 *
 * The view is the one the market state will hold once the announce is final in this vertex (same record, same
 * time). The commit is built after the vertex was inserted here, so the announce's vertex is in the commit's causal
 * past and is final before it (a commit applied first would wait for it in the market queue anyway). An announce
 * the ledger later rejects leaves a commit that names no task: the agent drops it when the reveal window passes.
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
