import type { VertexInfo } from '../../dag/vertex.ts'
import { TX_KIND_BID_COMMIT } from '../kinds/index.ts'

/** Commits remembered: far more than a provider holds open (its capacity is at most 4,096). */
const MAX_COMMITS = 8192

/**
 * The vertex time of this provider's own bid commits, as their vertices reach its node. A commit is judged by its
 * vertex's time (apply.ts: `BID_LATE` when it is after the bid window), so a commit seen in a vertex stamped after
 * the window is refused wherever it becomes final: its reveal would be one more transaction refused
 * (`BID_UNKNOWN` or `BID_LATE`), ~2 per task at 30 tasks in flight per requester in `bench:market`. The agent does
 * not reveal those. A commit not seen in a vertex yet is revealed as before (it may be in another node's vertex,
 * on time, still on its way here).
 */
export class CommitTimes {
  private readonly account: string
  private readonly times = new Map<string, number>()

  /** `accountHex`: this provider's 20-byte account, hex. */
  constructor (accountHex: string) { this.account = accountHex }

  /** Notes the provider's commits in a vertex just inserted here. */
  observe (info: Pick<VertexInfo, 'txs' | 'vertex'>): void {
    for (const tx of info.txs) {
      if (tx.tx.kind !== TX_KIND_BID_COMMIT || tx.accountHex !== this.account) continue
      if (this.times.size >= MAX_COMMITS) this.times.delete(this.times.keys().next().value as string)
      this.times.set(tx.idHex, Number(info.vertex.timestampMs))
    }
  }

  /** True when `commitTx` is known to be in a vertex stamped after `closeAtMs`: the market will refuse it. */
  late (commitTx: string, closeAtMs: number): boolean {
    const at = this.times.get(commitTx.startsWith('0x') ? commitTx.slice(2) : commitTx)
    return at !== undefined && at > closeAtMs
  }
}
