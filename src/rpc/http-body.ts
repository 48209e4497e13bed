import type { IncomingMessage, ServerResponse } from 'node:http'
import { promisify } from 'node:util'
import { constants, gzip } from 'node:zlib'

const gzipAsync = promisify(gzip)

// an oversized body is read and dropped (so the client can see the 413) up to this multiple of the limit
const OVERSIZE_DRAIN_FACTOR = 16

/**
 * Bytes the server holds for HTTP clients at once (bodies being read, answers not yet taken): each body and answer
 * is bounded, the number of clients sending slowly or not reading is not.
 */
export class ByteBudget {
  readonly maxBytes: number
  private held = 0
  private readonly onChange?: (heldBytes: number) => void

  /** `onChange` gets the bytes held after each change (the server feeds its gauge from it). */
  constructor (maxBytes: number, onChange?: (heldBytes: number) => void) {
    this.maxBytes = maxBytes
    this.onChange = onChange
  }

  /** Takes `bytes` when they fit; false (nothing taken) when they do not. */
  take (bytes: number): boolean {
    if (this.held + bytes > this.maxBytes) return false
    this.held += bytes
    this.onChange?.(this.held)
    return true
  }

  release (bytes: number): void {
    if (bytes === 0) return
    this.held -= bytes
    this.onChange?.(this.held)
  }
}

/**
 * The body as text, or why it was refused: over `maxBytes` (`too_large`; the request has then been drained or
 * destroyed), or over what `budget` has left (`busy`: drained too, its bytes dropped); null when the client aborted.
 * Bytes kept are taken from `budget` until the body is complete.
 */
export async function readBody (req: IncomingMessage, maxBytes: number, budget: ByteBudget): Promise<{ text: string } | { refused: 'too_large' | 'busy' } | null> {
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
    let refused: 'too_large' | 'busy' | undefined
    // past a refusal keep reading, but drop the bytes, so the client sees the answer rather than a reset
    const refuse = (reason: 'too_large' | 'busy'): void => {
      refused = reason
      chunks.length = 0
      budget.release(kept)
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
      if (!budget.take(chunk.length)) { refuse('busy'); return }
      kept += chunk.length
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      done(refused !== undefined ? { refused } : { text: (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8') })
    }
    // the client went away (or the stream failed) before the end of the body
    const onGone = (): void => { done(null) }
    const done = (value: { text: string } | { refused: 'too_large' | 'busy' } | null): void => {
      budget.release(kept)
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
