import type { Counter } from 'prom-client'
import { toHex } from '../../core/codec.ts'
import type { Transaction } from '../../dag/tx.ts'
import { type BidRevealPayload, MAX_BID_BATCH } from '../kinds/bid.ts'
import { buildBidCommits, buildBidReveal, buildBidReveals, type SignedBy } from '../kinds/builders.ts'

/**
 * Gathers a provider's bid commits (or reveals) into batch transactions (`bid-commits`, `bid-reveals`: one signature
 * and one verification per node for up to MAX_BID_BATCH auctions). No timer holds a bid back: an entry added while no
 * batch is being sent leaves on the next turn of the event loop with whatever was added in the same turn; entries
 * added while one is being sent (signed and admitted: a few ms, more on a loaded node) leave together as soon as it is
 * done, or at once when MAX_BID_BATCH have gathered. So a quiet provider sends each bid alone as before, and a busy
 * one sends fewer, larger transactions, its batches as large as its rate times one admission (Nagle's rule, with the
 * admission as the acknowledgement).
 *
 * A batch holds one entry per task (the kinds refuse two): a second entry for a task already in the batch waits for
 * the next one, so it cannot make the whole batch unsendable. What waits is bounded by the bids the agent holds
 * open (its capacity).
 */
export class BidBatcher<E extends { taskId: Uint8Array }> {
  private readonly sendBatch: (entries: E[]) => Promise<string | undefined>
  private readonly max: number
  private pending: Array<{ entry: E, resolve: (txId: string | undefined) => void }> = []
  private sending = false
  private scheduled = false

  /** `send`: submits one batch transaction of these entries; resolves with its id, or undefined when not admitted. */
  constructor (send: (entries: E[]) => Promise<string | undefined>, max = MAX_BID_BATCH) {
    this.sendBatch = send
    this.max = Math.max(1, Math.min(MAX_BID_BATCH, max))
  }

  /** Entries waiting for a batch now. */
  get waiting (): number { return this.pending.length }

  /** Adds an entry; resolves with the id of the transaction that carried it (undefined when it was not admitted). */
  async add (entry: E): Promise<string | undefined> {
    return await new Promise((resolve) => {
      this.pending.push({ entry, resolve })
      this.schedule()
    })
  }

  private schedule (): void {
    if (this.sending || this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      void this.flush()
    })
  }

  private async flush (): Promise<void> {
    if (this.sending) return
    this.sending = true
    try {
      while (this.pending.length > 0) {
        const batch = this.take()
        let txId: string | undefined
        try {
          txId = await this.sendBatch(batch.map(p => p.entry))
        } catch {
          txId = undefined
        }
        for (const p of batch) p.resolve(txId)
      }
    } finally {
      this.sending = false
    }
  }

  /** The next batch: up to `max` waiting entries in order, one per task; the rest keep waiting. */
  private take (): Array<{ entry: E, resolve: (txId: string | undefined) => void }> {
    const tasks = new Set<string>()
    const batch: Array<{ entry: E, resolve: (txId: string | undefined) => void }> = []
    const left: Array<{ entry: E, resolve: (txId: string | undefined) => void }> = []
    for (const p of this.pending) {
      const task = toHex(p.entry.taskId)
      if (batch.length < this.max && !tasks.has(task)) {
        tasks.add(task)
        batch.push(p)
      } else {
        left.push(p)
      }
    }
    this.pending = left
    return batch
  }
}

/** A bid as the agent commits and then reveals it: its task, price and salt. */
export type SealedBid = BidRevealPayload

export interface BidSenderComponents {
  /** Submits one transaction (the agent's sender, in nonce order); undefined when it was not admitted. */
  send: (kind: 'bid-commits' | 'bid-reveals' | 'bid-reveal', build: (by: SignedBy) => Transaction) => Promise<string | undefined>
  /** A commit batch admitted, submitted at `sentAtMs` (CommitTimes.sent). */
  committed: (txId: string, sentAtMs: number) => void
  /** Bids carried by the admitted batches, by kind. */
  entries: Counter<'kind'>
}

/** A provider's commits and reveals, each kind through its own BidBatcher. */
export class BidSender {
  private readonly commits: BidBatcher<SealedBid>
  private readonly reveals: BidBatcher<SealedBid>
  /** A private task's reveal carries the provider's task key (1,184 bytes): it leaves alone, as a single bid-reveal. */
  private readonly revealAlone: (bid: SealedBid) => Promise<string | undefined>

  constructor (c: BidSenderComponents) {
    const sendBids = async (kind: 'bid-commits' | 'bid-reveals' | 'bid-reveal', n: number, build: (by: SignedBy) => Transaction): Promise<string | undefined> => {
      const txId = await c.send(kind, build)
      if (txId !== undefined) c.entries.inc({ kind }, n)
      return txId
    }
    this.commits = new BidBatcher(async (bids) => {
      const sentAtMs = Date.now()
      const txId = await sendBids('bid-commits', bids.length, by => buildBidCommits(by, bids))
      if (txId !== undefined) c.committed(txId, sentAtMs)
      return txId
    })
    this.reveals = new BidBatcher(async (bids) => await sendBids('bid-reveals', bids.length, by => buildBidReveals(by, bids)))
    this.revealAlone = async (bid) => await sendBids('bid-reveal', 1, by => buildBidReveal(by, bid))
  }

  /** Commits to `bid` in the next commit batch; resolves with that batch's id (undefined when not admitted). */
  async commit (bid: SealedBid): Promise<string | undefined> { return await this.commits.add(bid) }

  /** Reveals `bid` in the next reveal batch (alone when it carries a task key); as `commit`. */
  async reveal (bid: SealedBid): Promise<string | undefined> { return bid.taskKey === undefined ? await this.reveals.add(bid) : await this.revealAlone(bid) }
}
