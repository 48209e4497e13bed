import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Logger } from '../../core/logger.ts'
import { requestOnce, respondOnce } from '../../network/request.ts'
import { MAX_VERTEX_BYTES } from '../vertex.ts'

/** Ids per GET_VERTICES request and per query (docs/protocol.md). */
export const MAX_IDS_PER_REQUEST = 16
/** Largest response: a full GET_VERTICES answer. */
const MAX_RESPONSE_BYTES = MAX_IDS_PER_REQUEST * (MAX_VERTEX_BYTES + 4) + 16
/** Largest request any ledger protocol takes (a forwarded transaction is the biggest). */
const MAX_REQUEST_BYTES = 64 * 1024

/** One length-prefixed request, one length-prefixed response, on a fresh stream, within the ledger's bounds. */
export async function request (libp2p: Pick<Libp2p, 'dialProtocol'>, peer: PeerId, protocol: string, body: Uint8Array, timeoutMs: number, signal: AbortSignal): Promise<Uint8Array> {
  return await requestOnce(libp2p, peer, protocol, body, { timeoutMs, signal, maxResponseBytes: MAX_RESPONSE_BYTES })
}

/** Serves one request of a ledger protocol on an inbound stream. */
export async function respond (stream: Stream, handler: (req: Uint8Array) => Promise<Uint8Array>, timeoutMs: number, signal: AbortSignal, log: Logger): Promise<void> {
  await respondOnce(stream, handler, { timeoutMs, signal, maxRequestBytes: MAX_REQUEST_BYTES, log })
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

/**
 * A sleep that another part of the service can cut short (new work arrived). A wake while nobody sleeps is kept
 * for the next sleep, which then returns at once: work that arrived while the loop was busy is not slept over.
 */
export class Wakeable {
  private wakeFn: (() => void) | undefined
  private woken = false

  async sleep (ms: number, signal: AbortSignal): Promise<void> {
    if (this.woken) { this.woken = false; return }
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

  wake (): void {
    if (this.wakeFn !== undefined) this.wakeFn()
    else this.woken = true
  }
}
