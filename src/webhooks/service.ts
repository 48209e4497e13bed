import { randomBytes } from 'node:crypto'
import { jittered } from '../core/jitter.ts'
import type { Startable } from '../core/lifecycle.ts'
import type { Logger } from '../core/logger.ts'
import type { TxDecision } from '../dag/decisions.ts'
import type { FinalRecord } from '../dag/tx-kinds.ts'
import type { TxInfo } from '../dag/tx.ts'
import { createWebhookMetrics, type WebhookMetrics } from './metrics.ts'
import { attemptDelivery, type AttemptResult, DeliveryAgents } from './delivery.ts'
import {
  checkUrl, ledgerInterestOf, normalizeAccount, view, wants, type AddedHook, type AddHookOptions, type HookState, type LedgerInterest,
  type PendingEvent
} from './hooks.ts'
import { ledgerAccounts, ledgerEvents } from './ledger-events.ts'
import { checkTarget, privateAddressTarget } from './target.ts'
import { decodeOutboxRecord, eventRecord, outboxRecord } from './outbox.ts'
import { emptyStatus, WebhookStore, type StoreOp } from './store.ts'
import {
  DEFAULT_MAX_QUEUE_PER_HOOK,
  WEBHOOK_EVENT_KINDS, WebhookError, type HookRecord, type HookStatus, type HookView, type QueuedDelivery,
  type WebhookEventKind, type WebhookMatch, type WebhookPublisher, type WebhookServiceComponents, type WebhookServiceInit
} from './types.ts'

/** Outbox records queued per batch. */
const OUTBOX_BATCH = 256

/**
 * Webhooks: an operator registers URLs for event kinds; each event is persisted in the hook's queue (LevelDB,
 * `webhooks` sublevel) and POSTed as signed JSON (`X-Harmony-Signature: t=<unix>,v1=<HMAC-SHA256(secret,
 * t.body)>`, `X-Harmony-Delivery: <id>`) until the receiver answers 2xx, retried with exponential backoff up
 * to `maxAttempts`. One worker per hook delivers its queue in order. A restart resumes every queue where it
 * stood: a delivery keeps its id and attempt count, so a receiver that dedups by id sees each event once.
 */
export class WebhookService implements Startable, WebhookPublisher {
  private readonly store: WebhookStore
  private readonly logger: Logger
  private readonly metrics: WebhookMetrics
  private readonly hooks = new Map<string, HookState>()
  private readonly maxHooks: number
  private readonly maxQueuePerHook: number
  private readonly maxAttempts: number
  private readonly retryBaseMs: number
  private readonly retryMaxMs: number
  private readonly requestTimeoutMs: number
  private readonly maxPayloadBytes: number
  private readonly maxPendingPublishes: number
  private readonly allowPrivateTargets: boolean
  /** The keep-alive connection pools, from start to stop. */
  private agents: DeliveryAgents | undefined
  private running = false
  private pendingPublishes = 0
  /** Who takes ledger events: every account, some accounts, or nobody (then decisions write no outbox record). */
  private ledgerInterest: LedgerInterest
  private outboxDirty = false
  private startDrained = false // start drained what an earlier run left in the outbox
  private draining: Promise<void> | undefined
  // every change to the stored records runs in this chain, one at a time, so a batch never races another
  private chain: Promise<void> = Promise.resolve()

  constructor (components: WebhookServiceComponents, init: WebhookServiceInit = {}) {
    this.logger = components.logger
    this.store = new WebhookStore(components.db, components.logger)
    this.metrics = createWebhookMetrics(components.registry)
    this.maxHooks = init.maxHooks ?? 64
    this.maxQueuePerHook = init.maxQueuePerHook ?? DEFAULT_MAX_QUEUE_PER_HOOK
    this.maxAttempts = init.maxAttempts ?? 12
    this.retryBaseMs = init.retryBaseMs ?? 1000
    this.retryMaxMs = init.retryMaxMs ?? 600_000
    this.requestTimeoutMs = init.requestTimeoutMs ?? 10_000
    this.maxPayloadBytes = init.maxPayloadBytes ?? 65_536
    this.maxPendingPublishes = init.maxPendingPublishes ?? 10_000
    this.allowPrivateTargets = init.allowPrivateTargets ?? false
  }

  async start (): Promise<void> {
    if (this.running) return
    for (const stored of await this.store.loadAll()) {
      this.hooks.set(stored.hook.id, { ...stored, removed: false })
      // a hook registered before the private-target check (or with the setting on then) fails each delivery now
      const refusal = this.allowPrivateTargets ? undefined : privateAddressTarget(new URL(stored.hook.url))
      if (refusal !== undefined) this.logger.warn({ hook: stored.hook.id, host: refusal.meta.host }, `webhook ${stored.hook.id}'s deliveries will fail: ${refusal.message}; remove it or turn the setting on`)
    }
    // one POST in flight per hook, so as many connections as hooks at most
    this.agents = new DeliveryAgents({ guarded: !this.allowPrivateTargets, maxSockets: this.maxHooks })
    this.running = true
    for (const state of this.hooks.values()) this.startWorker(state)
    this.updateGauges()
    // what a kill -9 left between a decision's commit and its queueing
    this.drainOutbox()
    await this.draining
    this.startDrained = true
    const queued = [...this.hooks.values()].reduce((n, s) => n + s.queue.length, 0)
    this.logger.info({ hooks: this.hooks.size, queued }, 'webhooks started')
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    for (const state of this.hooks.values()) {
      state.inFlight?.abort()
      state.wake?.()
    }
    await Promise.all([...this.hooks.values()].map(async (s) => { await s.worker }))
    await this.draining
    await this.chain
    // the idle keep-alive connections (every attempt has ended): none is left open
    this.agents?.destroy()
    this.agents = undefined
    this.hooks.clear()
    this.updateGauges()
  }

  /** Registers a hook; resolves with it and its secret (shown once: the node never shows it again). */
  async add (options: AddHookOptions): Promise<AddedHook> {
    const url = checkUrl(options.url)
    const events = [...new Set(options.events)].filter((e) => (WEBHOOK_EVENT_KINDS as readonly string[]).includes(e))
    if (events.length === 0) throw new WebhookError('WEBHOOK_URL_INVALID', `name at least one event kind of ${WEBHOOK_EVENT_KINDS.join(', ')}`)
    const accounts = [...new Set((options.accounts ?? []).map(normalizeAccount))]
    if (!this.allowPrivateTargets) await checkTarget(new URL(url))
    return await this.exclusive(async () => {
      this.requireRunning()
      if (this.hooks.size >= this.maxHooks) {
        throw new WebhookError('WEBHOOK_LIMIT', `this node keeps at most ${this.maxHooks} webhooks; remove one with webhook_remove first`)
      }
      const secret = randomBytes(32).toString('hex')
      const hook: HookRecord = { id: `wh_${randomBytes(12).toString('hex')}`, url, events, accounts, label: options.label ?? '', secret, createdAtMs: Date.now() }
      const status = emptyStatus()
      await this.store.write([this.store.putHook(hook), this.store.putStatus(hook.id, status)])
      const state: HookState = { hook, status, queue: [], removed: false }
      this.hooks.set(hook.id, state)
      this.startWorker(state)
      this.updateGauges()
      this.logger.info({ hook: hook.id, events }, 'webhook added')
      return { hook: view(state), secret }
    })
  }

  /** Every hook with its counters and last delivery (no secrets). */
  list (): HookView[] {
    return [...this.hooks.values()].sort((a, b) => a.hook.createdAtMs - b.hook.createdAtMs).map(view)
  }

  /** Removes a hook and drops its queue; false when no hook has this id. */
  async remove (id: string): Promise<boolean> {
    return await this.exclusive(async () => {
      this.requireRunning()
      const state = this.hooks.get(id)
      if (state === undefined) return false
      await this.store.write(this.store.removeHook(id, state.queue))
      state.removed = true
      state.inFlight?.abort()
      state.wake?.()
      this.hooks.delete(id)
      this.updateGauges()
      this.logger.info({ hook: id }, 'webhook removed')
      return true
    })
  }

  publish (kind: WebhookEventKind, payload: unknown, match: WebhookMatch = {}): void {
    const { targets, data } = this.prepare(kind, payload, match)
    if (data === undefined) return
    if (this.pendingPublishes >= this.maxPendingPublishes) {
      this.metrics.deliveries.inc({ outcome: 'dropped' }, targets)
      this.logger.warn({ kind }, 'webhook event dropped: too many events waiting to be stored')
      return
    }
    this.pendingPublishes++
    this.exclusive(async () => { await this.enqueueAll([{ kind, data, match, createdAtMs: Date.now() }], []) })
      .catch((err: unknown) => { this.logger.warn({ err, kind }, 'webhook event not stored; dropped') })
      .finally(() => { this.pendingPublishes-- })
  }

  /**
   * The outbox record of a decided transaction (DagLedgerInit.txDecisionRecords, written in the decision's batch)
   * when some hook takes ledger events (`tx`, `payment`) that may concern it; none otherwise.
   */
  txDecisionRecords (tx: TxInfo, decision: TxDecision): FinalRecord[] {
    const interest = this.ledgerInterest
    if (interest === undefined) return []
    if (interest !== 'all' && !ledgerAccounts(tx, decision.status).some((a) => interest.has(a))) return []
    return [outboxRecord(tx, decision)]
  }

  /** A domain event's outbox record, written in the batch of the change it reports (then `drainOutbox`), or none. */
  eventRecords (kind: WebhookEventKind, payload: unknown, match: WebhookMatch = {}): FinalRecord[] {
    const { data } = this.prepare(kind, payload, match)
    return data === undefined ? [] : [eventRecord(kind, data, match.accounts ?? [], Date.now())]
  }

  /** How many hooks take the event, and its JSON (undefined when none takes it, stopped, or it cannot be sent). */
  private prepare (kind: WebhookEventKind, payload: unknown, match: WebhookMatch): { targets: number, data?: string } {
    const targets = this.running ? [...this.hooks.values()].filter((s) => wants(s.hook, kind, match)).length : 0
    return targets === 0 ? { targets } : { targets, data: this.serialise(kind, payload, targets) }
  }

  /**
   * Moves what the outbox holds (ledger decisions, domain events) into the hook queues, one batch at a time, each batch deleting the records
   * it queued; the ledger's stream calls it after each commit (drainLedgerEvents), `start` once. Never throws. Without a
   * hook, once start drained it, the outbox stays empty (records are made for hooks only): not read (an iterator per
   * decision and per task change, over the tombstones of deleted records, was 1.5% of a market node's CPU).
   */
  drainOutbox (): void {
    if (this.startDrained && this.hooks.size === 0) return
    this.outboxDirty = true
    if (!this.running || this.draining !== undefined) return
    this.draining = (async () => {
      while (this.running && this.outboxDirty) {
        this.outboxDirty = false
        while (await this.exclusive(async () => await this.drainBatch()));
      }
    })().catch((err: unknown) => {
      // the records stay in the outbox: the next commit (or a restart) drains them
      this.logger.warn({ err }, 'webhook outbox not drained; it is tried again at the next decision')
    }).finally(() => {
      this.draining = undefined
      if (this.outboxDirty && this.running) this.drainOutbox()
    })
  }

  /** Queues up to OUTBOX_BATCH outbox records in one batch that also deletes them; true when more may wait. */
  private async drainBatch (): Promise<boolean> {
    if (!this.running) return false
    const records = await this.store.readOutbox(OUTBOX_BATCH)
    if (records.length === 0) return false
    const events: PendingEvent[] = []
    for (const [key, value] of records) {
      try {
        const entry = decodeOutboxRecord(key, value)
        if (entry.type === 'event') { events.push({ kind: entry.kind, data: entry.data, match: { accounts: entry.accounts }, createdAtMs: entry.createdAtMs }); continue }
        for (const e of ledgerEvents(entry.tx, entry.decision)) {
          const data = this.serialise(e.kind, e.payload, 1)
          if (data !== undefined) events.push({ kind: e.kind, data, match: { accounts: e.accounts }, createdAtMs: entry.decidedAtMs })
        }
      } catch (err) {
        this.logger.warn({ err }, 'unreadable webhook outbox record dropped')
      }
    }
    await this.enqueueAll(events, records.map(([key]) => this.store.delOutbox(key)))
    return records.length === OUTBOX_BATCH
  }

  /** The payload as JSON (bigints as decimal strings), or undefined (logged, counted) when it cannot be sent. */
  private serialise (kind: WebhookEventKind, payload: unknown, targets: number): string | undefined {
    let data: string
    try {
      data = JSON.stringify(payload, (_key, value: unknown) => typeof value === 'bigint' ? value.toString() : value) ?? 'null'
    } catch (err) {
      this.logger.warn({ err, kind }, 'webhook event is not JSON-serialisable; dropped')
      return undefined
    }
    if (Buffer.byteLength(data) <= this.maxPayloadBytes) return data
    this.metrics.deliveries.inc({ outcome: 'dropped' }, targets)
    this.logger.warn({ kind, bytes: Buffer.byteLength(data) }, 'webhook event dropped: too large')
    return undefined
  }

  /**
   * Queues each event for every hook that takes it, in one batch with `extraOps` (the outbox records it empties),
   * so the events are queued exactly when their source records are gone. A full queue drops its oldest delivery
   * (it may be the one in flight; its outcome is then only counted). Runs inside `exclusive`.
   */
  private async enqueueAll (events: readonly PendingEvent[], extraOps: StoreOp[]): Promise<void> {
    // stopped: write nothing, so outbox records stay for the next start
    if (!this.running) return
    const drafts = new Map<HookState, { status: HookStatus, queue: QueuedDelivery[] }>()
    const ops: StoreOp[] = []
    let dropped = 0
    for (const { kind, data, match, createdAtMs } of events) {
      for (const state of this.hooks.values()) {
        if (state.removed || !wants(state.hook, kind, match)) continue
        let draft = drafts.get(state)
        if (draft === undefined) drafts.set(state, draft = { status: { ...state.status }, queue: [...state.queue] })
        const id = `dlv_${randomBytes(12).toString('hex')}`
        const body = `{"id":${JSON.stringify(id)},"hook":${JSON.stringify(state.hook.id)},"kind":"${kind}","createdAtMs":${createdAtMs},"data":${data}}`
        const delivery: QueuedDelivery = { id, seq: draft.status.nextSeq++, kind, body, attempts: 0, nextAttemptAtMs: createdAtMs, createdAtMs }
        ops.push(this.store.putDelivery(state.hook.id, delivery))
        draft.queue.push(delivery)
        // a delivery put earlier in this batch and dropped here: the later del wins in the batch
        for (const old of draft.queue.splice(0, Math.max(0, draft.queue.length - this.maxQueuePerHook))) {
          ops.push(this.store.delDelivery(state.hook.id, old.seq))
          draft.status.dropped++
          dropped++
        }
      }
    }
    for (const [state, draft] of drafts) ops.push(this.store.putStatus(state.hook.id, draft.status))
    await this.store.write([...ops, ...extraOps])
    for (const [state, draft] of drafts) {
      state.status = draft.status
      state.queue = draft.queue
      state.wake?.()
    }
    if (dropped > 0) this.metrics.deliveries.inc({ outcome: 'dropped' }, dropped)
    this.updateGauges()
  }

  private startWorker (state: HookState): void {
    state.worker = this.runWorker(state).catch((err: unknown) => {
      this.logger.error({ err, hook: state.hook.id }, 'webhook worker failed; its queue waits for a restart')
    })
  }

  private async runWorker (state: HookState): Promise<void> {
    while (this.running && !state.removed) {
      const head = state.queue[0]
      if (head === undefined) { await this.idle(state); continue }
      const waitMs = head.nextAttemptAtMs - Date.now()
      if (waitMs > 0) { await this.idle(state, waitMs); continue }
      const controller = new AbortController()
      state.inFlight = controller
      const result = await attemptDelivery(state.hook, head, { timeoutMs: this.requestTimeoutMs, signal: controller.signal, metrics: this.metrics, allowPrivateTargets: this.allowPrivateTargets, agents: this.agents })
      state.inFlight = undefined
      // stopped or removed mid-attempt: the attempt does not count; the stored delivery is tried again after a restart
      if (result === 'aborted') continue
      try {
        await this.exclusive(async () => { await this.settle(state, head, result) })
      } catch (err) {
        // the outcome could not be stored: wait before trying the same delivery again rather than spin
        this.logger.warn({ err, hook: state.hook.id }, 'webhook delivery outcome not stored')
        await this.idle(state, this.retryBaseMs)
      }
    }
  }

  /** Records one attempt's outcome: done (delivered, or given up) removes the delivery; a failure schedules a retry. */
  private async settle (state: HookState, delivery: QueuedDelivery, result: AttemptResult): Promise<void> {
    if (state.removed) return
    const now = Date.now()
    const attempts = delivery.attempts + 1
    const queued = state.queue[0]?.id === delivery.id
    const status: HookStatus = { ...state.status }
    const ops: StoreOp[] = []
    let next: QueuedDelivery | undefined
    let outcome: 'delivered' | 'retrying' | 'failed'
    if (result.ok) {
      outcome = 'delivered'
      status.delivered++
    } else if (attempts >= this.maxAttempts) {
      outcome = 'failed'
      status.failed++
    } else {
      outcome = 'retrying'
      next = { ...delivery, attempts, nextAttemptAtMs: now + this.backoffMs(attempts) }
    }
    status.last = { id: delivery.id, kind: delivery.kind, atMs: now, outcome, attempts, httpStatus: result.httpStatus, error: result.error }
    if (queued) ops.push(next === undefined ? this.store.delDelivery(state.hook.id, delivery.seq) : this.store.putDelivery(state.hook.id, next))
    ops.push(this.store.putStatus(state.hook.id, status))
    await this.store.write(ops)
    state.status = status
    if (queued) state.queue = next === undefined ? state.queue.slice(1) : [next, ...state.queue.slice(1)]
    this.metrics.deliveries.inc({ outcome: outcome === 'retrying' ? 'retry' : outcome })
    this.updateGauges()
    if (outcome !== 'delivered') this.logger.debug({ hook: state.hook.id, delivery: delivery.id, attempts, outcome, httpStatus: result.httpStatus }, 'webhook delivery failed')
  }

  /** Exponential backoff with jitter: base · 2^(attempts-1), capped, then scaled by a random factor in [0.5, 1]. */
  private backoffMs (attempts: number): number {
    const capped = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(attempts - 1, 30))
    return Math.round(jittered(capped))
  }

  /** Waits until woken (a new event, stop, remove) or until `ms` have passed. */
  private async idle (state: HookState, ms?: number): Promise<void> {
    if (!this.running || state.removed) return
    await new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(resolve, ms)
      state.wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    state.wake = undefined
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn)
    this.chain = run.then(() => {}, () => {})
    return await run
  }

  private requireRunning (): void {
    if (!this.running) throw new WebhookError('WEBHOOK_NOT_RUNNING', 'the webhook service is not running; is the node starting or stopping?')
  }

  private updateGauges (): void {
    this.ledgerInterest = ledgerInterestOf(this.hooks.values())
    this.metrics.hooks.set(this.hooks.size)
    this.metrics.queueDepth.set([...this.hooks.values()].reduce((n, s) => n + s.queue.length, 0))
  }
}
