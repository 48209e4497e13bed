import { z } from 'zod'
import { CoalescedWriter, KEY_PREFIXES, keyBytes, type BinarySublevel } from '../../core/storage.ts'

/**
 * The provider agent's own bids, one record per task in the `market` sublevel (`g/<task id>`). The salt is written
 * before the commit is submitted, so a provider killed between its commit and its reveal can still reveal after a
 * restart (a lost salt is a lost bid). Records of finished tasks are deleted. Each write resolves once it is on disk;
 * the writes of many tasks made meanwhile go in one batch (a busy provider writes each bid's every stage).
 */

/** Where a bid stands on this provider. */
export const BID_STAGES = ['committing', 'committed', 'revealed', 'running', 'answered', 'failed'] as const
export type BidStage = (typeof BID_STAGES)[number]

const recordSchema = z.strictObject({
  taskId: z.string().regex(/^[0-9a-f]{64}$/),
  price: z.string().regex(/^[0-9]{1,39}$/),
  salt: z.string().regex(/^[0-9a-f]{64}$/),
  stage: z.enum(BID_STAGES),
  commitTx: z.string().optional(),
  revealTx: z.string().optional(),
  /** Award rounds this provider answered (a replacement round awards again). */
  answeredRounds: z.array(z.number().int().min(0).max(255)).max(256).default([]),
  resultTx: z.string().optional(),
  sinceMs: z.number().int().nonnegative(),
  detail: z.string().max(512).optional()
})

export type BidRecord = z.output<typeof recordSchema>

const PREFIX = KEY_PREFIXES.market.agentBid

export class BidStore {
  private readonly db: BinarySublevel
  private readonly writes: CoalescedWriter

  constructor (db: BinarySublevel) {
    this.db = db
    this.writes = new CoalescedWriter(db)
  }

  async put (record: BidRecord): Promise<void> {
    await this.writes.put(keyBytes(PREFIX, record.taskId), new TextEncoder().encode(JSON.stringify(record)))
  }

  async delete (taskId: string): Promise<void> {
    await this.writes.del(keyBytes(PREFIX, taskId))
  }

  /** Every stored record; a record that no longer parses (a hand-edited or foreign datadir) is skipped, not fatal. */
  async all (limit = 100_000): Promise<BidRecord[]> {
    const out: BidRecord[] = []
    const gte = keyBytes(PREFIX)
    const lt = keyBytes(PREFIX.slice(0, -1) + String.fromCharCode(PREFIX.charCodeAt(PREFIX.length - 1) + 1))
    for await (const value of this.db.values({ gte, lt, limit })) {
      try {
        out.push(recordSchema.parse(JSON.parse(new TextDecoder().decode(value))))
      } catch {
        // skipped: the agent will not reveal a bid it cannot read, which costs only that bid
      }
    }
    return out
  }
}
