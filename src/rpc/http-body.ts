import type { IncomingMessage, ServerResponse } from 'node:http'
import { promisify } from 'node:util'
import { constants, gzip } from 'node:zlib'

const gzipAsync = promisify(gzip)

// an oversized body is read and dropped (so the client can see the 413) up to this multiple of the limit
const OVERSIZE_DRAIN_FACTOR = 16

/**
 * The body as text; undefined when it exceeds `maxBytes` (the request has then been drained or destroyed);
 * null when the client aborted.
 */
export async function readBody (req: IncomingMessage, maxBytes: number): Promise<string | undefined | null> {
  const declared = Number(req.headers['content-length'])
  const hardLimit = maxBytes * OVERSIZE_DRAIN_FACTOR
  if (Number.isFinite(declared) && declared > hardLimit) {
    req.destroy()
    return undefined
  }
  // stream events rather than `for await`: the async iterator costs a promise per chunk and its own machinery, a
  // measurable share of a small call's time
  return await new Promise((resolve) => {
    const chunks: Buffer[] = []
    let received = 0
    const onData = (chunk: Buffer): void => {
      received += chunk.length
      if (received > hardLimit) {
        done(undefined)
        req.destroy()
        return
      }
      // past the limit keep reading, but drop the bytes, so the client sees the 413 rather than a reset
      if (received <= maxBytes) chunks.push(chunk)
    }
    const onEnd = (): void => { done(received > maxBytes ? undefined : (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8')) }
    // the client went away (or the stream failed) before the end of the body
    const onGone = (): void => { done(null) }
    const done = (value: string | undefined | null): void => {
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
