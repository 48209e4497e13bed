/**
 * Reads the market's queue of final transactions (src/market/kinds/queue.ts) for MarketState's drain. Queue keys
 * only grow (finality order on this node), so a pass reads only what came after the last key it read, and retries
 * the parked entries (waiting for a task or an award still to come) by key, oldest first: the order a scan from the
 * queue's start met them in. Such a scan ran at every pass before, over the tombstones of every entry applied since
 * the last compaction (1.6% of a market node's CPU in bench:market), and a parked entry, kept up to `parkMs`, held
 * its start back as far.
 *
 * Within a pass, an entry that applies (or is refused) is followed at once by the parked entries of its task, as the
 * state cut's fold does (snapshot.ts): a reveal parked for its commit applies right after the commit, before an
 * award or a settle later in the same pass reads the task. (Retried only at the next pass, an award parked behind
 * such a reveal came after the settle of its task: refused, on a node catching up many final transactions at once.)
 */
import type { BinarySublevel } from '../../core/storage.ts'
import { decodeQueued, QUEUE_PREFIX, type QueuedTx } from '../kinds/index.ts'

/** Queue entries read per iterator. */
const READ_BATCH = 512
/** Parked keys held in memory; past it the next pass reads the whole queue again (what the cursor replaced). */
const MAX_PARKED = 50_000
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

export class QueueCursor {
  private readonly db: BinarySublevel
  private readonly maxParked: number
  /** Undefined until the first pass, which reads the whole queue (what a restart left). */
  private lastRead: Uint8Array | undefined
  private parked: Array<{ key: Uint8Array, task: string | undefined }> = []
  /** Parked entries per task: an entry that leaves the queue looks through the parked ones only when its task has some. */
  private readonly waiting = new Map<string, number>()
  private overflow = false

  constructor (db: BinarySublevel, maxParked = MAX_PARKED) {
    this.db = db
    this.maxParked = maxParked
  }

  /** Parked entries held in memory now. */
  get parkedCount (): number { return this.parked.length }

  /**
   * One pass: offers each parked entry, then each new one, to `apply` (true: it left the queue; false: it stays
   * parked); after each that leaves, the parked entries of its task (`taskOf`) again. Returns true when any entry
   * was applied, so a parked one may apply now.
   */
  async pass (apply: (q: QueuedTx) => Promise<boolean>, taskOf: (q: QueuedTx) => string | undefined = () => undefined): Promise<boolean> {
    if (this.overflow) {
      this.overflow = false
      this.parked = []
      this.lastRead = undefined
    }
    let progress = false
    const offer = async (q: QueuedTx, task = this.parked.length > 0 ? taskOf(q) : undefined): Promise<void> => {
      if (await apply(q)) {
        progress = true
        if (task !== undefined) await this.retryTask(task, apply)
      } else {
        this.park(q.key, task ?? taskOf(q))
      }
    }
    const parked = this.parked
    this.parked = []
    this.waiting.clear()
    for (const { key, task } of parked) {
      const value = await this.db.get(key)
      const q = value === undefined ? undefined : await this.decodeOrDrop(key, value)
      if (q !== undefined) await offer(q, task)
    }
    for (;;) {
      const batch: QueuedTx[] = []
      const from = this.lastRead === undefined ? { gte: enc(QUEUE_PREFIX) } : { gt: this.lastRead }
      for await (const [k, v] of this.db.iterator({ ...from, lt: enc(`${QUEUE_PREFIX}\xff`), limit: READ_BATCH })) {
        this.lastRead = k
        const q = await this.decodeOrDrop(k, v)
        if (q !== undefined) batch.push(q)
      }
      if (batch.length === 0) return progress
      for (const q of batch) await offer(q)
    }
  }

  /** Offers the parked entries of `task` again, oldest first, until none of them applies. */
  private async retryTask (task: string, apply: (q: QueuedTx) => Promise<boolean>): Promise<void> {
    for (let again = true; again && this.waiting.has(task);) {
      again = false
      for (const entry of this.parked.filter((p) => p.task === task)) {
        const value = await this.db.get(entry.key)
        const q = value === undefined ? undefined : await this.decodeOrDrop(entry.key, value)
        if (q !== undefined && !await apply(q)) continue
        this.parked.splice(this.parked.indexOf(entry), 1)
        this.unwait(task)
        if (q !== undefined) again = true
      }
    }
  }

  private unwait (task: string): void {
    const n = (this.waiting.get(task) ?? 1) - 1
    if (n <= 0) this.waiting.delete(task)
    else this.waiting.set(task, n)
  }

  private park (key: Uint8Array, task: string | undefined): void {
    if (this.parked.length >= this.maxParked) { this.overflow = true; return }
    this.parked.push({ key, task })
    if (task !== undefined) this.waiting.set(task, (this.waiting.get(task) ?? 0) + 1)
  }

  /** A record that does not decode is dropped (it never will). */
  private async decodeOrDrop (key: Uint8Array, value: Uint8Array): Promise<QueuedTx | undefined> {
    try {
      return decodeQueued(key, value)
    } catch {
      await this.db.del(key)
      return undefined
    }
  }
}
