/**
 * One length-prefixed request and one length-prefixed response on a fresh libp2p stream: the request/response
 * shape every Harmony protocol but gossip uses (ledger sync and queries, transaction forwarding, benchmark
 * challenges). Both sides bound the message they read and the time they wait.
 */
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Logger } from '../core/logger.ts'

export interface RequestOptions {
  /** Gives up after this long (dial, write and read together). */
  timeoutMs: number
  signal: AbortSignal
  /** Largest response accepted; a longer one fails the request. */
  maxResponseBytes: number
}

/** Sends `body` to `peer` on `protocol` and returns its one response. */
export async function requestOnce (libp2p: Pick<Libp2p, 'dialProtocol'>, peer: PeerId, protocol: string, body: Uint8Array, options: RequestOptions): Promise<Uint8Array> {
  const s = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)])
  const stream = await libp2p.dialProtocol(peer, protocol, { signal: s })
  try {
    const lp = lpStream(stream, { maxDataLength: options.maxResponseBytes })
    await lp.write(body, { signal: s })
    const res = await lp.read({ signal: s })
    await stream.close({ signal: s }).catch(() => undefined)
    return res.subarray()
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}

export interface RespondOptions {
  timeoutMs: number
  signal: AbortSignal
  /** Largest request read; a longer one aborts the stream. */
  maxRequestBytes: number
  log: Logger
}

/**
 * Serves one request on an inbound stream; the handler gets the request's deadline as a signal. A failure aborts
 * the stream (logged at debug: peers misbehave).
 */
export async function respondOnce (stream: Stream, handler: (req: Uint8Array, signal: AbortSignal) => Promise<Uint8Array>, options: RespondOptions): Promise<void> {
  const s = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)])
  try {
    const lp = lpStream(stream, { maxDataLength: options.maxRequestBytes })
    const req = (await lp.read({ signal: s })).subarray()
    const res = await handler(req, s)
    await lp.write(res, { signal: s })
    await stream.close({ signal: s }).catch(() => undefined)
  } catch (err) {
    options.log.debug({ err }, 'stream request failed')
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}
