import { randomBytes } from 'node:crypto'
import type { Registry } from 'prom-client'
import { formatAddress, parseAddress } from '../core/address.ts'
import type { Startable } from '../core/lifecycle.ts'
import type { Logger } from '../core/logger.ts'
import type { BinaryDb } from '../core/storage.ts'
import { createWebhookMetrics, type WebhookMetrics } from './metrics.ts'
import { attemptDelivery, type AttemptResult } from './delivery.ts'
import { emptyStatus, WebhookStore, type StoreOp } from './store.ts'
import {
  WEBHOOK_EVENT_KINDS, WebhookError, type HookRecord, type HookStatus, type HookView, type QueuedDelivery,
  type WebhookEventKind, type WebhookMatch, type WebhookPublisher
} from './types.ts'

export interface WebhookServiceInit {
  /** Hooks one node keeps. @default 64 */
  maxHooks?: number
  /** Deliveries waiting per hook; past it the oldest is dropped (counted in the hook's `dropped`). @default 1000 */
  maxQueuePerHook?: number
  /** Attempts per delivery before it is given up (counted in `failed`). @default 12 */
  maxAttempts?: number
  /** Delay before the first retry; each retry doubles it (with jitter), up to `retryMaxMs`. @default 1000 */
  retryBaseMs?: number
  /** Longest delay between two attempts. @default 600000 (10 min): 12 attempts span about an hour */
  retryMaxMs?: number
  /** Time one POST may take (connect, send, status line). @default 10000 */
  requestTimeoutMs?: number
  /** Largest event payload (serialised); larger events are dropped and logged. @default 65536 */
  maxPayloadBytes?: number
  /** Events accepted by `publish` but not yet persisted; past it new events are dropped. @default 10000 */
  maxPendingPublishes?: number
}

export interface WebhookServiceComponents {
  /** The node's database; the service keeps to its `webhooks` sublevel. */
  db: BinaryDb
  logger: Logger
  registry?: Registry
}

/** What `add` returns: the hook and its signing secret, which is shown this once. */
export interface AddedHook {
  hook: HookView
  secret: string
}

export interface AddHookOptions {
  url: string
  events: readonly WebhookEventKind[]
  /** Only events concerning these accounts (hmy1… addresses); empty: every event of the kinds. @default [] */
  accounts?: readonly string[]
  /** The operator's name for the hook. @default '' */
  label?: string
}

interface HookState {
  hook: HookRecord
  status: HookStatus
  /** Oldest first; the head is the one being attempted. */
  queue: QueuedDelivery[]
  removed: boolean
  wake?: () => void
  inFlight?: AbortController
  worker?: Promise<void>
}

const MAX_URL_CHARS = 2048

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
  private running = false
  private pendingPublishes = 0
  // every change to the stored records runs in this chain, one at a time, so a batch never races another
  private chain: Promise<void> = Promise.resolve()

  constructor (components: WebhookServiceComponents, init: WebhookServiceInit = {}) {
    this.logger = components.logger
    this.store = new WebhookStore(components.db, components.logger)
    this.metrics = createWebhookMetrics(components.registry)
    this.maxHooks = init.maxHooks ?? 64
    this.maxQueuePerHook = init.maxQueuePerHook ?? 1000
    this.maxAttempts = init.maxAttempts ?? 12
    this.retryBaseMs = init.retryBaseMs ?? 1000
    this.retryMaxMs = init.retryMaxMs ?? 600_000
    this.requestTimeoutMs = init.requestTimeoutMs ?? 10_000
    this.maxPayloadBytes = init.maxPayloadBytes ?? 65_536
    this.maxPendingPublishes = init.maxPendingPublishes ?? 10_000
  }

  async start (): Promise<void> {
    if (this.running) return
    for (const stored of await this.store.loadAll()) {
      this.hooks.set(stored.hook.id, { ...stored, removed: false })
    }
    this.running = true
    for (const state of this.hooks.values()) this.startWorker(state)
    this.updateGauges()
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
    await this.chain
    this.hooks.clear()
  }

  /** Registers a hook; resolves with it and its secret (shown once: the node never shows it again). */
  async add (options: AddHookOptions): Promise<AddedHook> {
    const url = checkUrl(options.url)
    const events = [...new Set(options.events)].filter((e) => (WEBHOOK_EVENT_KINDS as readonly string[]).includes(e))
    if (events.length === 0) throw new WebhookError('WEBHOOK_URL_INVALID', `name at least one event kind of ${WEBHOOK_EVENT_KINDS.join(', ')}`)
    const accounts = [...new Set((options.accounts ?? []).map(normalizeAccount))]
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
    if (!this.running) return
    const targets = [...this.hooks.values()].filter((s) => wants(s.hook, kind, match))
    if (targets.length === 0) return
    let data: string
    try {
      data = JSON.stringify(payload, (_key, value: unknown) => typeof value === 'bigint' ? value.toString() : value) ?? 'null'
    } catch (err) {
      this.logger.warn({ err, kind }, 'webhook event is not JSON-serialisable; dropped')
      return
    }
    if (Buffer.byteLength(data) > this.maxPayloadBytes || this.pendingPublishes >= this.maxPendingPublishes) {
      this.metrics.deliveries.inc({ outcome: 'dropped' }, targets.length)
      this.logger.warn({ kind, bytes: Buffer.byteLength(data) }, 'webhook event dropped: too large, or too many events waiting to be stored')
      return
    }
    this.pendingPublishes++
    const createdAtMs = Date.now()
    this.exclusive(async () => {
      for (const state of targets) await this.enqueue(state, kind, data, createdAtMs)
    }).catch((err: unknown) => {
      this.logger.warn({ err, kind }, 'webhook event not stored; dropped')
    }).finally(() => { this.pendingPublishes-- })
  }

  private async enqueue (state: HookState, kind: WebhookEventKind, data: string, createdAtMs: number): Promise<void> {
    if (state.removed || !this.running) return
    const id = `dlv_${randomBytes(12).toString('hex')}`
    const body = `{"id":${JSON.stringify(id)},"hook":${JSON.stringify(state.hook.id)},"kind":"${kind}","createdAtMs":${createdAtMs},"data":${data}}`
    const delivery: QueuedDelivery = { id, seq: state.status.nextSeq, kind, body, attempts: 0, nextAttemptAtMs: createdAtMs, createdAtMs }
    const status: HookStatus = { ...state.status, nextSeq: state.status.nextSeq + 1 }
    const ops: StoreOp[] = [this.store.putDelivery(state.hook.id, delivery)]
    // the queue is full: the oldest delivery gives way (it may be the one in flight; its outcome is then only counted)
    const overflow = state.queue.length + 1 - this.maxQueuePerHook
    const dropped = overflow > 0 ? state.queue.slice(0, overflow) : []
    for (const d of dropped) ops.push(this.store.delDelivery(state.hook.id, d.seq))
    status.dropped += dropped.length
    ops.push(this.store.putStatus(state.hook.id, status))
    await this.store.write(ops)
    state.status = status
    state.queue = [...state.queue.slice(dropped.length), delivery]
    if (dropped.length > 0) this.metrics.deliveries.inc({ outcome: 'dropped' }, dropped.length)
    this.updateGauges()
    state.wake?.()
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
      const result = await attemptDelivery(state.hook, head, { timeoutMs: this.requestTimeoutMs, signal: controller.signal, metrics: this.metrics })
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
    return Math.round(capped * (0.5 + Math.random() / 2))
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
    this.metrics.hooks.set(this.hooks.size)
    this.metrics.queueDepth.set([...this.hooks.values()].reduce((n, s) => n + s.queue.length, 0))
  }
}

function wants (hook: HookRecord, kind: WebhookEventKind, match: WebhookMatch): boolean {
  if (!hook.events.includes(kind)) return false
  if (hook.accounts.length === 0) return true
  return match.accounts?.some((a) => hook.accounts.includes(a)) ?? false
}

function view (state: HookState): HookView {
  const { hook, status } = state
  return {
    id: hook.id,
    url: hook.url,
    events: [...hook.events],
    accounts: [...hook.accounts],
    label: hook.label,
    createdAtMs: hook.createdAtMs,
    queued: state.queue.length,
    delivered: status.delivered,
    failed: status.failed,
    dropped: status.dropped,
    last: status.last
  }
}

function checkUrl (text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new WebhookError('WEBHOOK_URL_INVALID', 'the webhook URL does not parse; give an absolute http:// or https:// URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WebhookError('WEBHOOK_URL_INVALID', 'the webhook URL must be http:// or https://')
  // webhook_list shows the URL: credentials in it would leak; receivers authenticate deliveries by their signature
  if (url.username !== '' || url.password !== '') throw new WebhookError('WEBHOOK_URL_INVALID', 'the webhook URL must not carry credentials; verify X-Harmony-Signature in the receiver instead')
  const normalized = url.toString()
  if (normalized.length > MAX_URL_CHARS) throw new WebhookError('WEBHOOK_URL_INVALID', `the webhook URL is longer than ${MAX_URL_CHARS} characters`)
  return normalized
}

function normalizeAccount (text: string): string {
  try {
    return formatAddress(parseAddress(text))
  } catch {
    throw new WebhookError('WEBHOOK_ACCOUNT_INVALID', `${text.slice(0, 80)} is not an account address (hmy1…)`)
  }
}
