// The HTTP body path of the JSON-RPC server: request bodies read within their limit, answers written (gzip when
// asked) and held against the byte budget until their clients take them, with the sweep that drops clients that
// never do, and the refusals of this path (413, 503 busy).
import type { IncomingMessage, ServerResponse } from 'node:http'
import { promisify } from 'node:util'
import { constants, gzip } from 'node:zlib'
import { RpcErrorCode, type RpcErrorCodeValue } from './errors.ts'
import type { RpcMetrics, RpcOutcome } from './metrics.ts'

const gzipAsync = promisify(gzip)

// an oversized body is read and dropped (so the client can see the 413) up to this multiple of the limit
const OVERSIZE_DRAIN_FACTOR = 16

/** Why bytes did not fit: the budget is full (`busy`), or this client holds its share of it (`client_busy`). */
export type BudgetRefusal = 'busy' | 'client_busy'

/**
 * Bytes the server holds for HTTP clients at once (bodies being read, answers not yet taken): each body and answer
 * is bounded, the number of clients sending slowly or not reading is not. One client (its credentials, else its IP
 * address) holds at most `maxBytesPerClient` of it, so one that fills its share leaves the rest to the others.
 */
export class ByteBudget {
  readonly maxBytes: number
  readonly maxBytesPerClient: number
  private held = 0
  // bytes held per client; an entry leaves when its count drops to 0, so there are at most as many as bytes held
  private readonly heldBy = new Map<string, number>()
  private readonly onChange?: (heldBytes: number) => void

  /** `onChange` gets the bytes held after each change (the server feeds its gauge from it). */
  constructor (maxBytes: number, maxBytesPerClient: number, onChange?: (heldBytes: number) => void) {
    this.maxBytes = maxBytes
    this.maxBytesPerClient = Math.min(maxBytes, maxBytesPerClient)
    this.onChange = onChange
  }

  /** Takes `bytes` for `client` when they fit; otherwise takes nothing and says which bound they did not fit. */
  take (bytes: number, client: string): BudgetRefusal | undefined {
    const clientHeld = this.heldBy.get(client) ?? 0
    if (clientHeld + bytes > this.maxBytesPerClient) return 'client_busy'
    if (this.held + bytes > this.maxBytes) return 'busy'
    this.held += bytes
    this.heldBy.set(client, clientHeld + bytes)
    this.onChange?.(this.held)
    return undefined
  }

  release (bytes: number, client: string): void {
    if (bytes === 0) return
    this.held -= bytes
    const left = (this.heldBy.get(client) ?? bytes) - bytes
    if (left <= 0) this.heldBy.delete(client)
    else this.heldBy.set(client, left)
    this.onChange?.(this.held)
  }
}

type BodyRefusal = 'too_large' | BudgetRefusal

/**
 * The body as text, or why it was refused: over `maxBytes` (`too_large`; the request has then been drained or
 * destroyed), or over what `budget` has left, in all or for `client` (`busy`, `client_busy`: drained too, its bytes
 * dropped); null when the client aborted. Bytes kept are taken from `budget` for `client` until the body is complete.
 */
export async function readBody (req: IncomingMessage, maxBytes: number, budget: ByteBudget, client: string): Promise<{ text: string } | { refused: BodyRefusal } | null> {
  const declared = Number(req.headers['content-length'])
  const hardLimit = maxBytes * OVERSIZE_DRAIN_FACTOR
  if (Number.isFinite(declared) && declared > hardLimit) {
    req.destroy()
    return { refused: 'too_large' }
  }
  // stream events rather than `for await`: the async iterator costs a promise per chunk and its own machinery, a
  // measurable share of a small call's time
  return await new Promise((resolve) => {
    const chunks: Buffer[] = []
    let received = 0
    let kept = 0
    let refused: BodyRefusal | undefined
    // past a refusal keep reading, but drop the bytes, so the client sees the answer rather than a reset
    const refuse = (reason: BodyRefusal): void => {
      refused = reason
      chunks.length = 0
      budget.release(kept, client)
      kept = 0
    }
    const onData = (chunk: Buffer): void => {
      received += chunk.length
      if (received > hardLimit) {
        done({ refused: refused ?? 'too_large' })
        req.destroy()
        return
      }
      if (refused !== undefined) return
      if (received > maxBytes) { refuse('too_large'); return }
      const overBudget = budget.take(chunk.length, client)
      if (overBudget !== undefined) { refuse(overBudget); return }
      kept += chunk.length
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      done(refused !== undefined ? { refused } : { text: (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8') })
    }
    // the client went away (or the stream failed) before the end of the body
    const onGone = (): void => { done(null) }
    const done = (value: { text: string } | { refused: BodyRefusal } | null): void => {
      budget.release(kept, client)
      kept = 0
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onGone)
      req.off('close', onGone)
      resolve(value)
    }
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', onGone)
    req.once('close', onGone)
  })
}

/** True when the request's Accept-Encoding lists gzip (without q=0). */
export function acceptsGzip (req: IncomingMessage): boolean {
  const header = req.headers['accept-encoding']
  if (typeof header !== 'string') return false
  return header.split(',').some((part) => {
    const [name, ...params] = part.trim().toLowerCase().split(';')
    return (name === 'gzip' || name === '*') && !params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p))
  })
}

/**
 * Writes a JSON-RPC response, gzip-compressed when it is at least `gzipMinBytes` and the client accepts gzip
 * (zlib level 1: most of the saving on JSON for a fraction of the CPU of the default level).
 */
export async function sendJsonText (req: IncomingMessage, res: ServerResponse, status: number, text: string,
  headers: Record<string, string>, gzipMinBytes: number): Promise<void> {
  let body: Buffer | string = text
  const out: Record<string, string | number> = { 'Content-Type': 'application/json', ...headers }
  const size = Buffer.byteLength(text)
  if (size >= gzipMinBytes && acceptsGzip(req)) {
    body = await gzipAsync(text, { level: constants.Z_BEST_SPEED })
    out['Content-Encoding'] = 'gzip'
    const prior = out.Vary ?? res.getHeader('Vary')
    out.Vary = prior === undefined ? 'Accept-Encoding' : `${String(prior)}, Accept-Encoding`
  }
  if (res.destroyed) return
  out['Content-Length'] = typeof body === 'string' ? size : body.length
  res.writeHead(status, out)
  res.end(body)
}

/** Writes a JSON-RPC error body (from RpcDispatcher.refuse) with `status`, and closes the connection. */
export function writeRpcError (res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Connection: 'close' })
  res.end(body)
}

export interface HttpBodiesInit {
  /** Largest request body. */
  maxBodyBytes: number
  /** Bytes held for HTTP clients at once: bodies being read and answers not yet taken. */
  maxBufferedBytes: number
  /** Of those, the most one client (its credentials, else its IP address) may hold. */
  maxBufferedBytesPerClient: number
  /** Milliseconds a client has to take its whole answer once it is written. */
  responseTimeoutMs: number
  /** Answers of at least this many bytes are gzip-compressed for clients that accept it. */
  gzipMinBytes: number
}

export interface HttpBodiesComponents {
  metrics: RpcMetrics
  /** The JSON-RPC error text of a refused request (RpcDispatcher.refuse, which counts it). */
  refuse: (code: RpcErrorCodeValue, message: string, outcome: RpcOutcome) => string
}

/**
 * Request bodies and answers of the HTTP transport, within one ByteBudget: a body is held while it is read, an
 * answer from when it is written until its client has taken it (the response's close), for about
 * `responseTimeoutMs` at most: a client that never reads cannot pin it.
 */
export class HttpBodies {
  readonly budget: ByteBudget
  private readonly init: HttpBodiesInit
  private readonly components: HttpBodiesComponents
  // answers written and not yet taken by their clients, with when they were written (ms): one sweep closes those past
  // responseTimeoutMs, rather than a timer armed and cleared for every answer
  private readonly unreadAnswers = new Map<ServerResponse, number>()
  private answerSweep?: NodeJS.Timeout

  constructor (components: HttpBodiesComponents, init: HttpBodiesInit) {
    this.components = components
    this.init = init
    const bufferedGauge = components.metrics.httpBufferedBytes
    this.budget = new ByteBudget(init.maxBufferedBytes, init.maxBufferedBytesPerClient, (bytes) => { bufferedGauge.set(bytes) })
  }

  start (): void {
    this.answerSweep = setInterval(() => { this.closeUnreadAnswers() }, Math.max(1, this.init.responseTimeoutMs / 2))
    this.answerSweep.unref()
  }

  stop (): void {
    clearInterval(this.answerSweep)
  }

  /**
   * The request's body as text, its bytes held for `client` while it is read; null when the client went away
   * mid-body or the request was refused (not JSON, or compressed: 415; over the limit: 413; over what the budget
   * has left, in all or for this client: 503), the refusal then answered here.
   */
  async read (req: IncomingMessage, res: ServerResponse, client: string): Promise<string | null> {
    const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
    if (contentType !== 'application/json') {
      this.components.metrics.httpRejected.inc({ reason: 'content_type' })
      req.resume()
      writeRpcError(res, 415, this.components.refuse(RpcErrorCode.INVALID_REQUEST,
        'content-type must be application/json', 'invalid_request'))
      return null
    }
    // a compressed body is refused, not inflated: JSON-RPC clients send plain bodies (geth reads none either), and
    // inflating would let a small body make the node hold many times the body limit
    const encoding = req.headers['content-encoding']?.trim().toLowerCase()
    if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
      this.components.metrics.httpRejected.inc({ reason: 'content_encoding' })
      req.resume()
      // RFC 9110 15.5.16: a 415 for a content coding names the codings accepted
      res.setHeader('Accept-Encoding', 'identity')
      writeRpcError(res, 415, this.components.refuse(RpcErrorCode.INVALID_REQUEST,
        'compressed request bodies (Content-Encoding) are not accepted: send the body uncompressed; answers are gzip-compressed when the request sends Accept-Encoding: gzip', 'invalid_request'))
      return null
    }
    const body = await readBody(req, this.init.maxBodyBytes, this.budget, client)
    if (body === null) return null // the client went away mid-body
    if ('text' in body) return body.text
    if (body.refused !== 'too_large') {
      this.refuseBusy(res, body.refused)
      return null
    }
    this.components.metrics.httpRejected.inc({ reason: 'body_too_large' })
    writeRpcError(res, 413, this.components.refuse(RpcErrorCode.LIMIT_EXCEEDED,
      `request body exceeds the limit of ${this.init.maxBodyBytes} bytes`, 'limit_exceeded'))
    return null
  }

  /**
   * Writes an answer (none: an empty body, for a message of notifications only), its bytes held for `client` until
   * it has taken them; 503 (busy) when they do not fit the budget, in all or for this client.
   */
  async answer (req: IncomingMessage, res: ServerResponse, status: number, text: string | null, headers: Record<string, string>, client: string): Promise<void> {
    if (text === null) {
      res.writeHead(status, headers)
      res.end()
      return
    }
    const bytes = Buffer.byteLength(text)
    const overBudget = this.budget.take(bytes, client)
    if (overBudget !== undefined) {
      this.refuseBusy(res, overBudget)
      return
    }
    this.unreadAnswers.set(res, Date.now())
    res.once('close', () => {
      this.budget.release(bytes, client)
      this.unreadAnswers.delete(res)
    })
    await sendJsonText(req, res, status, text, headers, this.init.gzipMinBytes)
  }

  /** Disconnects the clients that have not taken their answer within responseTimeoutMs (geth's WriteTimeout). */
  private closeUnreadAnswers (): void {
    const writtenBefore = Date.now() - this.init.responseTimeoutMs
    // a Map iterates in insertion order: the oldest answers come first
    for (const [res, writtenAtMs] of this.unreadAnswers) {
      if (writtenAtMs > writtenBefore) break
      this.unreadAnswers.delete(res)
      res.destroy()
    }
  }

  /**
   * 503 with -32005: the bytes held for HTTP clients (bodies being read, answers not taken) are at their bound, in all
   * (`busy`) or for this client (`client_busy`).
   */
  private refuseBusy (res: ServerResponse, refusal: BudgetRefusal): void {
    this.components.metrics.httpRejected.inc({ reason: refusal })
    res.setHeader('Retry-After', '1')
    const message = refusal === 'busy'
      ? `the node is holding its limit of ${this.budget.maxBytes} bytes for HTTP clients (bodies being read, answers not yet taken); retry shortly`
      : `the node is holding this client's share of ${this.budget.maxBytesPerClient} bytes (its bodies being read, answers not yet taken); take the answers, or retry shortly`
    writeRpcError(res, 503, this.components.refuse(RpcErrorCode.LIMIT_EXCEEDED, message, 'limit_exceeded'))
  }
}
