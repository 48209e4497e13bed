import type { z } from 'zod'
import type { Logger } from '../core/logger.ts'
import { KEY_PREFIXES, keyBytes, sublevel, type BinaryDb, type BinarySublevel } from '../core/storage.ts'
import { hookRecordSchema, hookStatusSchema, queuedDeliverySchema, type HookRecord, type HookStatus, type QueuedDelivery } from './types.ts'

const P = KEY_PREFIXES.webhooks
const encoder = new TextEncoder()
const decoder = new TextDecoder()
// seq in the queue key is zero-padded so byte order is queue order
const SEQ_DIGITS = 20

export interface StoredHook {
  hook: HookRecord
  status: HookStatus
  /** Oldest first. */
  queue: QueuedDelivery[]
}

export type StoreOp = { type: 'put', key: Uint8Array, value: Uint8Array } | { type: 'del', key: Uint8Array }

/** The webhooks' records in their sublevel (src/core/storage.ts: `webhooks`): hooks, queues, status. */
export class WebhookStore {
  private readonly db: BinarySublevel
  private readonly logger: Logger

  constructor (db: BinaryDb, logger: Logger) {
    this.db = sublevel(db, 'webhooks')
    this.logger = logger
  }

  /** Every hook with its status and queue. A record that does not parse is logged and skipped, never fatal. */
  async loadAll (): Promise<StoredHook[]> {
    const hooks = new Map<string, StoredHook>()
    for await (const [, value] of this.db.iterator(range(P.hook))) {
      const hook = this.parse(hookRecordSchema, value, 'hook')
      if (hook !== undefined) hooks.set(hook.id, { hook, status: emptyStatus(), queue: [] })
    }
    for await (const [key, value] of this.db.iterator(range(P.status))) {
      const id = decoder.decode(key).slice(P.status.length)
      const status = this.parse(hookStatusSchema, value, 'status')
      const stored = hooks.get(id)
      if (stored !== undefined && status !== undefined) stored.status = status
    }
    for await (const [key, value] of this.db.iterator(range(P.queue))) {
      const id = decoder.decode(key).slice(P.queue.length).split('/')[0]
      const delivery = this.parse(queuedDeliverySchema, value, 'delivery')
      const stored = hooks.get(id)
      if (stored !== undefined && delivery !== undefined) stored.queue.push(delivery)
    }
    for (const stored of hooks.values()) {
      // a status written before its queue entries (never by this code, but a hand-edited db) must not reuse a seq
      const maxSeq = stored.queue.reduce((m, d) => Math.max(m, d.seq + 1), 0)
      stored.status.nextSeq = Math.max(stored.status.nextSeq, maxSeq)
    }
    return [...hooks.values()]
  }

  /** Up to `limit` outbox records (src/webhooks/outbox.ts), oldest decision first. */
  async readOutbox (limit: number): Promise<Array<[Uint8Array, Uint8Array]>> {
    const out: Array<[Uint8Array, Uint8Array]> = []
    for await (const entry of this.db.iterator({ ...range(P.outbox), limit })) out.push(entry)
    return out
  }

  delOutbox (key: Uint8Array): StoreOp {
    return { type: 'del', key }
  }

  /** Applies the ops in one atomic batch. */
  async write (ops: StoreOp[]): Promise<void> {
    if (ops.length === 0) return
    await this.db.batch(ops)
  }

  putHook (hook: HookRecord): StoreOp {
    return { type: 'put', key: keyBytes(P.hook, hook.id), value: json(hook) }
  }

  putStatus (hookId: string, status: HookStatus): StoreOp {
    return { type: 'put', key: keyBytes(P.status, hookId), value: json(status) }
  }

  putDelivery (hookId: string, delivery: QueuedDelivery): StoreOp {
    return { type: 'put', key: queueKey(hookId, delivery.seq), value: json(delivery) }
  }

  delDelivery (hookId: string, seq: number): StoreOp {
    return { type: 'del', key: queueKey(hookId, seq) }
  }

  /** Ops that remove a hook, its status and every queued delivery. */
  removeHook (hookId: string, queue: readonly QueuedDelivery[]): StoreOp[] {
    return [
      { type: 'del', key: keyBytes(P.hook, hookId) },
      { type: 'del', key: keyBytes(P.status, hookId) },
      ...queue.map((d) => this.delDelivery(hookId, d.seq))
    ]
  }

  private parse<S extends z.ZodType>(schema: S, value: Uint8Array, what: string): z.infer<S> | undefined {
    try {
      const parsed = schema.safeParse(JSON.parse(decoder.decode(value)))
      if (parsed.success) return parsed.data
    } catch {}
    this.logger.warn({ what }, 'unreadable webhook record skipped')
    return undefined
  }
}

export function emptyStatus (): HookStatus {
  return { nextSeq: 0, delivered: 0, failed: 0, dropped: 0, last: null }
}

function queueKey (hookId: string, seq: number): Uint8Array {
  return keyBytes(P.queue, `${hookId}/${String(seq).padStart(SEQ_DIGITS, '0')}`)
}

function json (value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

/** Keys starting with `prefix` (the byte after the last one bounds the range). */
function range (prefix: string): { gte: Uint8Array, lt: Uint8Array } {
  const gte = keyBytes(prefix)
  const lt = gte.slice()
  lt[lt.length - 1]++
  return { gte, lt }
}
