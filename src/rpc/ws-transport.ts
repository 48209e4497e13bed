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
  /**
   * Bytes queued for all clients together (at most `maxConnections` × `maxBufferedBytes` otherwise): a send past it
   * disconnects the slowest readers, those with the most queued, until it fits. One client's bound is at most this.
   */
  maxTotalBufferedBytes: number
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
/** A client that kept sending while refused past the bounds below (or past its held refusals) is disconnected. */
export const WS_CLOSE_RATE_LIMITED = 4029
// messages a held connection may still deliver (those ws had read before the pause); past this it is closed
const MAX_HELD_BACKLOG_MESSAGES = 4096

/**
 * What the server hands a connection: its grant and rate-limit hook (shared by every call on it), and the hold of a
 * refused answer (RpcAccess.holdRefusal for this client; false when the client already has the most held).
 */
export type WsSession = Pick<RpcContext, 'grant' | 'admit'> & { holdRefusal?: (signal: AbortSignal) => Promise<boolean> }

interface Connection {
  socket: WebSocket
  ctx: RpcContext
  controller: AbortController
  closeHandlers: Array<() => void>
  inFlight: number
  alive: boolean
  holdRefusal?: WsSession['holdRefusal']
  /** Set by the rate-limit hook when the message being dispatched was refused. */
  refused: boolean
  /** A refused answer is being held: the socket is paused and what ws still emits waits here, in order. */
  held: boolean
  /** Disconnected as too slow: its queue is dropped with it, so it no longer counts against the server's bound. */
  closing: boolean
  backlog: Array<{ data: RawData, isBinary: boolean, bytes: number }>
  backlogBytes: number
}

/**
 * JSON-RPC over WebSocket on the HTTP server's upgrade path. Each connection gets one RpcContext (with `notify`
 * and `onClose`) for all its calls, which is what subscriptions are keyed by. Sends go through `ws`'s buffer,
 * bounded per client by `maxBufferedBytes` and over all clients by `maxTotalBufferedBytes`.
 */
export class WsTransport {
  private readonly components: WsTransportComponents
  private readonly init: WsTransportInit
  /** One client's queue bound, within the server's. */
  private readonly maxBufferedBytes: number
  private readonly connections = new Set<Connection>()
  private wss?: WebSocketServer
  private pingTimer?: NodeJS.Timeout

  constructor (components: WsTransportComponents, init: WsTransportInit) {
    this.components = components
    this.init = init
    this.maxBufferedBytes = Math.min(init.maxBufferedBytes, init.maxTotalBufferedBytes)
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
  handleUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer, session: WsSession = {}): void {
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

  private onConnection (socket: WebSocket, session: WsSession): void {
    const { logger, metrics } = this.components
    const controller = new AbortController()
    const { admit, holdRefusal, ...rest } = session
    const connection: Connection = {
      socket,
      controller,
      closeHandlers: [],
      inFlight: 0,
      alive: true,
      refused: false,
      held: false,
      closing: false,
      backlog: [],
      backlogBytes: 0,
      ...(holdRefusal === undefined ? {} : { holdRefusal }),
      // one context object per connection: subscriptions are keyed by it
      ctx: {
        ...rest,
        ...(admit === undefined
          ? {}
          : {
              admit: (calls) => {
                const wait = admit(calls)
                if (wait > 0) connection.refused = true
                return wait
              }
            }),
        transport: 'ws',
        signal: controller.signal,
        // an answer alone over the send queue would disconnect a client that reads at once as too slow
        maxAnswerBytes: this.maxBufferedBytes,
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
    if (connection.held) {
      const bytes = rawBytes(data)
      if (connection.backlog.length >= MAX_HELD_BACKLOG_MESSAGES || connection.backlogBytes + bytes > 2 * this.init.maxMessageBytes) {
        this.closeRateLimited(connection, 'kept sending while rate limited')
        return
      }
      connection.backlog.push({ data, isBinary, bytes })
      connection.backlogBytes += bytes
      return
    }
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
    connection.refused = false
    // the dispatcher spends the rate limit before its first await, so `refused` is this message's verdict
    const answer = dispatcher.handle(text, connection.ctx)
    const refused = connection.refused
    if (refused) this.hold(connection)
    answer
      .then(async (response) => {
        if (!refused) {
          if (response !== null) this.send(connection, response)
          return
        }
        const ok = await connection.holdRefusal?.(connection.controller.signal) ?? true
        if (response !== null) this.send(connection, response)
        if (ok) this.resume(connection)
        else this.closeRateLimited(connection, 'too many refused calls held for this client')
      })
      .catch((err: unknown) => { logger.warn({ err }, 'WebSocket RPC message failed') })
      .finally(() => { connection.inFlight-- })
  }

  /**
   * A refused message holds its connection, as HTTP holds a refused answer (RpcAccess.holdRefusal): the socket is
   * not read until the refusal is answered, so a client that ignores retryAfterMs and keeps sending makes the node
   * do no work beyond its limit (its messages wait in its own TCP buffers, bounded by the kernel's window).
   */
  private hold (connection: Connection): void {
    connection.held = true
    connection.socket.pause()
  }

  /** Reads the connection again, first what arrived during the hold (a refusal among it holds it again). */
  private resume (connection: Connection): void {
    if (connection.socket.readyState !== WebSocket.OPEN) return
    connection.held = false
    while (!connection.held && connection.backlog.length > 0) {
      const next = connection.backlog.shift() as { data: RawData, isBinary: boolean, bytes: number }
      connection.backlogBytes -= next.bytes
      this.onMessage(connection, next.data, next.isBinary)
    }
    if (!connection.held) connection.socket.resume()
  }

  private closeRateLimited (connection: Connection, reason: string): void {
    this.components.metrics.httpRejected.inc({ reason: 'rate_limited' })
    connection.backlog = []
    connection.backlogBytes = 0
    connection.socket.close(WS_CLOSE_RATE_LIMITED, reason)
    setTimeout(() => { connection.socket.terminate() }, CLOSE_GRACE_MS).unref()
  }

  /**
   * Sends `text`, within the client's queue bound and the server's bound over all queues. Past the client's, it is
   * disconnected as too slow. Past the server's, the slowest readers (most queued) are disconnected until the send
   * fits, the sender too when its turn comes: the bytes are freed from those that do not read, whoever sends next.
   */
  private send (connection: Connection, text: string): void {
    const { socket } = connection
    if (socket.readyState !== WebSocket.OPEN) return
    const bytes = Buffer.byteLength(text)
    if (socket.bufferedAmount + bytes > this.maxBufferedBytes) {
      this.disconnectSlow(connection)
      return
    }
    let total = this.queuedBytes() + bytes
    while (total > this.init.maxTotalBufferedBytes) {
      const slowest = this.slowestReader()
      // cannot happen (each queue, this send included, is within the bound), but never loop on nothing to free
      if (slowest === undefined) break
      total -= slowest.socket.bufferedAmount
      this.disconnectSlow(slowest, total)
      if (slowest === connection) return
    }
    socket.send(text)
  }

  /** Bytes queued for the clients that are not being disconnected. */
  private queuedBytes (): number {
    let total = 0
    for (const c of this.connections) if (!c.closing) total += c.socket.bufferedAmount
    return total
  }

  /** The open client with the most queued, when one has anything queued. */
  private slowestReader (): Connection | undefined {
    let slowest: Connection | undefined
    for (const c of this.connections) {
      if (c.closing || c.socket.bufferedAmount === 0) continue
      if (slowest === undefined || c.socket.bufferedAmount > slowest.socket.bufferedAmount) slowest = c
    }
    return slowest
  }

  /** Closes a client that reads too slowly with 4008, destroyed after a grace; `totalBufferedBytes` when the server's bound did it. */
  private disconnectSlow (connection: Connection, totalBufferedBytes?: number): void {
    const { socket } = connection
    connection.closing = true
    this.components.metrics.wsSlowClientDisconnects.inc()
    this.components.logger.info({ bufferedBytes: socket.bufferedAmount, ...(totalBufferedBytes === undefined ? {} : { totalBufferedBytes }) }, 'disconnecting a WebSocket client that reads too slowly')
    socket.close(WS_CLOSE_TOO_SLOW, 'send queue full: the client reads too slowly')
    setTimeout(() => { socket.terminate() }, CLOSE_GRACE_MS).unref()
  }

  private pingClients (): void {
    for (const connection of this.connections) {
      if (!connection.alive) { connection.socket.terminate(); continue }
      connection.alive = false
      connection.socket.ping()
    }
  }
}

function rawBytes (data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0)
  return data instanceof ArrayBuffer ? data.byteLength : data.length
}
