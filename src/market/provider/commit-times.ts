import type { VertexInfo } from '../../dag/vertex.ts'
import { TX_KIND_BID_COMMIT, TX_KIND_BID_COMMITS } from '../kinds/index.ts'

/** Commits remembered: far more than a provider holds open (its capacity is at most 4,096). */
const MAX_COMMITS = 8192
/** Submit-to-vertex delays kept for the margin, and how long one counts. */
const MAX_DELAYS = 64
const DELAY_TTL_MS = 30_000
/** Added to the measured delay: the spread of the next commit around it. */
const DELAY_SLACK_MS = 50

/**
 * The vertex time of this provider's own bid commits (single or batched: a batch's bids share its id), as their
 * vertices reach its node. A commit is judged by its vertex's time (apply.ts: `BID_LATE` when it is after the bid
 * window), so:
 *
 * - a commit seen in a vertex stamped after the window is refused wherever it becomes final, and its reveal would be
 *   one more refused transaction (`BID_UNKNOWN` or `BID_LATE`): the agent does not reveal it (`late`). A commit not
 *   seen in a vertex yet is revealed as before (it may be in another node's vertex, on time, on its way here);
 * - how long commits took from submit to their vertex's stamp lately (the node's mempool wait, seconds under load)
 *   is the margin a new commit needs before the window closes (`margin`): a commit that cannot make it is not made.
 *   Delays older than DELAY_TTL_MS no longer count, so a margin grown under load falls back once it passes.
 *
 * At 30 tasks in flight per requester in `bench:market` a run's market refused ~500 late commits and reveals and
 * ~200 reveals of them (docs/market.md).
 */
export class CommitTimes {
  private readonly account: string
  private readonly times = new Map<string, number>()
  private readonly sentAt = new Map<string, number>()
  private readonly delays: Array<{ ms: number, atMs: number }> = []

  /** `accountHex`: this provider's 20-byte account, hex. */
  constructor (accountHex: string) { this.account = accountHex }

  /** Notes the provider's commits in a vertex just inserted here. */
  observe (info: Pick<VertexInfo, 'txs' | 'vertex'>): void {
    for (const tx of info.txs) {
      if ((tx.tx.kind !== TX_KIND_BID_COMMIT && tx.tx.kind !== TX_KIND_BID_COMMITS) || tx.accountHex !== this.account) continue
      remember(this.times, tx.idHex, Number(info.vertex.timestampMs))
      this.measure(tx.idHex)
    }
  }

  /** Notes that `commitTx` was submitted at `atMs` (its vertex may have been seen already). */
  sent (commitTx: string, atMs: number): void {
    const id = bare(commitTx)
    remember(this.sentAt, id, atMs)
    this.measure(id)
  }

  /** True when `commitTx` is known to be in a vertex stamped after `closeAtMs`: the market will refuse it. */
  late (commitTx: string, closeAtMs: number): boolean {
    const at = this.times.get(bare(commitTx))
    return at !== undefined && at > closeAtMs
  }

  /** The time a commit needs before the window closes: the recent submit-to-vertex delays' 90th percentile, at least `floorMs`. */
  margin (floorMs: number, nowMs = Date.now()): number {
    while (this.delays.length > 0 && nowMs - this.delays[0].atMs > DELAY_TTL_MS) this.delays.shift()
    if (this.delays.length === 0) return floorMs
    const sorted = this.delays.map(d => d.ms).sort((a, b) => a - b)
    return Math.max(floorMs, sorted[Math.floor(0.9 * (sorted.length - 1))] + DELAY_SLACK_MS)
  }

  private measure (id: string): void {
    const sent = this.sentAt.get(id)
    const at = this.times.get(id)
    if (sent === undefined || at === undefined) return
    this.sentAt.delete(id)
    this.delays.push({ ms: Math.max(0, at - sent), atMs: Date.now() })
    if (this.delays.length > MAX_DELAYS) this.delays.shift()
  }
}

function bare (id: string): string { return id.startsWith('0x') ? id.slice(2) : id }

function remember (m: Map<string, number>, k: string, v: number): void {
  if (m.size >= MAX_COMMITS) m.delete(m.keys().next().value as string)
  m.set(k, v)
}
