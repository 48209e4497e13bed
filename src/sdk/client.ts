import { WebSocket } from 'ws'
import type { RpcMethodName, RpcParamsOf, RpcResultOf, RpcTopicEventOf, RpcTopicFilterOf, RpcTopicName } from '../api/definitions.ts'
import { RpcClientError, RpcTransportError } from './errors.ts'
import { mintJwt } from '../rpc/jwt.ts'

export { RpcClientError, RpcTransportError }
export type { RpcTransportErrorCode } from './errors.ts'

export type RpcParams = readonly unknown[] | Readonly<Record<string, unknown>>

/**
 * Credentials for admin and spending methods: the node's JWT secret (`<datadir>/rpc/jwt.hex`; a fresh HS256 token
 * is minted per request and per WebSocket connection) or an API key (`hk_…`, from `harmonyd rpc keys add`).
 */
export type RpcCredentials = { jwtSecret: Uint8Array } | { apiKey: string }

export interface HarmonyClientOptions {
  /**
   * The node's RPC endpoint: `http://127.0.0.1:9545` (calls over HTTP, subscriptions over a WebSocket opened on
   * first use) or `ws://127.0.0.1:9545` (everything over one WebSocket).
   */
  url: string
  /** Per-call timeout, overridable per call. @default 30000 */
  timeoutMs?: number
  /** Called once when the WebSocket closes on its own; its subscriptions have ended (there is no reconnect). */
  onDisconnect?: (err: RpcTransportError) => void
  /** Sent with every HTTP request and on the WebSocket upgrade; public methods need none. @default none */
  auth?: RpcCredentials
}

export interface CallOptions {
  signal?: AbortSignal
  timeoutMs?: number
}

/** The params and options of a typed call: params may be left out where the method's params are optional. */
export type CallArgs<M extends RpcMethodName> = undefined extends RpcParamsOf<M>
  ? [params?: RpcParamsOf<M>, options?: CallOptions]
  // a method without params is called without them (the node reads absent params as `[]`)
  : [] extends RpcParamsOf<M> ? [params?: RpcParamsOf<M>, options?: CallOptions] : [params: RpcParamsOf<M>, options?: CallOptions]

/** Cancels a subscription: stops local delivery at once, then tells the node. */
export type Unsubscribe = () => Promise<void>

interface RpcResponse {
  jsonrpc: '2.0'
  id: string | number | null
  result?: unknown
  error?: { code: number, message: string, data?: unknown }
}

interface RpcRequest {
  jsonrpc: '2.0'
  id: number
  method: string
  params?: RpcParams
}

interface Pending {
  method: string
  resolve: (value: unknown) => void
  reject: (err: Error) => void
  cleanup: () => void
}

// notifications that arrive before their subscribe call has answered are kept, up to this many per connection
const MAX_EARLY_NOTIFICATIONS = 256
const NOTIFICATION_METHOD = 'harmony_subscription'

/**
 * Typed JSON-RPC client for a Harmony node. Method names, params, results and topic events are typed from the
 * shared definitions (src/api/definitions.ts); `request` and `subscribeTo` take any name, untyped.
 *
 * ```ts
 * const client = new HarmonyClient({ url: 'http://127.0.0.1:9545' })
 * const balance = await client.call('account_getBalance', [address]) // string
 * const stop = await client.subscribe('tx_status', { id }, (event) => { ... }) // event.status: 'final' | 'rejected'
 * await stop(); await client.close()
 * ```
 */
export class HarmonyClient {
  private readonly httpUrl?: string
  private readonly wsUrl: string
  private readonly timeoutMs: number
  private readonly onDisconnect?: (err: RpcTransportError) => void
  private readonly auth?: RpcCredentials
  private nextId = 1
  private ws?: WebSocket
  private wsOpening?: Promise<WebSocket>
  private readonly pending = new Map<number, Pending>()
  private readonly subscriptions = new Map<string, (event: unknown) => void>()
  private readonly early = new Map<string, unknown[]>()
  private earlyCount = 0
  private closed = false

  constructor (options: HarmonyClientOptions) {
    const url = new URL(options.url)
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      this.httpUrl = url.toString()
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
      this.wsUrl = url.toString()
    } else if (url.protocol === 'ws:' || url.protocol === 'wss:') {
      this.wsUrl = url.toString()
    } else {
      throw new TypeError(`unsupported RPC URL ${options.url}: use http://, https://, ws:// or wss://`)
    }
    this.timeoutMs = options.timeoutMs ?? 30_000
    this.onDisconnect = options.onDisconnect
    this.auth = options.auth
  }

  /**
   * Calls a method of the Harmony API with params checked by TypeScript; resolves with its typed result, rejects
   * with `RpcClientError` (node error) or `RpcTransportError`.
   */
  async call<M extends RpcMethodName>(method: M, ...[params, options]: CallArgs<M>): Promise<RpcResultOf<M>> {
    return await this.request<RpcResultOf<M>>(method, params as RpcParams | undefined, options)
  }

  /** Calls any method by name, untyped (methods this SDK does not know yet); errors as `call`. */
  async request<T = unknown>(method: string, params?: RpcParams, options: CallOptions = {}): Promise<T> {
    if (this.closed) throw new RpcTransportError('RPC_CONNECTION_CLOSED', 'client is closed', { method })
    const id = this.nextId++
    const request: RpcRequest = { jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }
    const result = this.httpUrl !== undefined
      ? await this.callHttp(this.httpUrl, request, options)
      : await this.callWs(request, options)
    return result as T
  }

  /**
   * Subscribes to a topic of the Harmony API over the WebSocket; `onEvent` gets each event, typed. Resolves once
   * the node has accepted the subscription, with the function that cancels it.
   */
  async subscribe<T extends RpcTopicName>(topic: T, filter: RpcTopicFilterOf<T>, onEvent: (event: RpcTopicEventOf<T>) => void, options: CallOptions = {}): Promise<Unsubscribe> {
    return await this.subscribeTo<RpcTopicEventOf<T>>(topic, filter, onEvent, options)
  }

  /** Subscribes to any topic by name, untyped; as `subscribe`. */
  async subscribeTo<E = unknown>(topic: string, params: unknown, onEvent: (event: E) => void, options: CallOptions = {}): Promise<Unsubscribe> {
    const subscriptionParams = params === undefined ? [topic] : [topic, params]
    const id = await this.callWs({ jsonrpc: '2.0', id: this.nextId++, method: 'harmony_subscribe', params: subscriptionParams }, options)
    if (typeof id !== 'string') throw new RpcTransportError('RPC_BAD_RESPONSE', 'harmony_subscribe returned no subscription id')
    const deliver = onEvent as (event: unknown) => void
    this.subscriptions.set(id, deliver)
    const early = this.early.get(id)
    if (early !== undefined) {
      this.early.delete(id)
      this.earlyCount -= early.length
      for (const event of early) deliver(event)
    }
    return async () => {
      if (!this.subscriptions.delete(id)) return
      if (this.ws?.readyState !== WebSocket.OPEN) return
      await this.callWs({ jsonrpc: '2.0', id: this.nextId++, method: 'harmony_unsubscribe', params: [id] }, {})
    }
  }

  /** Closes the WebSocket (if any) and fails calls still waiting. */
  async close (): Promise<void> {
    this.closed = true
    const ws = this.ws ?? await this.wsOpening?.catch(() => undefined)
    this.ws = undefined
    this.wsOpening = undefined
    this.failPending(new RpcTransportError('RPC_CONNECTION_CLOSED', 'client closed'))
    this.subscriptions.clear()
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return
    await new Promise<void>((resolve) => {
      ws.once('close', () => { resolve() })
      ws.close(1000)
    })
  }

  private authHeaders (): Record<string, string> {
    if (this.auth === undefined) return {}
    return { authorization: `Bearer ${'apiKey' in this.auth ? this.auth.apiKey : mintJwt(this.auth.jwtSecret)}` }
  }

  // ---- HTTP ----

  private async callHttp (url: string, request: RpcRequest, options: CallOptions): Promise<unknown> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs)
    const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
    let text: string
    let status: number
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.authHeaders() },
        body: JSON.stringify(request),
        signal
      })
      status = response.status
      text = await response.text()
    } catch (err) {
      throw this.abortError(request.method, timeout, options, err) ??
        new RpcTransportError('RPC_CONNECTION_FAILED', `cannot reach the node at ${url}: ${(err as Error).message}`, { method: request.method }, { cause: err })
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new RpcTransportError('RPC_HTTP_STATUS', `node answered HTTP ${status} without JSON-RPC`, { method: request.method, status })
    }
    return this.settle(request.method, parsed)
  }

  // ---- WebSocket ----

  private async callWs (request: RpcRequest, options: CallOptions): Promise<unknown> {
    if (this.closed) throw new RpcTransportError('RPC_CONNECTION_CLOSED', 'client is closed', { method: request.method })
    const ws = await this.connect(options)
    return await new Promise<unknown>((resolve, reject) => {
      const timeout = AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs)
      const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
      const onAbort = (): void => {
        this.pending.delete(request.id)
        reject(this.abortError(request.method, timeout, options, signal.reason) ??
          new RpcTransportError('RPC_ABORTED', `${request.method} aborted`, { method: request.method }))
      }
      if (signal.aborted) { onAbort(); return }
      signal.addEventListener('abort', onAbort, { once: true })
      this.pending.set(request.id, {
        method: request.method,
        resolve,
        reject,
        cleanup: () => { signal.removeEventListener('abort', onAbort) }
      })
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

  private async connect (options: CallOptions): Promise<WebSocket> {
    if (this.ws?.readyState === WebSocket.OPEN) return this.ws
    if (this.wsOpening !== undefined) return await this.wsOpening
    const opening = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(this.wsUrl, { handshakeTimeout: options.timeoutMs ?? this.timeoutMs, headers: this.authHeaders() })
      const onError = (err: Error): void => {
        reject(new RpcTransportError('RPC_CONNECTION_FAILED', `cannot open a WebSocket to ${this.wsUrl}: ${err.message}`, {}, { cause: err }))
      }
      ws.once('error', onError)
      ws.once('open', () => {
        ws.off('error', onError)
        ws.on('error', () => {}) // the close event that follows carries the outcome
        ws.on('message', (data) => { this.onWsMessage(data.toString()) })
        ws.once('close', (code, reason) => { this.onWsClose(ws, code, reason.toString()) })
        this.ws = ws
        resolve(ws)
      })
    })
    this.wsOpening = opening
    try {
      return await opening
    } finally {
      if (this.wsOpening === opening) this.wsOpening = undefined
    }
  }

  private onWsMessage (text: string): void {
    let message: unknown
    try {
      message = JSON.parse(text)
    } catch {
      return // not JSON-RPC: nothing to route it to
    }
    const messages = Array.isArray(message) ? message : [message]
    for (const item of messages) {
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
        pending.resolve(this.settle(pending.method, record))
      } catch (err) {
        pending.reject(err as Error)
      }
    }
  }

  private onNotification (params: unknown): void {
    if (typeof params !== 'object' || params === null) return
    const { subscription, result } = params as { subscription?: unknown, result?: unknown }
    if (typeof subscription !== 'string') return
    const deliver = this.subscriptions.get(subscription)
    if (deliver !== undefined) { deliver(result); return }
    // the event may beat the subscribe reply: keep it until the reply arrives
    if (this.earlyCount >= MAX_EARLY_NOTIFICATIONS) return
    const queue = this.early.get(subscription) ?? []
    queue.push(result)
    this.early.set(subscription, queue)
    this.earlyCount++
  }

  private onWsClose (ws: WebSocket, code: number, reason: string): void {
    if (this.ws === ws) this.ws = undefined
    const err = new RpcTransportError('RPC_CONNECTION_CLOSED',
      `WebSocket closed (${code}${reason === '' ? '' : `: ${reason}`})`, { code, reason })
    this.failPending(err)
    this.subscriptions.clear()
    this.early.clear()
    this.earlyCount = 0
    if (!this.closed) this.onDisconnect?.(err)
  }

  private failPending (err: RpcTransportError): void {
    for (const [id, pending] of this.pending) {
      this.pending.delete(id)
      pending.cleanup()
      pending.reject(err)
    }
  }

  private settle (method: string, response: unknown): unknown {
    if (typeof response !== 'object' || response === null || Array.isArray(response)) {
      throw new RpcTransportError('RPC_BAD_RESPONSE', `${method}: the reply is not a JSON-RPC response`, { method })
    }
    const { error, result } = response as RpcResponse
    if (error !== undefined) {
      if (typeof error.code !== 'number' || typeof error.message !== 'string') {
        throw new RpcTransportError('RPC_BAD_RESPONSE', `${method}: malformed JSON-RPC error`, { method })
      }
      throw new RpcClientError(method, error.code, error.message, error.data)
    }
    if (!('result' in response)) throw new RpcTransportError('RPC_BAD_RESPONSE', `${method}: reply has no result`, { method })
    return result
  }

  private abortError (method: string, timeout: AbortSignal, options: CallOptions, cause: unknown): RpcTransportError | undefined {
    if (timeout.aborted) {
      return new RpcTransportError('RPC_TIMEOUT', `${method} timed out after ${options.timeoutMs ?? this.timeoutMs} ms`, { method }, { cause })
    }
    if (options.signal?.aborted === true) return new RpcTransportError('RPC_ABORTED', `${method} aborted`, { method }, { cause })
    return undefined
  }
}
