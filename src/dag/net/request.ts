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
