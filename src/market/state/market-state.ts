/**
 * `MarketState`: applies final market transactions into the `market` sublevel and answers `MarketReader`.
 *
 * Kill -9 safety: every final market transaction is queued in its decision's own batch (kinds/queue.ts), and an
 * entry leaves the queue in the batch that writes what it changed (one batch for the entries one drain pass applies,
 * overlay.ts). So each final market transaction is either still queued or applied, never lost or applied twice;
 * `start` drains what a crash left. The ledger's event hands the entries over as they are (queue-cursor.ts `feed`).
 * Entries are applied in this node's finality order; one whose dependency is not applied yet stays queued
 * (parked, apply.ts) and is retried right after each later entry of its task that applies, until it applies or is
 * older than `parkMs` of market time behind the newest applied entry (then refused): the state cut's rule
 * (queue-cursor.ts).
 *
 * Memory: bounded caches of records (tasks, providers); a settled task leaves them and the open set; the rest is on disk.
 * Past 400 lines, one job: the drain that writes the records and the reader that answers from the caches it fills.
 */
import { EventEmitter } from 'node:events'
import { type BinaryDb, type BinarySublevel, getValue, KEY_PREFIXES, sublevel } from '../../core/storage.ts'
import type { Logger } from '../../core/logger.ts'
import type { Startable } from '../../core/lifecycle.ts'
import { parseAddress } from '../../core/address.ts'
import { toHex } from '../../core/codec.ts'
import type { LedgerReader } from '../../dag/reader.ts'
import type { FinalPlace, FinalRecord } from '../../dag/tx-kinds.ts'
import { type TxInfo, txInfo } from '../../dag/tx.ts'
import { entryCount, MARKET_KIND_IDS, type QueuedTx, queuedEntries } from '../kinds/index.ts'
import { type ApplyOutcome, applyMarketTx, marketTaskIdOf } from './apply.ts'
import { DrainLoop } from './drain-loop.ts'
import { QueueCursor, type QueueOffer } from './queue-cursor.ts'
import { type MarketReader, type MarketReaderEvents, type PaymentView, type ProviderView, type TaskFilter, type TaskView, type BidView, TERMINAL_PHASES } from './reader.ts'
import { Overlay } from './overlay.ts'
import { bidViews, decodeRecord, isDone, type ProviderRecord, providerView, type TaskRecord, taskView } from './records.ts'

const P = KEY_PREFIXES.market
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array): string => new TextDecoder().decode(b)
const MARKET_KINDS = new Set(MARKET_KIND_IDS)
/** Entries of one drain pass committed in one batch at most (the rest in the next): bounds a batch and its wait. */
const COMMIT_ENTRIES = 256

/** Entries applied and not committed yet: their writes, queue records, change records and what runs once committed. */
interface PendingCommit {
  writes: Overlay
  queued: Uint8Array[]
  records: FinalRecord[]
  after: Array<() => void>
}

export interface MarketStateInit {
  /** Task records kept in memory. @default 2000 */
  maxCachedTasks?: number
  /** Provider records kept in memory. @default 10000 */
  maxCachedProviders?: number
  /** A parked entry older than this (market time, behind the newest applied) is refused. @default 600000 */
  parkMs?: number
  /** Recently settled task ids kept for `tasks()` listings. @default 1000 */
  recentSettled?: number
}

/** The DAG service's `tx:final`: with a vertex id and place, the entries queued go to the cursor as they are. */
export interface FinalEvent { tx: TxInfo, vertexId?: string, at?: FinalPlace }

export interface MarketStateComponents {
  db: BinaryDb
  /** The DAG's read side and its finalized stream. */
  dag: { reader: LedgerReader, on: (e: 'tx:final', fn: (e: FinalEvent) => void) => unknown, off: (e: 'tx:final', fn: (e: FinalEvent) => void) => unknown }
  logger: Logger
  /**
   * Records to write with each change of a task, in the batch that commits it (the node's webhook outbox: a `task`
   * event then survives a kill -9 between the commit and its delivery queue). Called once per changed task.
   */
  taskChangeRecords?: (task: TaskView) => FinalRecord[]
}

/** Called after each applied or refused entry (metrics, the coordinator). */
export type ApplyListener = (tx: TxInfo, outcome: ApplyOutcome, timeMs: number) => void

class Lru<V> {
  private readonly map = new Map<string, V>()
  private readonly limit: number
  constructor (limit: number) { this.limit = limit }
  get (k: string): V | undefined {
    const v = this.map.get(k)
    if (v !== undefined) { this.map.delete(k); this.map.set(k, v) }
    return v
  }

  set (k: string, v: V): void {
    this.map.delete(k)
    if (this.map.size >= this.limit) {
      const first = this.map.keys().next()
      if (first.done !== true) this.map.delete(first.value)
    }
    this.map.set(k, v)
  }

  delete (k: string): void { this.map.delete(k) }
  values (): IterableIterator<V> { return this.map.values() }
}

export class MarketState extends EventEmitter<MarketReaderEvents> implements MarketReader, Startable {
  private readonly db: BinarySublevel
  private readonly c: MarketStateComponents
  private readonly log: Logger
  private readonly tasksCache: Lru<TaskRecord>
  private readonly providersCache: Lru<ProviderRecord>
  /** tasks not settled (ids); their records are read through the cache */
  private readonly open = new Set<string>()
  private readonly recent: string[] = []
  private readonly recentLimit: number
  private readonly parkMs: number
  private newestAppliedMs = 0
  private readonly queue: QueueCursor
  private readonly loop: DrainLoop
  private running = false
  private readonly appliedListeners = new Set<ApplyListener>()
  /** the last queued transaction decoded (its id is its bytes' hash) */
  private lastDecoded: TxInfo | undefined
  /** what this drain pass applied so far and has not committed (`commit`) */
  private pending: PendingCommit | undefined
  private readonly onFinal = (e: FinalEvent): void => {
    if (!MARKET_KINDS.has(e.tx.tx.kind)) return
    if (e.at !== undefined && e.vertexId !== undefined) this.queue.feed(queuedEntries(e.tx, e.vertexId.replace(/^0x/, ''), e.at, entryCount(e.tx)))
    else this.queue.unfed()
    this.loop.schedule()
  }

  constructor (components: MarketStateComponents, init: MarketStateInit = {}) {
    super()
    this.c = components
    this.db = sublevel(components.db, 'market')
    this.queue = new QueueCursor(this.db)
    this.log = components.logger.child({ module: 'market-state' })
    this.loop = new DrainLoop(async () => await this.drainPass(), this.log)
    this.tasksCache = new Lru(Math.max(16, init.maxCachedTasks ?? 2000))
    this.providersCache = new Lru(Math.max(16, init.maxCachedProviders ?? 10_000))
    this.parkMs = init.parkMs ?? 600_000
    this.recentLimit = init.recentSettled ?? 1000
  }

  async start (): Promise<void> {
    if (this.running) return
    for await (const k of this.db.keys({ gte: enc(P.open), lt: enc(`${P.open}\xff`) })) this.open.add(dec(k).slice(P.open.length))
    this.running = true
    this.loop.start()
    this.c.dag.on('tx:final', this.onFinal)
    await this.drain()
  }

  async stop (): Promise<void> {
    this.running = false
    this.c.dag.off('tx:final', this.onFinal)
    await this.loop.stop()
  }

  /** Listens to every applied, parked-out or refused market transaction. */
  onApplied (fn: ApplyListener): () => void {
    this.appliedListeners.add(fn)
    return () => { this.appliedListeners.delete(fn) }
  }

  /** Applies every entry queued on disk now and until the queue stays empty (start, tests; `caughtUp` for readers). */
  async drain (): Promise<void> { this.queue.unfed(); await this.loop.drain() }

  /** Resolves once every market transaction final before this call is applied (or parked), under any load. */
  async caughtUp (): Promise<void> { await this.loop.caughtUp() }

  /** One pass of the drain loop: its entries commit together (at most COMMIT_ENTRIES a batch), before it ends. */
  private async drainPass (): Promise<boolean> {
    // not listening (before start, after stop; the order checks still call `caughtUp`): nothing is fed, read the disk
    if (!this.running) this.queue.unfed()
    try {
      const progress = await this.queue.pass({
        apply: async (q, expire) => await this.applyQueued(q, expire),
        expiresBefore: () => this.newestAppliedMs - this.parkMs
      })
      await this.commit()
      return progress
    } catch (err) {
      // what this pass applied and did not commit is still queued on disk: the next pass reads the queue from its start
      this.pending = undefined
      this.queue.reset()
      throw err
    }
  }

  /**
   * Applies one queued entry (QueueCursor's consumer); with `expire`, one that would stay parked is refused. Its
   * writes join the pass's pending commit: read by the entries after it, on disk (with its leaving the queue) once
   * the pass commits.
   */
  private async applyQueued (q: QueuedTx, expire: boolean): Promise<QueueOffer> {
    let tx: TxInfo
    try {
      // a bid batch's entries are consecutive records of one transaction: decoded once
      tx = q.info ?? (this.lastDecoded?.idHex === q.txIdHex ? this.lastDecoded : txInfo(q.encoded))
      this.lastDecoded = tx
    } catch (err) {
      // the ledger decoded it when it became final; a record that no longer decodes is dropped, not retried forever
      this.log.error({ err, tx: q.txIdHex }, 'a queued market transaction does not decode')
      await this.db.del(q.key)
      return { left: true, task: undefined }
    }
    const task = taskOf(tx, q.entry)
    const timeMs = Number(q.vertexTimeMs)
    const pending = this.pending ?? { writes: new Overlay(this), queued: [], records: [], after: [] }
    const writes = new Overlay(pending.writes)
    let outcome: ApplyOutcome
    try {
      outcome = await applyMarketTx(writes, tx, { txId: q.txIdHex, timeMs }, q.entry)
    } catch (err) {
      // a payload that decoded at admission always decodes here; anything else is our own bug: refuse, log, go on
      this.log.error({ err, tx: q.txIdHex }, 'a final market transaction could not be applied')
      outcome = { status: 'refused', code: 'DECISION_INVALID', reason: 'could not be applied' }
    }
    if (outcome.status === 'parked') {
      if (!expire) return { left: false, task }
      outcome = { status: 'refused', code: outcome.code ?? 'TASK_UNKNOWN', reason: `parked too long: ${outcome.reason}` }
    }
    // a refusal keeps what apply wrote for it (only the bid's own record: why its reveal is not considered)
    const now = Date.now()
    const changed = [...writes.tasks.values()].map((t) => taskView(t.rec, now))
    const providers = [...writes.providers.values()].map(providerView)
    pending.writes.merge(writes)
    pending.queued.push(q.key)
    pending.records.push(...this.changeRecords(changed))
    const done = outcome
    pending.after.push(() => {
      if (done.status === 'refused') this.log.debug({ tx: q.txIdHex, code: done.code, reason: done.reason }, 'final market transaction refused by the market rules')
      for (const fn of this.appliedListeners) fn(tx, done, timeMs)
      for (const t of changed) this.emit('task:changed', t)
      for (const p of providers) this.emit('provider:changed', p)
    })
    this.pending = pending
    if (timeMs > this.newestAppliedMs) this.newestAppliedMs = timeMs
    if (pending.queued.length >= COMMIT_ENTRIES) await this.commit()
    return { left: true, task }
  }

  /**
   * Writes what the pending entries changed, the records that report it and their leaving the queue as ONE batch
   * (kill -9: all of them applied, or all still queued), then lets readers and listeners see it, in entry order.
   */
  private async commit (): Promise<void> {
    const p = this.pending
    if (p === undefined) return
    this.pending = undefined
    const batch = this.c.db.batch()
    for (const op of p.writes.ops()) {
      if (op.type === 'put') batch.put(op.key, op.value, { sublevel: this.db })
      else batch.del(op.key, { sublevel: this.db })
    }
    for (const key of p.queued) batch.del(key, { sublevel: this.db })
    for (const r of p.records) batch.put(r.key, r.value, { sublevel: sublevel(this.c.db, r.sublevel) })
    await batch.write()
    p.writes.adoptInto(this)
    for (const fn of p.after) fn()
  }

  /** The records reporting these task changes; none (logged) when the hook fails, so the change still commits. */
  private changeRecords (changed: TaskView[]): FinalRecord[] {
    const hook = this.c.taskChangeRecords
    if (hook === undefined) return []
    try {
      return changed.flatMap((task) => hook(task))
    } catch (err) {
      this.log.warn({ err }, 'task change records not written; the change commits without them')
      return []
    }
  }

  /**
   * What applying `tx` (entry `entry` of a bid batch) at market time `timeMs` would do on this node's state now,
   * writing nothing: `refused` with its code, `parked` when the task or the award is not known here yet. The ledger's
   * admission asks before it queues a client's bid, result or cancel (state/admission.ts). Throws when the state
   * cannot be read.
   */
  async precheck (tx: TxInfo, timeMs = Date.now(), entry?: number): Promise<ApplyOutcome> {
    return await applyMarketTx(new Overlay(this.pending?.writes ?? this), tx, { txId: tx.idHex, timeMs }, entry)
  }

  // ---------------------------------------------------------------- records (the coordinator reads these)

  async taskRecord (taskId: string): Promise<TaskRecord | undefined> {
    const cached = this.tasksCache.get(taskId)
    if (cached !== undefined) return cached
    const bytes = await getValue(this.db, enc(P.task + taskId))
    if (bytes === undefined) return undefined
    const rec = decodeRecord<TaskRecord>(bytes)
    if (!isDone(rec)) this.tasksCache.set(taskId, rec)
    return rec
  }

  /** The genesis validators' public keys (apply.ts: who judges an input claim). */
  validatorKeys (): readonly Uint8Array[] { return this.c.dag.reader.validatorKeys() }

  async providerRecord (address: string): Promise<ProviderRecord | undefined> {
    const cached = this.providersCache.get(address)
    if (cached !== undefined) return cached
    const bytes = await getValue(this.db, enc(P.provider + address))
    if (bytes === undefined) return undefined
    const rec = decodeRecord<ProviderRecord>(bytes)
    this.providersCache.set(address, rec)
    return rec
  }

  /** Ids of tasks not settled yet. */
  openTaskIds (): string[] { return [...this.open] }

  /** Whether `taskId` (hex, no 0x) is announced here and not ended. */
  isOpen (taskId: string): boolean { return this.open.has(taskId) }

  /** Called by the overlay once its batch committed. */
  adoptTask (t: TaskRecord): void {
    if (isDone(t)) {
      this.tasksCache.delete(t.taskId)
      if (this.open.delete(t.taskId)) {
        this.recent.push(t.taskId)
        if (this.recent.length > this.recentLimit) this.recent.shift()
      }
    } else {
      this.tasksCache.set(t.taskId, t)
      this.open.add(t.taskId)
    }
  }

  adoptProvider (p: ProviderRecord): void { this.providersCache.set(p.address, p) }

  // ---------------------------------------------------------------- MarketReader

  async task (taskId: string): Promise<TaskView | undefined> {
    const t = await this.taskRecord(normalizeId(taskId))
    return t === undefined ? undefined : taskView(t, Date.now())
  }

  async tasks (filter: TaskFilter = {}): Promise<TaskView[]> {
    const limit = Math.min(Math.max(1, filter.limit ?? 100), 1000)
    // a task done (settled, its faults slashed) is in a terminal phase, and has left the cache: read from disk for
    // nothing by a listing of an open phase (every provider's sweeps read the 1,000 recent ones and up to 200 of its
    // own every 3 s: 1.3% of a market node's main thread at 30 tasks in flight)
    const openOnly = filter.phase !== undefined && !TERMINAL_PHASES.has(filter.phase)
    let ids: string[]
    if (filter.requester !== undefined || filter.provider !== undefined) {
      const prefix = filter.requester !== undefined ? `${P.byRequester}${toHex(parseAddress(filter.requester))}/` : `${P.byProvider}${toHex(parseAddress(filter.provider as string))}/`
      ids = []
      for await (const k of this.db.keys({ gte: enc(prefix), lt: enc(`${prefix}\xff`), reverse: true, limit: 1000 })) ids.push(dec(k).slice(prefix.length))
    } else {
      ids = openOnly ? [...this.open] : [...this.open, ...[...this.recent].reverse()]
    }
    const now = Date.now()
    const out: TaskView[] = []
    for (const id of ids) {
      if (out.length >= limit) break
      if (openOnly && !this.open.has(id)) continue
      const t = await this.taskRecord(id)
      if (t === undefined) continue
      const v = taskView(t, now)
      if (filter.phase === undefined || v.phase === filter.phase) out.push(v)
    }
    return out.sort((a, b) => b.announcedAtMs - a.announcedAtMs)
  }

  async bids (taskId: string): Promise<BidView[]> {
    const t = await this.taskRecord(normalizeId(taskId))
    return t === undefined ? [] : bidViews(t)
  }

  async provider (address: string): Promise<ProviderView | undefined> {
    const p = await this.providerRecord(toHex(parseAddress(address)))
    return p === undefined ? undefined : providerView(p)
  }

  async providers (limit = 100): Promise<ProviderView[]> {
    const out: ProviderView[] = []
    for await (const [, v] of this.db.iterator({ gte: enc(P.provider), lt: enc(`${P.provider}\xff`), limit: Math.min(Math.max(1, limit), 1000) })) {
      try { out.push(providerView(decodeRecord<ProviderRecord>(v))) } catch { /* an unreadable record is skipped */ }
    }
    return out
  }

  async payments (address: string, limit = 100): Promise<PaymentView[]> {
    const prefix = `${P.payment}${toHex(parseAddress(address))}/`
    const out: PaymentView[] = []
    for await (const [, v] of this.db.iterator({ gte: enc(prefix), lt: enc(`${prefix}\xff`), reverse: true, limit: Math.min(Math.max(1, limit), 1000) })) {
      try { out.push(decodeRecord<PaymentView>(v)) } catch { /* skipped */ }
    }
    return out
  }

  get sublevel (): BinarySublevel { return this.db }
}

/** The task a market transaction (or batch entry) is about, for the cursor's retry of the entries parked on it (none if unreadable). */
function taskOf (tx: TxInfo, entry: number | undefined): string | undefined {
  try {
    return marketTaskIdOf(tx, entry)
  } catch {
    return undefined
  }
}

function normalizeId (id: string): string {
  return (id.startsWith('0x') ? id.slice(2) : id).toLowerCase()
}
