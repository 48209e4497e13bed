import type { RpcMethodName, RpcParamsOf, RpcResultOf, RpcTopicEventOf, RpcTopicFilterOf, RpcTopicName } from '../api/definitions.ts'
import { RpcClientError, RpcTransportError } from './errors.ts'
import { WsSession, type CallOptions, type ReconnectOptions, type RpcParams, type RpcRequest } from './ws-session.ts'
import { mintJwt } from '../rpc/jwt.ts'

export { RpcClientError, RpcTransportError }
export type { CallOptions, ReconnectOptions, RpcParams }
export type { RpcTransportErrorCode } from './errors.ts'

/** A bearer token, or a function that makes one per request (a short-lived JWT, say). */
export type TokenSource = string | (() => string | Promise<string>)

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
  /**
   * Sent as `Authorization: Bearer <token>` with every HTTP call and WebSocket upgrade: an API key or a JWT
   * (admin and spending methods need one). A function is called for each HTTP call and each (re)connection.
   * @default none
   */
  token?: TokenSource
  /**
   * When the WebSocket drops while subscriptions are active, reconnect with bounded exponential backoff and
   * subscribe each of them again; `false` ends them instead. @default { initialDelayMs: 100, maxDelayMs: 5000, maxAttempts: 50 }
   */
  reconnect?: false | ReconnectOptions
  /** Called each time the WebSocket closes on its own (calls in flight on it have failed). */
  onDisconnect?: (err: RpcTransportError) => void
  /**
   * Called when a reconnect has subscribed every subscription again. Events published while the socket was down
   * are not replayed: re-read what you watch (tx_get for a pending transaction).
   */
  onReconnect?: () => void
  /** Called when the reconnect gave up after its last attempt; every subscription has then ended. */
  onReconnectFailed?: (err: Error) => void
  /** Sent with every HTTP request and on the WebSocket upgrade; wins over `token`. @default none */
  auth?: RpcCredentials
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

/** How the client reconnects its WebSocket unless `reconnect` says otherwise (docs/rpc.md quotes it). */
export const DEFAULT_RECONNECT: Readonly<Required<ReconnectOptions>> = Object.freeze({ initialDelayMs: 100, maxDelayMs: 5000, maxAttempts: 50 })

/**
 * Typed JSON-RPC client for a Harmony node. Method names, params, results and topic events are typed from the
 * shared definitions (src/api/definitions.ts); `request` and `subscribeTo` take any name, untyped.
 *
 * ```ts
 * const client = new HarmonyClient({ url: 'http://127.0.0.1:9545', token: process.env.HARMONY_RPC_TOKEN })
 * const balance = await client.call('account_getBalance', [address]) // string
 * const stop = await client.subscribe('tx_status', { id }, (event) => { ... }) // event.status: 'final' | 'rejected'
 * await stop(); await client.close()
 * ```
 */
export class HarmonyClient {
  private readonly httpUrl?: string
  private readonly timeoutMs: number
  private readonly token?: TokenSource
  private readonly ws: WsSession
  private readonly auth?: RpcCredentials
  private nextId = 1

  constructor (options: HarmonyClientOptions) {
    const url = new URL(options.url)
    let wsUrl: string
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      this.httpUrl = url.toString()
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
      wsUrl = url.toString()
    } else if (url.protocol === 'ws:' || url.protocol === 'wss:') {
      wsUrl = url.toString()
    } else {
      throw new TypeError(`unsupported RPC URL ${options.url}: use http://, https://, ws:// or wss://`)
    }
    this.timeoutMs = options.timeoutMs ?? 30_000
    this.token = options.token
    this.ws = new WsSession({
      url: wsUrl,
      timeoutMs: this.timeoutMs,
      headers: async () => await this.authHeaders(),
      reconnect: options.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...options.reconnect },
      nextId: () => this.nextId++,
      settle: (method, response) => this.settle(method, response),
      abortError: (method, timeout, callOptions, cause) => this.abortError(method, timeout, callOptions, cause),
      onDisconnect: options.onDisconnect,
      onReconnect: options.onReconnect,
      onReconnectFailed: options.onReconnectFailed
    })
    this.auth = options.auth
  }

  /** How calls travel: `http` for an http(s):// URL (subscriptions still open a WebSocket), else `ws`. */
  get transport (): 'http' | 'ws' { return this.httpUrl !== undefined ? 'http' : 'ws' }

  /**
   * Calls a method of the Harmony API with params checked by TypeScript; resolves with its typed result, rejects
   * with `RpcClientError` (node error) or `RpcTransportError`.
   */
  async call<M extends RpcMethodName>(method: M, ...[params, options]: CallArgs<M>): Promise<RpcResultOf<M>> {
    return await this.request<RpcResultOf<M>>(method, params as RpcParams | undefined, options)
  }

  /** Calls any method by name, untyped (methods this SDK does not know yet); errors as `call`. */
  async request<T = unknown>(method: string, params?: RpcParams, options: CallOptions = {}): Promise<T> {
    if (this.ws.closed) throw new RpcTransportError('RPC_CONNECTION_CLOSED', 'client is closed', { method })
    const id = this.nextId++
    const request: RpcRequest = { jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }
    const result = this.httpUrl !== undefined
      ? await this.callHttp(this.httpUrl, request, options)
      : await this.ws.call(request, options)
    return result as T
  }

  /**
   * Subscribes to a topic of the Harmony API over the WebSocket; `onEvent` gets each event, typed. Resolves once
   * the node has accepted the subscription, with the function that cancels it. The subscription survives a
   * reconnect (see `reconnect`).
   */
  async subscribe<T extends RpcTopicName>(topic: T, filter: RpcTopicFilterOf<T>, onEvent: (event: RpcTopicEventOf<T>) => void, options: CallOptions = {}): Promise<Unsubscribe> {
    return await this.subscribeTo<RpcTopicEventOf<T>>(topic, filter, onEvent, options)
  }

  /** Subscribes to any topic by name, untyped; as `subscribe`. */
  async subscribeTo<E = unknown>(topic: string, params: unknown, onEvent: (event: E) => void, options: CallOptions = {}): Promise<Unsubscribe> {
    return await this.ws.subscribe(topic, params, onEvent as (event: unknown) => void, options)
  }

  /** Closes the WebSocket (if any), stops reconnecting and fails calls still waiting. */
  async close (): Promise<void> {
    await this.ws.close()
  }

  private async authHeaders (): Promise<Record<string, string>> {
    if (this.auth !== undefined) return { authorization: `Bearer ${'apiKey' in this.auth ? this.auth.apiKey : mintJwt(this.auth.jwtSecret)}` }
    if (this.token === undefined) return {}
    const token = typeof this.token === 'function' ? await this.token() : this.token
    return token === '' ? {} : { authorization: `Bearer ${token}` }
  }

  private async callHttp (url: string, request: RpcRequest, options: CallOptions): Promise<unknown> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs)
    const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
    let text: string
    let status: number
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...await this.authHeaders() },
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
      throw new RpcTransportError('RPC_HTTP_STATUS', `node answered HTTP ${status} without JSON-RPC${status === 401 ? ': pass a token (--rpc-token or the token option)' : ''}`, { method: request.method, status })
    }
    return this.settle(request.method, parsed)
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
