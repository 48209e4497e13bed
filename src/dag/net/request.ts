import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Logger } from '../../core/logger.ts'
import { MAX_VERTEX_BYTES } from '../vertex.ts'

/** Ids per GET_VERTICES request and per query (docs/protocol.md). */
export const MAX_IDS_PER_REQUEST = 16
/** Largest response: a full GET_VERTICES answer. */
const MAX_RESPONSE_BYTES = MAX_IDS_PER_REQUEST * (MAX_VERTEX_BYTES + 4) + 16
/** Largest request any ledger protocol takes (a forwarded transaction is the biggest). */
const MAX_REQUEST_BYTES = 64 * 1024

/** One length-prefixed request, one length-prefixed response, on a fresh stream. */
export async function request (libp2p: Pick<Libp2p, 'dialProtocol'>, peer: PeerId, protocol: string, body: Uint8Array, timeoutMs: number, signal: AbortSignal): Promise<Uint8Array> {
  const s = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
  const stream = await libp2p.dialProtocol(peer, protocol, { signal: s })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_RESPONSE_BYTES })
    await lp.write(body, { signal: s })
    const res = await lp.read({ signal: s })
    await stream.close({ signal: s }).catch(() => undefined)
    return res.subarray()
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}

/** Serves one request on an inbound stream; a failure aborts the stream (logged at debug: peers misbehave). */
export async function respond (stream: Stream, handler: (req: Uint8Array) => Promise<Uint8Array>, timeoutMs: number, signal: AbortSignal, log: Logger): Promise<void> {
  const s = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES })
    const req = (await lp.read({ signal: s })).subarray()
    const res = await handler(req)
    await lp.write(res, { signal: s })
    await stream.close({ signal: s }).catch(() => undefined)
  } catch (err) {
    log.debug({ err }, 'stream request failed')
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}

/** Sleeps `ms`, ending early when `signal` aborts. */
export async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>(resolve => {
    const t = setTimeout(done, ms)
    function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done, { once: true })
  })
}

/** A sleep that another part of the service can cut short (new work arrived). */
export class Wakeable {
  private wakeFn: (() => void) | undefined

  async sleep (ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return
    await new Promise<void>(resolve => {
      const done = (): void => {
        clearTimeout(t)
        signal.removeEventListener('abort', done)
        if (this.wakeFn === done) this.wakeFn = undefined
        resolve()
      }
      const t = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      this.wakeFn = done
    })
  }

  wake (): void { this.wakeFn?.() }
}
