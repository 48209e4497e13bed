import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import type { Logger } from '../core/logger.ts'
import { type RpcDispatcher, serialize } from './dispatcher.ts'
import type { RpcMetrics } from './metrics.ts'
import { RpcErrorCode, type RpcContext } from './registry.ts'

export interface WsTransportInit {
  /** Open connections; more upgrades get 503. */
  maxConnections: number
  /** Calls in flight on one connection; more are refused with -32005. */
  maxInFlight: number
  /** Bytes queued for one client beyond which it counts as too slow and is disconnected. */
  maxBufferedBytes: number
  /** Largest message; bigger ones close the connection with 1009. */
  maxMessageBytes: number
}

export interface WsTransportComponents {
  dispatcher: RpcDispatcher
  logger: Logger
  metrics: RpcMetrics
  /** Browser origin policy, shared with HTTP. */
  originAllowed: (origin: string) => boolean
}

// liveness: a client that does not answer a ping within one interval is dropped
const PING_INTERVAL_MS = 30_000
// a slow client (or any client when the server stops) gets this long to answer a close before it is destroyed
const CLOSE_GRACE_MS = 2_000
// close codes (4000-4999 are for applications)
const CLOSE_GOING_AWAY = 1001
export const WS_CLOSE_TOO_SLOW = 4008

interface Connection {
  socket: WebSocket
  ctx: RpcContext
  controller: AbortController
  closeHandlers: Array<() => void>
  inFlight: number
  alive: boolean
}

/**
 * JSON-RPC over WebSocket on the HTTP server's upgrade path. Each connection gets one RpcContext (with `notify`
 * and `onClose`) for all its calls, which is what subscriptions are keyed by. Sends go through `ws`'s buffer,
 * bounded by `maxBufferedBytes`.
 */
export class WsTransport {
  private readonly components: WsTransportComponents
  private readonly init: WsTransportInit
  private readonly connections = new Set<Connection>()
  private wss?: WebSocketServer
  private pingTimer?: NodeJS.Timeout

  constructor (components: WsTransportComponents, init: WsTransportInit) {
    this.components = components
    this.init = init
  }

  get connectionCount (): number {
    return this.connections.size
  }

  start (): void {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.init.maxMessageBytes, clientTracking: false })
    this.pingTimer = setInterval(() => { this.pingClients() }, PING_INTERVAL_MS)
    this.pingTimer.unref()
  }

  /** Closes every connection with 1001, giving clients a moment to answer before their sockets are destroyed. */
  async stop (): Promise<void> {
    clearInterval(this.pingTimer)
    const wss = this.wss
    this.wss = undefined
    const open = [...this.connections]
    const allClosed = Promise.all(open.map(async (connection) => {
      if (connection.socket.readyState === WebSocket.CLOSED) return
      await new Promise<void>((resolve) => { connection.socket.once('close', () => { resolve() }) })
    }))
    for (const connection of open) connection.socket.close(CLOSE_GOING_AWAY, 'server stopping')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([allClosed, new Promise<void>((resolve) => { timer = setTimeout(resolve, CLOSE_GRACE_MS) })])
    clearTimeout(timer)
    for (const connection of open) connection.socket.terminate()
    wss?.close()
  }

  /** The HTTP server's `upgrade` event. */
  handleUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer, session: Pick<RpcContext, 'grant' | 'admit'> = {}): void {
    const path = (req.url ?? '/').split('?')[0]
    const refuse = (status: number, reason: string, text: string): void => {
      this.components.metrics.httpRejected.inc({ reason })
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
    }
    const wss = this.wss
    if (wss === undefined) { refuse(503, 'stopping', 'Service Unavailable'); return }
    if (path !== '/') { refuse(404, 'not_found', 'Not Found'); return }
    const origin = req.headers.origin
    if (origin !== undefined && !this.components.originAllowed(origin)) { refuse(403, 'origin', 'Forbidden'); return }
    if (this.connections.size >= this.init.maxConnections) { refuse(503, 'ws_connection_limit', 'Service Unavailable'); return }
    wss.handleUpgrade(req, socket, head, (ws) => { this.onConnection(ws, session) })
  }

  private onConnection (socket: WebSocket, session: Pick<RpcContext, 'grant' | 'admit'>): void {
    const { logger, metrics } = this.components
    const controller = new AbortController()
    const connection: Connection = {
      socket,
      controller,
      closeHandlers: [],
      inFlight: 0,
      alive: true,
      // one context object per connection: subscriptions are keyed by it
      ctx: {
        ...session,
        transport: 'ws',
        signal: controller.signal,
        notify: (method, params) => { this.send(connection, serialize({ jsonrpc: '2.0', method, params })) },
        onClose: (fn) => {
          if (controller.signal.aborted) fn()
          else connection.closeHandlers.push(fn)
        }
      }
    }
    this.connections.add(connection)
    metrics.wsConnections.set(this.connections.size)

    socket.on('pong', () => { connection.alive = true })
    socket.on('message', (data, isBinary) => { this.onMessage(connection, data, isBinary) })
    socket.on('error', (err) => { logger.debug({ err }, 'WebSocket error') })
    socket.on('close', () => {
      this.connections.delete(connection)
      metrics.wsConnections.set(this.connections.size)
      controller.abort()
      for (const fn of connection.closeHandlers.splice(0)) {
        try { fn() } catch (err) { logger.warn({ err }, 'WebSocket close handler failed') }
      }
    })
  }

  private onMessage (connection: Connection, data: RawData, isBinary: boolean): void {
    const { dispatcher, logger } = this.components
    if (isBinary) {
      this.send(connection, dispatcher.refuse(RpcErrorCode.INVALID_REQUEST,
        'binary frames are not supported: send JSON-RPC as text', 'invalid_request'))
      return
    }
    if (connection.inFlight >= this.init.maxInFlight) {
      this.send(connection, dispatcher.refuse(RpcErrorCode.LIMIT_EXCEEDED,
        `more than ${this.init.maxInFlight} calls in flight on this connection; wait for replies`, 'limit_exceeded'))
      return
    }
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8')
    connection.inFlight++
    dispatcher.handle(text, connection.ctx)
      .then((response) => { if (response !== null) this.send(connection, response) })
      .catch((err: unknown) => { logger.warn({ err }, 'WebSocket RPC message failed') })
      .finally(() => { connection.inFlight-- })
  }

  /** Sends or, when the client's queue is over the limit, disconnects it as too slow. */
  private send (connection: Connection, text: string): void {
    const { socket } = connection
    if (socket.readyState !== WebSocket.OPEN) return
    if (socket.bufferedAmount + Buffer.byteLength(text) > this.init.maxBufferedBytes) {
      this.components.metrics.wsSlowClientDisconnects.inc()
      this.components.logger.info({ bufferedBytes: socket.bufferedAmount }, 'disconnecting a WebSocket client that reads too slowly')
      socket.close(WS_CLOSE_TOO_SLOW, 'send queue full: the client reads too slowly')
      setTimeout(() => { socket.terminate() }, CLOSE_GRACE_MS).unref()
      return
    }
    socket.send(text)
  }

  private pingClients (): void {
    for (const connection of this.connections) {
      if (!connection.alive) { connection.socket.terminate(); continue }
      connection.alive = false
      connection.socket.ping()
    }
  }
}
