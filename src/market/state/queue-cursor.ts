/**
 * Reads the market's queue of final transactions (src/market/kinds/queue.ts) for MarketState's drain. Queue keys
 * only grow (finality order on this node), so a pass reads only what came after the last key it read. Once it has
 * read the disk to its end, it takes new entries as the ledger's `tx:final` event hands them over (`feed`: the
 * decision wrote them a moment before) instead of reading them back: an iterator per pass was 3-4% of a market
 * node's main thread at saturation (s53). The disk stays the record: it is read again after a restart, a reset, or
 * when the feed overflowed.
 *
 * A parked entry (waiting for its task, a commit, an award or a reveal: always something of its own task, apply.ts)
 * is offered again right after each entry of its task that leaves the queue, as the state cut's fold does
 * (snapshot.ts): a reveal parked for its commit applies right after the commit, before an award or a settle later
 * in the same pass reads the task. After each entry offered, the parked ones older than the consumer's expiry
 * (`parkMs` of market time behind the newest applied entry) are offered once more to be refused: the fold's rule,
 * per entry, so what applies never depends on where one pass ended and the next began (that differs between
 * nodes). Nothing else offers a parked entry again: its task's records change only when an entry of its task
 * applies. (Every pass offered every parked entry again before, a LevelDB read and a decode each: 3.7% of a market
 * node's main thread in bench:market at 30 tasks in flight, where a blanket retry can never apply anything.)
 */
import { compareBytes } from '../../core/codec.ts'
import { type BinarySublevel, getValue } from '../../core/storage.ts'
import { decodeQueued, QUEUE_PREFIX, type QueuedTx } from '../kinds/index.ts'

/** Queue entries read per iterator. */
const READ_BATCH = 512
/** Parked keys held in memory; past it the next pass reads the whole queue again (what the cursor replaced). */
const MAX_PARKED = 50_000
/** Entries handed over by the feed and not taken yet (a bid batch is up to 48); past it the disk is read. */
const MAX_FED = 4096
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

/** What the consumer did with an entry: `left` it applied or was refused (deleted from the queue); the entry's task. */
export interface QueueOffer { left: boolean, task: string | undefined }

interface Parked { key: Uint8Array, task: string | undefined, timeMs: number }

export interface QueueConsumer {
  /** Applies an entry; with `expire`, one that would stay parked is refused instead (too old). */
  apply: (q: QueuedTx, expire: boolean) => Promise<QueueOffer>
  /** Market time before which a parked entry expires (vertex time). */
  expiresBefore: () => number
}

export class QueueCursor {
  private readonly db: BinarySublevel
  private readonly maxParked: number
  /** Undefined until the first pass, which reads the whole queue (what a restart left). */
  private lastRead: Uint8Array | undefined
  private parked: Parked[] = []
  /** Parked entries per task: an entry that leaves the queue looks through the parked ones only when its task has some. */
  private readonly waiting = new Map<string, number>()
  private oldestParkedMs = Infinity
  private overflow = false
  /** Read the disk (from `lastRead`) before the feed: at the first pass, after a reset, after the feed overflowed. */
  private fromDisk = true
  private fed: QueuedTx[] = []
  private readonly maxFed: number

  constructor (db: BinarySublevel, init: { maxParked?: number, maxFed?: number } = {}) {
    this.db = db
    this.maxParked = init.maxParked ?? MAX_PARKED
    this.maxFed = init.maxFed ?? MAX_FED
  }

  /** Forgets what it read and parked: the next pass reads the whole queue again (what is still queued on disk). */
  reset (): void { this.overflow = true }

  /** Parked entries held in memory now. */
  get parkedCount (): number { return this.parked.length }

  /**
   * Entries the ledger's `tx:final` event handed over (kinds/queue.ts `queuedEntries`), in key order: committed, so
   * on disk too. A pass takes those after the last key it read instead of reading them back. Past `maxFed` the
   * cursor drops them and reads the disk from its last key, as before the feed.
   */
  feed (entries: QueuedTx[]): void {
    if (this.fed.length + entries.length > this.maxFed) {
      this.fed = []
      this.fromDisk = true
      return
    }
    this.fed.push(...entries)
  }

  /** A final entry was queued and not handed over: the next pass reads the disk from its last key. */
  unfed (): void { this.fromDisk = true }

  /**
   * One pass over what is new: offers each entry to the consumer; after one that leaves, the parked entries of its
   * task again; after each, the expired parked ones. Returns true when any entry left the queue.
   */
  async pass (c: QueueConsumer): Promise<boolean> {
    if (this.overflow) {
      this.overflow = false
      this.parked = []
      this.waiting.clear()
      this.oldestParkedMs = Infinity
      this.lastRead = undefined
      this.fromDisk = true
    }
    let progress = false
    while (this.fromDisk) {
      const batch: QueuedTx[] = []
      let read = 0
      const from = this.lastRead === undefined ? { gte: enc(QUEUE_PREFIX) } : { gt: this.lastRead }
      for await (const [k, v] of this.db.iterator({ ...from, lt: enc(`${QUEUE_PREFIX}\xff`), limit: READ_BATCH })) {
        this.lastRead = k
        read++
        const q = await this.decodeOrDrop(k, v)
        if (q !== undefined) batch.push(q)
      }
      // the queue ended there when it was read: what was queued since came through the feed (each decision's
      // entries are handed over after its batch is written), so no second read
      if (read < READ_BATCH) this.fromDisk = false
      if (await this.offer(batch, c)) progress = true
    }
    // what the feed holds beyond what was read (a decision written while the disk was read is in both)
    const last = this.lastRead
    const fed = last === undefined ? this.fed : this.fed.filter((q) => compareBytes(q.key, last) > 0)
    this.fed = []
    if (fed.length > 0) this.lastRead = fed[fed.length - 1].key
    if (await this.offer(fed, c)) progress = true
    return progress
  }

  private async offer (batch: QueuedTx[], c: QueueConsumer): Promise<boolean> {
    let progress = false
    for (const q of batch) {
      const r = await c.apply(q, false)
      if (r.left) {
        progress = true
        if (r.task !== undefined) await this.retryTask(r.task, c)
      } else {
        this.park(q, r.task)
      }
      await this.expire(c)
    }
    return progress
  }

  /** Offers the parked entries of `task` again, oldest first, until none of them leaves. */
  private async retryTask (task: string, c: QueueConsumer): Promise<void> {
    for (let again = true; again && this.waiting.has(task);) {
      again = false
      for (const entry of this.parked.filter((p) => p.task === task)) {
        const q = await this.read(entry.key)
        if (q !== undefined && !(await c.apply(q, false)).left) continue
        this.unpark(entry)
        if (q !== undefined) again = true
      }
    }
  }

  /** Refuses the parked entries older than the consumer's expiry (each offered with `expire`). */
  private async expire (c: QueueConsumer): Promise<void> {
    const before = c.expiresBefore()
    if (this.oldestParkedMs >= before) return
    for (const entry of this.parked.filter((p) => p.timeMs < before)) {
      const q = await this.read(entry.key)
      if (q === undefined || (await c.apply(q, true)).left) this.unpark(entry)
    }
    this.oldestParkedMs = this.parked.reduce((m, p) => Math.min(m, p.timeMs), Infinity)
  }

  private park (q: QueuedTx, task: string | undefined): void {
    if (this.parked.length >= this.maxParked) { this.overflow = true; return }
    const timeMs = Number(q.vertexTimeMs)
    this.parked.push({ key: q.key, task, timeMs })
    if (timeMs < this.oldestParkedMs) this.oldestParkedMs = timeMs
    if (task !== undefined) this.waiting.set(task, (this.waiting.get(task) ?? 0) + 1)
  }

  private unpark (entry: Parked): void {
    this.parked.splice(this.parked.indexOf(entry), 1)
    if (entry.task === undefined) return
    const n = (this.waiting.get(entry.task) ?? 1) - 1
    if (n <= 0) this.waiting.delete(entry.task)
    else this.waiting.set(entry.task, n)
  }

  /** A parked entry's record, or undefined when it is gone or no longer decodes (then dropped). */
  private async read (key: Uint8Array): Promise<QueuedTx | undefined> {
    const value = await getValue(this.db, key)
    return value === undefined ? undefined : await this.decodeOrDrop(key, value)
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
