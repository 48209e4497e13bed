import { MAX_BID_BATCH } from '../kinds/bid.ts'

/**
 * Gathers a provider's bid commits (or reveals) into batch transactions (`bid-commits`, `bid-reveals`: one signature
 * and one verification per node for up to MAX_BID_BATCH auctions). No timer holds a bid back: an entry added while no
 * batch is being sent leaves on the next turn of the event loop with whatever was added in the same turn; entries
 * added while one is being sent (signed and admitted: a few ms, more on a loaded node) leave together as soon as it is
 * done, or at once when MAX_BID_BATCH have gathered. So a quiet provider sends each bid alone as before, and a busy
 * one sends fewer, larger transactions, its batches as large as its rate times one admission (Nagle's rule, with the
 * admission as the acknowledgement).
 */
export class BidBatcher<E> {
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
        const batch = this.pending.splice(0, this.max)
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
}
