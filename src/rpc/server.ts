// The JSON-RPC server's one HTTP listener: routing, access checks and the WebSocket upgrade. Its parts live beside it:
// bodies, answers and their byte budget in http-body.ts, other paths in http-handlers.ts, WebSocket calls in
// ws-transport.ts, vhosts, the rate limit and who a request counts as in access.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Registry } from 'prom-client'
import { StartupError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import { VERSION } from '../core/version.ts'
import { createBuiltinMethods, SUBSCRIPTION_NOTIFICATION_METHOD } from './builtin-methods.ts'
import { RpcDispatcher } from './dispatcher.ts'
import { HttpHandlerRegistry, metricsHandler, probeHandler, type HealthReport, type HttpHandler, type HttpHandlerOptions, type ReadinessReport } from './http-handlers.ts'
import { createRpcMetrics, type RpcMetrics } from './metrics.ts'
import { buildOpenRpcDocument, type OpenRpcDocument } from './openrpc.ts'
import { RpcErrorCode, type RpcContext, type RpcErrorCodeValue, type RpcRegistry } from './registry.ts'
import type { SubscriptionHub } from './subscriptions.ts'
import { WsTransport } from './ws-transport.ts'
import { RpcAccess, clientOf, isLoopbackHost, type RpcAccessInit } from './access.ts'
import type { RpcAuth, RpcGrant } from './auth.ts'
import { HttpBodies, writeRpcError } from './http-body.ts'
import { CorsPolicy } from './cors.ts'

export { SUBSCRIPTION_NOTIFICATION_METHOD, type HealthReport, type HttpHandler, type HttpHandlerOptions, type ReadinessReport }

export interface RpcServerInit {
  /** Interface to listen on. Loopback by default: the API can spend the node's funds. @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port (see `address` after start). @default 9545 */
  port?: number
  /** Largest HTTP body or WebSocket message. @default 1048576 (1 MiB) */
  maxBodyBytes?: number
  /** Largest JSON-RPC batch. @default 100 */
  maxBatch?: number
  /** Open WebSocket connections; more upgrades get 503. @default 64 */
  maxWsConnections?: number
  /** harmony_subscribe subscriptions per WebSocket connection. @default 32 */
  maxSubscriptionsPerConnection?: number
  /** Calls in flight on one WebSocket connection; more are refused with -32005 until some finish. @default 64 */
  maxWsInFlight?: number
  /**
   * Bytes queued for one WebSocket client beyond which it counts as too slow and is disconnected.
   * @default 8388608 (8 MiB)
   */
  maxWsBufferedBytes?: number
  /**
   * Bytes queued for all WebSocket clients together (64 connections × 8 MiB would be 512 MiB). A send past it
   * disconnects the clients with the most queued (close code 4008, as one too slow), until it fits.
   * @default 67108864 (64 MiB)
   */
  maxWsBufferedBytesTotal?: number
  /**
   * Browser origins allowed to call the API (CORS for HTTP, the Origin check for WebSocket). `'*'` allows any.
   * Requests that carry an Origin header not listed here are refused with 403. Unset: no browser origin is allowed;
   * clients that send no Origin (curl, the SDK, other programs) are not affected.
   */
  corsOrigins?: string[]
  /** Version reported in rpc.discover. @default the package.json version */
  version?: string
  /** Milliseconds a client has to send a whole HTTP request. @default 30000 */
  requestTimeoutMs?: number
  /**
   * Milliseconds a client has to take its whole HTTP answer once it is written (geth's WriteTimeout); a client that
   * does not read is then disconnected, and the bytes held for it are freed. @default 30000
   */
  responseTimeoutMs?: number
  /**
   * Bytes held for HTTP clients at once over all connections: request bodies being read and answers their clients
   * have not taken yet. Each is bounded; this bounds how many clients that send slowly or never read can make the
   * node hold. A request past it is refused with 503 and -32005. @default 268435456 (256 MiB)
   */
  maxHttpBufferedBytes?: number
  /**
   * Of `maxHttpBufferedBytes`, the most one client (its API key or the operator's JWT, else its IP address) may hold,
   * so that one client filling the budget does not refuse the others. @default a quarter of maxHttpBufferedBytes
   */
  maxHttpBufferedBytesPerClient?: number
  /**
   * Error mappings beyond those the API modules register in the registry: a `HarmonyError` a method throws whose
   * `code` is listed reaches the caller with this JSON-RPC code, its message and `data: { reason: code }`;
   * anything else is -32603.
   * @default {}
   */
  errorCodes?: Readonly<Record<string, RpcErrorCodeValue>>
  /** Host allowlist (geth's `--http.vhosts`) and per-client rate limit (src/rpc/access.ts). @default {} */
  access?: RpcAccessInit
  /** Responses of at least this many bytes are gzip-compressed for clients that accept it. @default 1024 */
  gzipMinBytes?: number
}

export interface RpcServerComponents {
  /** Methods, topics and error codes to serve; subscriptions go through its `hub`. */
  registry: RpcRegistry
  logger: Logger
  metrics: Registry
  /** Liveness for `GET /healthz`: 200 when ok, 503 otherwise; the report is the JSON body. */
  health: () => HealthReport | Promise<HealthReport>
  /** Readiness for `GET /readyz` (synced, peers connected...): 200 when ok, 503 otherwise. */
  ready: () => ReadinessReport | Promise<ReadinessReport>
  /**
   * Credentials for admin and spending methods (src/rpc/auth.ts). Without it every method is open to whoever
   * reaches the port, so the server then refuses to listen anywhere but loopback.
   */
  auth?: RpcAuth
}

export interface RpcServerAddress {
  host: string
  port: number
}

/**
 * JSON-RPC 2.0 over HTTP (`POST /`) and WebSocket (upgrade on `/`), plus the HTTP handlers registered with
 * `registerHandler` (`/metrics`, `/healthz`, `/readyz` from the start). Methods, topics and error codes come from
 * the registry; the server adds `rpc.discover`, `harmony_subscribe` and `harmony_unsubscribe`.
 */
export class RpcServer implements Startable {
  /** Where modules publish events for `harmony_subscribe`. */
  readonly hub: SubscriptionHub
  private readonly components: RpcServerComponents
  private readonly logger: Logger
  private readonly rpcMetrics: RpcMetrics
  private readonly dispatcher: RpcDispatcher
  private readonly host: string
  private readonly port: number
  private readonly cors: CorsPolicy
  private readonly version: string
  private readonly requestTimeoutMs: number
  private readonly bodies: HttpBodies
  private readonly builtins: RpcRegistry
  private readonly ws: WsTransport
  private readonly handlers = new HttpHandlerRegistry()
  private readonly access: RpcAccess
  private http?: Server
  private readonly inFlight = new Set<AbortController>()
  private bound?: RpcServerAddress
  private unsubscribeGauge?: () => void

  constructor (components: RpcServerComponents, init: RpcServerInit = {}) {
    this.components = components
    this.logger = components.logger.child({ module: 'rpc' })
    this.host = init.host ?? '127.0.0.1'
    this.port = init.port ?? 9545
    const maxBodyBytes = init.maxBodyBytes ?? 1024 * 1024
    const maxBufferedBytes = init.maxHttpBufferedBytes ?? 256 * 1024 * 1024
    this.cors = new CorsPolicy(init.corsOrigins ?? [])
    this.version = init.version ?? VERSION
    this.requestTimeoutMs = init.requestTimeoutMs ?? 30_000
    this.access = new RpcAccess(init.access)
    this.hub = components.registry.hub
    this.rpcMetrics = createRpcMetrics(components.metrics)
    this.builtins = createBuiltinMethods({
      hub: this.hub,
      maxSubscriptionsPerConnection: init.maxSubscriptionsPerConnection ?? 32,
      discover: () => this.discover()
    })
    this.dispatcher = new RpcDispatcher({
      registry: components.registry,
      builtins: this.builtins,
      logger: this.logger,
      metrics: this.rpcMetrics
    }, { maxBatch: init.maxBatch ?? 100, errorCodes: init.errorCodes })
    this.bodies = new HttpBodies({
      metrics: this.rpcMetrics,
      refuse: (code, message, outcome) => this.dispatcher.refuse(code, message, outcome)
    }, {
      maxBodyBytes,
      maxBufferedBytes,
      maxBufferedBytesPerClient: init.maxHttpBufferedBytesPerClient ?? Math.floor(maxBufferedBytes / 4),
      responseTimeoutMs: init.responseTimeoutMs ?? 30_000,
      gzipMinBytes: init.gzipMinBytes ?? 1024
    })
    this.ws = new WsTransport({
      dispatcher: this.dispatcher,
      logger: this.logger,
      metrics: this.rpcMetrics,
      originAllowed: (origin) => this.cors.allowed(origin)
    }, {
      maxConnections: init.maxWsConnections ?? 64,
      maxInFlight: init.maxWsInFlight ?? 64,
      maxBufferedBytes: init.maxWsBufferedBytes ?? 8 * 1024 * 1024,
      maxTotalBufferedBytes: init.maxWsBufferedBytesTotal ?? 64 * 1024 * 1024,
      maxMessageBytes: maxBodyBytes
    })
    this.registerHandler('metrics', '/metrics', metricsHandler(components.metrics))
    this.registerHandler('healthz', '/healthz', probeHandler(components.health))
    this.registerHandler('readyz', '/readyz', probeHandler(components.ready))
  }

  /** Serves `handler` at `path` beside JSON-RPC (geth's `RegisterHandler`); works before and after start. */
  registerHandler (name: string, path: string, handler: HttpHandler, options?: HttpHandlerOptions): void {
    this.handlers.register(name, path, handler, options)
  }

  /** The bound address once started (the real port when `port` was 0). */
  get address (): RpcServerAddress | undefined {
    return this.bound
  }

  /** `http://host:port` once started. */
  get url (): string {
    if (this.bound === undefined) throw new Error('RPC server is not started')
    const host = this.bound.host.includes(':') ? `[${this.bound.host}]` : this.bound.host
    return `http://${host}:${this.bound.port}`
  }

  /** The OpenRPC document of every method this server answers (registry + built-ins). */
  discover (): OpenRpcDocument {
    const methods = [...this.components.registry.list()]
    for (const builtin of this.builtins.list()) {
      if (this.components.registry.get(builtin.name) === undefined) methods.push(builtin)
    }
    return buildOpenRpcDocument(methods, { version: this.version }, this.hub.topics())
  }

  async start (): Promise<void> {
    if (this.http !== undefined) return
    if (this.components.auth === undefined && !isLoopbackHost(this.host)) {
      throw new StartupError('RPC_AUTH_REQUIRED',
        `refusing to serve JSON-RPC on ${this.host} without auth: every method would be open to the network; turn rpc auth on (--rpc-auth on) or listen on 127.0.0.1`,
        { host: this.host })
    }
    const http = createServer({
      requestTimeout: this.requestTimeoutMs,
      headersTimeout: Math.min(this.requestTimeoutMs, 10_000)
    }, (req, res) => { this.onRequest(req, res) })
    http.on('upgrade', (req, socket, head) => {
      this.onUpgrade(req, socket, head).catch((err: unknown) => {
        this.logger.warn({ err }, 'WebSocket upgrade failed')
        socket.destroy()
      })
    })
    http.on('clientError', (err, socket) => {
      this.logger.debug({ err }, 'malformed HTTP request')
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
      else socket.destroy()
    })

    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        http.off('listening', onListening)
        if (err.code === 'EADDRINUSE') {
          reject(new StartupError('PORT_IN_USE',
            `RPC port ${this.host}:${this.port} is already in use; stop the other process or pass --rpc-port`,
            { host: this.host, port: this.port }))
        } else {
          reject(err)
        }
      }
      const onListening = (): void => {
        http.off('error', onError)
        resolve()
      }
      http.once('error', onError)
      http.once('listening', onListening)
      http.listen(this.port, this.host)
    })

    http.on('error', (err) => { this.logger.error({ err }, 'RPC server error') })
    const address = http.address() as AddressInfo
    this.bound = { host: address.address, port: address.port }
    this.http = http
    this.ws.start()
    this.bodies.start()
    this.unsubscribeGauge = this.hub.onSizeChange((size) => { this.rpcMetrics.subscriptions.set(size) })
    this.logger.info({ url: this.url }, 'RPC server listening')
  }

  async stop (): Promise<void> {
    const http = this.http
    if (http === undefined) return
    this.http = undefined
    this.unsubscribeGauge?.()
    this.bodies.stop()
    for (const call of this.inFlight) call.abort()
    this.inFlight.clear()
    await this.ws.stop()
    const closed = new Promise<void>((resolve) => { http.close(() => { resolve() }) })
    http.closeAllConnections()
    await closed
    this.bound = undefined
    this.logger.info('RPC server stopped')
  }

  // ---- HTTP ----

  private onRequest (req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]
    const method = req.method ?? 'GET'
    if (path === '/') {
      if (method === 'POST') {
        this.onRpcPost(req, res).catch((err: unknown) => {
          this.logger.warn({ err }, 'RPC request failed')
          if (!res.headersSent) this.sendRpcError(res, 500, RpcErrorCode.INTERNAL_ERROR, 'internal error', 'internal_error')
          else res.destroy()
        })
        return
      }
      if (method === 'OPTIONS') { if (!this.cors.preflight(req, res)) this.rejected('origin'); return }
      this.rejected('method_not_allowed')
      res.setHeader('Allow', 'POST, OPTIONS')
      this.sendRpcError(res, 405, RpcErrorCode.INVALID_REQUEST,
        `HTTP ${method.slice(0, 16)} is not supported on /: send JSON-RPC with POST, or open a WebSocket`, 'invalid_request')
      return
    }
    const served = this.handlers.serve(path, method, req, res, (err, handler) => { this.logger.warn({ err, handler }, 'HTTP handler failed') })
    if (!served) this.rejected('not_found')
  }

  private async onRpcPost (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const origin = req.headers.origin
    if (origin !== undefined) {
      if (!this.cors.allowed(origin)) {
        this.rejected('origin')
        this.sendRpcError(res, 403, RpcErrorCode.INVALID_REQUEST,
          'origin not allowed: start the node with this origin in its RPC CORS origins', 'invalid_request')
        req.resume()
        return
      }
      this.cors.setHeaders(res, origin)
    }
    if (!this.access.hostAllowed(req.headers.host)) {
      this.rejected('vhost')
      req.resume()
      this.sendRpcError(res, 403, RpcErrorCode.INVALID_REQUEST,
        'host not allowed: start the node with this host name in its RPC vhosts (--rpc-vhosts)', 'invalid_request')
      return
    }
    // credentials before the body: its bytes are held against the client's share of the byte budget
    const grant = await this.components.auth?.authenticate(req.headers, req.socket.remoteAddress ?? 'unknown')
    const client = clientOf(grant?.client, req)
    const body = await this.bodies.read(req, res, client)
    if (body === null) return // refused (and answered), or the client went away mid-body
    const controller = new AbortController()
    // calls in flight are aborted by stop() through this set (an event listener per call on the shutdown signal
    // cost more than the call's own bookkeeping)
    this.inFlight.add(controller)
    res.once('close', () => {
      this.inFlight.delete(controller)
      // only a client gone before its answer aborts the call: an abort builds a DOMException with a stack, a
      // measurable cost when paid on every answered request
      if (!res.writableFinished) controller.abort()
    })
    let retryAfterMs = 0
    // an answer over a client's share of the byte budget could never be held, however long the client waited: each
    // call gets -32005 under its id, saying to ask for less, rather than a 503 that says to retry
    const ctx: RpcContext = { transport: 'http', signal: controller.signal, maxAnswerBytes: this.bodies.budget.maxBytesPerClient, ...this.session(grant, req, (ms) => { retryAfterMs = ms }) }
    const response = await this.dispatcher.handle(body, ctx)
    // a refused message is answered after a hold: a client that ignores Retry-After and calls again at once cannot
    // make the node work much beyond its limit, so the operator's calls are not queued behind a flood
    const headers: Record<string, string> = retryAfterMs > 0 ? { 'Retry-After': String(Math.ceil(retryAfterMs / 1000)) } : {}
    if (retryAfterMs > 0 && !await this.access.holdRefusal(client, controller.signal)) headers.Connection = 'close'
    if (res.destroyed) return
    // a refused message answers 429 with Retry-After (seconds, rounded up), and the JSON-RPC errors in the body
    const status = retryAfterMs > 0 ? 429 : response === null ? 204 : 200
    await this.bodies.answer(req, res, status, response, headers, client)
  }

  /** The caller's grant and its rate-limit hook (bucket: its credentials, else its IP address). */
  private session (grant: RpcGrant | undefined, req: IncomingMessage, onLimited?: (retryAfterMs: number) => void): Pick<RpcContext, 'grant' | 'admit'> {
    const client = clientOf(grant?.client, req)
    return {
      ...(grant === undefined ? {} : { grant }),
      admit: (calls) => {
        const wait = this.access.admit(client, calls)
        if (wait > 0) {
          this.rejected('rate_limited')
          onLimited?.(wait)
        }
        return wait
      }
    }
  }

  private async onUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (!this.access.hostAllowed(req.headers.host)) {
      this.rejected('vhost')
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    // credentials are read once, at the upgrade; calls on the connection then carry that grant
    const grant = await this.components.auth?.authenticate(req.headers, req.socket.remoteAddress ?? 'unknown')
    if (socket.destroyed) return
    const client = clientOf(grant?.client, req)
    this.ws.handleUpgrade(req, socket, head, { ...this.session(grant, req), holdRefusal: async (signal) => await this.access.holdRefusal(client, signal) })
  }

  private sendRpcError (res: ServerResponse, status: number, code: (typeof RpcErrorCode)[keyof typeof RpcErrorCode],
    message: string, outcome: 'invalid_request' | 'limit_exceeded' | 'internal_error'): void {
    writeRpcError(res, status, this.dispatcher.refuse(code, message, outcome))
  }

  private rejected (reason: string): void {
    this.rpcMetrics.httpRejected.inc({ reason })
  }
}
