import { WebSocket } from 'ws'
import { jittered } from '../core/jitter.ts'
import { RpcTransportError } from './errors.ts'

export type RpcParams = readonly unknown[] | Readonly<Record<string, unknown>>

export interface CallOptions {
  signal?: AbortSignal
  timeoutMs?: number
}

/** How the WebSocket comes back after it dropped while subscriptions were active. */
export interface ReconnectOptions {
  /** Delay before the first attempt; each further attempt doubles it (with jitter). @default 100 */
  initialDelayMs?: number
  /** Longest delay between two attempts. @default 5000 */
  maxDelayMs?: number
  /** Attempts before the client gives up and ends its subscriptions (`onReconnectFailed`). @default 50 */
  maxAttempts?: number
}

export interface RpcRequest {
  jsonrpc: '2.0'
  id: number
  method: string
  params?: RpcParams
}

export interface WsSessionInit {
  url: string
  timeoutMs: number
  /** Extra headers of the upgrade request (Authorization). */
  headers: () => Promise<Record<string, string>>
  /** `false`: a dropped socket ends the subscriptions. */
  reconnect: false | Required<ReconnectOptions>
  nextId: () => number
  settle: (method: string, response: unknown) => unknown
  abortError: (method: string, timeout: AbortSignal, options: CallOptions, cause: unknown) => RpcTransportError | undefined
  onDisconnect?: (err: RpcTransportError) => void
  onReconnect?: () => void
  onReconnectFailed?: (err: Error) => void
}

interface Pending {
  method: string
  resolve: (value: unknown) => void
  reject: (err: Error) => void
  cleanup: () => void
}

/** One subscription as the caller made it; `serverId` is its id on the current connection (none while down). */
interface SubscriptionRecord {
  topic: string
  params: unknown
  deliver: (event: unknown) => void
  serverId?: string
}

// notifications that arrive before their subscribe call has answered are kept, up to this many per connection
const MAX_EARLY_NOTIFICATIONS = 256
const NOTIFICATION_METHOD = 'harmony_subscription'

/**
 * The client's WebSocket: calls matched to replies by id, subscriptions routed by id, and, when the socket drops
 * while subscriptions are active, a reconnect with bounded exponential backoff that subscribes each of them again
 * (a subscription keeps its caller's handle; only its id on the node changes). Events published while the socket
 * was down are not replayed: `onReconnect` tells the caller to re-read what it watches.
 */
export class WsSession {
  private readonly init: WsSessionInit
  private ws?: WebSocket
  private wsOpening?: Promise<WebSocket>
  private readonly pending = new Map<number, Pending>()
  private readonly subscriptions = new Set<SubscriptionRecord>()
  private readonly byServerId = new Map<string, SubscriptionRecord>()
  private readonly early = new Map<string, unknown[]>()
  private earlyCount = 0
  private reconnecting = false
  private readonly closing = new AbortController()

  constructor (init: WsSessionInit) {
    this.init = init
  }

  get closed (): boolean {
    return this.closing.signal.aborted
  }

  async call (request: RpcRequest, options: CallOptions): Promise<unknown> {
    if (this.closed) throw new RpcTransportError('RPC_CONNECTION_CLOSED', 'client is closed', { method: request.method })
    const ws = await this.connect(options)
    return await new Promise<unknown>((resolve, reject) => {
      const timeout = AbortSignal.timeout(options.timeoutMs ?? this.init.timeoutMs)
      const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
      const onAbort = (): void => {
        this.pending.delete(request.id)
        reject(this.init.abortError(request.method, timeout, options, signal.reason) ??
          new RpcTransportError('RPC_ABORTED', `${request.method} aborted`, { method: request.method }))
      }
      if (signal.aborted) { onAbort(); return }
      signal.addEventListener('abort', onAbort, { once: true })
      this.pending.set(request.id, { method: request.method, resolve, reject, cleanup: () => { signal.removeEventListener('abort', onAbort) } })
      ws.send(JSON.stringify(request), (err) => {
        if (err === undefined || err === null) return
        const pending = this.pending.get(request.id)
        if (pending === undefined) return
        this.pending.delete(request.id)
        pending.cleanup()
        reject(new RpcTransportError('RPC_CONNECTION_CLOSED', `sending ${request.method} failed: ${err.message}`, { method: request.method }, { cause: err }))
      })
    })
  }

  /** Subscribes and keeps the subscription across reconnects until the returned function is called. */
  async subscribe (topic: string, params: unknown, deliver: (event: unknown) => void, options: CallOptions): Promise<() => Promise<void>> {
    const record: SubscriptionRecord = { topic, params, deliver }
    await this.activate(record, options)
    this.subscriptions.add(record)
    return async () => {
      if (!this.subscriptions.delete(record)) return
      const id = record.serverId
      record.serverId = undefined
      if (id === undefined) return
      this.byServerId.delete(id)
      if (this.ws?.readyState !== WebSocket.OPEN) return
      await this.call({ jsonrpc: '2.0', id: this.init.nextId(), method: 'harmony_unsubscribe', params: [id] }, {})
    }
  }

  /** Active subscriptions (kept across reconnects). */
  get subscriptionCount (): number {
    return this.subscriptions.size
  }

  async close (): Promise<void> {
    this.closing.abort()
    const ws = this.ws ?? await this.wsOpening?.catch(() => undefined)
    this.ws = undefined
    this.wsOpening = undefined
    this.failPending(new RpcTransportError('RPC_CONNECTION_CLOSED', 'client closed'))
    this.subscriptions.clear()
    this.byServerId.clear()
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return
    await new Promise<void>((resolve) => {
      ws.once('close', () => { resolve() })
      ws.close(1000)
    })
  }

  private async activate (record: SubscriptionRecord, options: CallOptions): Promise<void> {
    const params = record.params === undefined ? [record.topic] : [record.topic, record.params]
    const id = await this.call({ jsonrpc: '2.0', id: this.init.nextId(), method: 'harmony_subscribe', params }, options)
    if (typeof id !== 'string') throw new RpcTransportError('RPC_BAD_RESPONSE', 'harmony_subscribe returned no subscription id')
    record.serverId = id
    this.byServerId.set(id, record)
    const early = this.early.get(id)
    if (early !== undefined) {
      this.early.delete(id)
      this.earlyCount -= early.length
      for (const event of early) record.deliver(event)
    }
  }

  private async connect (options: CallOptions): Promise<WebSocket> {
    if (this.ws?.readyState === WebSocket.OPEN) return this.ws
    if (this.wsOpening !== undefined) return await this.wsOpening
    const opening = this.open(options)
    this.wsOpening = opening
    try {
      return await opening
    } finally {
      if (this.wsOpening === opening) this.wsOpening = undefined
    }
  }

  private async open (options: CallOptions): Promise<WebSocket> {
    const headers = await this.init.headers()
    return await new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(this.init.url, { handshakeTimeout: options.timeoutMs ?? this.init.timeoutMs, headers })
      const onError = (err: Error): void => {
        reject(new RpcTransportError('RPC_CONNECTION_FAILED', `cannot open a WebSocket to ${this.init.url}: ${err.message}`, {}, { cause: err }))
      }
      ws.once('error', onError)
      // a refused upgrade (401 without a valid token, 403 for a foreign origin, 503 when full) says why
      ws.once('unexpected-response', (_req, res) => {
        ws.off('error', onError)
        ws.on('error', () => {})
        const status = res.statusCode ?? 0
        res.resume()
        ws.terminate()
        reject(new RpcTransportError('RPC_HTTP_STATUS', `the node refused the WebSocket with HTTP ${status}${status === 401 ? ': pass a token (--rpc-token or the token option)' : ''}`, { status }))
      })
      ws.once('open', () => {
        ws.off('error', onError)
        ws.on('error', () => {}) // the close event that follows carries the outcome
        ws.on('message', (data) => { this.onMessage(data.toString()) })
        ws.once('close', (code, reason) => { this.onClose(ws, code, reason.toString()) })
        if (this.closed) { ws.close(1000); reject(new RpcTransportError('RPC_CONNECTION_CLOSED', 'client is closed')); return }
        this.ws = ws
        resolve(ws)
      })
    })
  }

  private onMessage (text: string): void {
    let message: unknown
    try {
      message = JSON.parse(text)
    } catch {
      return // not JSON-RPC: nothing to route it to
    }
    for (const item of Array.isArray(message) ? message : [message]) {
      if (typeof item !== 'object' || item === null) continue
      const record = item as Record<string, unknown>
      if (record.method === NOTIFICATION_METHOD) {
        this.onNotification(record.params)
        continue
      }
      if (typeof record.id !== 'number') continue
      const pending = this.pending.get(record.id)
      if (pending === undefined) continue
      this.pending.delete(record.id)
      pending.cleanup()
      try {
        pending.resolve(this.init.settle(pending.method, record))
      } catch (err) {
        pending.reject(err as Error)
      }
    }
  }

  private onNotification (params: unknown): void {
    if (typeof params !== 'object' || params === null) return
    const { subscription, result } = params as { subscription?: unknown, result?: unknown }
    if (typeof subscription !== 'string') return
    const record = this.byServerId.get(subscription)
    if (record !== undefined) { record.deliver(result); return }
    // the event may beat the subscribe reply: keep it until the reply arrives
    if (this.earlyCount >= MAX_EARLY_NOTIFICATIONS) return
    const queue = this.early.get(subscription) ?? []
    queue.push(result)
    this.early.set(subscription, queue)
    this.earlyCount++
  }

  private onClose (ws: WebSocket, code: number, reason: string): void {
    if (this.ws === ws) this.ws = undefined
    const err = new RpcTransportError('RPC_CONNECTION_CLOSED', `WebSocket closed (${code}${reason === '' ? '' : `: ${reason}`})`, { code, reason })
    this.failPending(err)
    // the node forgot this connection's subscriptions: each needs a new id on the next connection
    this.byServerId.clear()
    for (const record of this.subscriptions) record.serverId = undefined
    this.early.clear()
    this.earlyCount = 0
    if (this.closed) return
    this.init.onDisconnect?.(err)
    if (this.init.reconnect === false) {
      this.subscriptions.clear()
      return
    }
    if (this.subscriptions.size > 0) void this.reconnectLoop(this.init.reconnect)
  }

  private async reconnectLoop (options: Required<ReconnectOptions>): Promise<void> {
    if (this.reconnecting) return
    this.reconnecting = true
    try {
      for (let attempt = 1; ; attempt++) {
        await this.delay(jittered(Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(attempt - 1, 20))))
        if (this.closed || this.subscriptions.size === 0) return
        try {
          await this.connect({})
          for (const record of [...this.subscriptions]) {
            if (record.serverId === undefined && this.subscriptions.has(record)) await this.activate(record, {})
          }
          if (this.closed) return
          this.init.onReconnect?.()
          return
        } catch (err) {
          if (attempt >= options.maxAttempts) {
            this.subscriptions.clear()
            this.init.onReconnectFailed?.(err as Error)
            return
          }
          // a node that refuses a resubscription (an RpcClientError) is retried like one that is down: it may
          // be restarting with its topics not registered yet
        }
      }
    } finally {
      this.reconnecting = false
    }
  }

  private async delay (ms: number): Promise<void> {
    if (this.closed) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      const signal = this.closing.signal
      function done (): void {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      signal.addEventListener('abort', done, { once: true })
    })
  }

  private failPending (err: RpcTransportError): void {
    for (const [id, pending] of this.pending) {
      this.pending.delete(id)
      pending.cleanup()
      pending.reject(err)
    }
  }
}
