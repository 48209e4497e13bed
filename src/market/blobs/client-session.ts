/**
 * The client side of `/harmony/blob/1.0.0` (docs/protocol.md "Blobs"): one stream's requests and their answer frames,
 * each checked against the manifest, and the mapping of any failure to a typed BlobError (service.ts fetches with it).
 */
import type { PeerId, Stream } from '@libp2p/interface'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { bytesEqual } from '../../core/codec.ts'
import { CodecError } from '../../core/errors.ts'
import { BlobError } from './errors.ts'
import { type BlobManifest, chunkLength, decodeManifest, sha256 } from './manifest.ts'
import {
  decodeChunkFrame, encodeRequest, MAX_CHUNKS_PER_REQUEST, MAX_RESPONSE_FRAME_BYTES, MSG_GET_CHUNKS, MSG_GET_MANIFEST,
  STATUS_BAD_REQUEST, STATUS_BUSY, STATUS_NOT_FOUND, STATUS_OK, STATUS_UNAVAILABLE
} from './protocol.ts'

/**
 * Chunk requests a fetch keeps outstanding: the next range travels while the last one is checked and written
 * (measured in bench:blobs: one at a time left the link idle during every LevelDB write).
 */
export const REQUESTS_IN_FLIGHT = 2
/** Unread bytes a client stream may buffer: the answers in flight, with their framing, and room to spare. */
const CLIENT_BUFFER_BYTES = REQUESTS_IN_FLIGHT * MAX_CHUNKS_PER_REQUEST * (MAX_RESPONSE_FRAME_BYTES + 8) + 64 * 1024

/** The client side of one stream: a request, its answer frames, each checked. */
export class ClientSession {
  private readonly lp: LengthPrefixedStream
  private readonly signals: AbortSignal[]
  private readonly timeoutMs: number
  private deadline: AbortSignal | undefined

  constructor (stream: Stream, signals: AbortSignal[], timeoutMs: number) {
    this.lp = lpStream(stream, { maxDataLength: MAX_RESPONSE_FRAME_BYTES, maxBufferSize: CLIENT_BUFFER_BYTES })
    this.signals = signals
    this.timeoutMs = timeoutMs
  }

  async manifest (id: string): Promise<BlobManifest> {
    const signal = this.signal()
    await this.lp.write(encodeRequest({ type: MSG_GET_MANIFEST, id }), { signal })
    const frame = (await this.lp.read({ signal })).subarray()
    checkStatus(frame, id)
    return decodeManifest(id, frame.subarray(1))
  }

  /** Chunks `first..first+count-1`, each checked against `m` (BLOB_PEER_BAD_DATA when one does not match). */
  async chunks (m: BlobManifest, first: number, count: number): Promise<Uint8Array[]> {
    await this.ask(m, first, count)
    return await this.receive(m, first, count)
  }

  /** Sends a chunk request without waiting for its answer (the server answers requests in order). */
  async ask (m: BlobManifest, first: number, count: number): Promise<void> {
    await this.lp.write(encodeRequest({ type: MSG_GET_CHUNKS, id: m.id, first, count }), { signal: this.signal() })
  }

  /** Reads the answer to the oldest chunk request outstanding, which asked for `first..first+count-1`. */
  async receive (m: BlobManifest, first: number, count: number): Promise<Uint8Array[]> {
    const signal = this.signal()
    const out: Uint8Array[] = []
    for (let index = first; index < first + count; index++) {
      const frame = (await this.lp.read({ signal })).subarray()
      checkStatus(frame, m.id)
      const got = decodeChunkFrame(frame)
      if (got.index !== index) throw new BlobError('BLOB_PEER_BAD_DATA', `peer sent chunk ${got.index} where ${index} was due`, { blob: m.id })
      if (got.chunk.length !== chunkLength(m.size, index) || !bytesEqual(sha256(got.chunk), m.chunkHashes[index])) {
        throw new BlobError('BLOB_PEER_BAD_DATA', `chunk ${index} from the peer does not match the manifest`, { blob: m.id, index })
      }
      out.push(got.chunk)
    }
    return out
  }

  /** One request's deadline, with the service's and the caller's signals. */
  private signal (): AbortSignal {
    this.deadline = AbortSignal.timeout(this.timeoutMs)
    return AbortSignal.any([...this.signals, this.deadline])
  }

  /** Whether the request under way ran past its deadline. */
  get timedOut (): boolean { return this.deadline?.aborted === true }
}

function checkStatus (frame: Uint8Array, id: string): void {
  if (frame.length === 0) throw new BlobError('BLOB_PEER_BAD_DATA', 'empty answer frame', { blob: id })
  const status = frame[0]
  if (status === STATUS_OK) return
  if (status === STATUS_NOT_FOUND) throw new BlobError('BLOB_NOT_FOUND', 'the peer does not have this blob', { blob: id })
  if (status === STATUS_BUSY) throw new BlobError('BLOB_PEER_BUSY', 'the peer is serving as many blob streams as it allows; try later or another peer', { blob: id })
  if (status === STATUS_UNAVAILABLE) throw new BlobError('BLOB_UNAVAILABLE', 'the peer could not serve this blob', { blob: id })
  if (status === STATUS_BAD_REQUEST) throw new BlobError('BLOB_UNAVAILABLE', 'the peer refused the request as malformed', { blob: id })
  throw new BlobError('BLOB_PEER_BAD_DATA', `unknown answer status ${status}`, { blob: id })
}

/** Maps any failure of a fetch to a BlobError carrying the peer. */
export function toBlobError (err: unknown, peer: PeerId, timedOut: boolean): BlobError {
  const meta = { peer: peer.toString() }
  if (timedOut) return new BlobError('BLOB_TIMEOUT', 'the peer did not answer in time', meta, { cause: err })
  if (err instanceof BlobError) return new BlobError(err.code, err.message, { ...err.meta, ...meta }, { cause: err })
  if (err instanceof CodecError) return new BlobError('BLOB_PEER_BAD_DATA', `malformed answer: ${err.message}`, meta, { cause: err })
  const name = err instanceof Error ? err.name : ''
  // lpStream's refusals of a frame over maxDataLength or a bad length prefix: the peer broke the framing
  if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError' || name === 'InvalidMessageLengthError') {
    return new BlobError('BLOB_PEER_BAD_DATA', 'peer sent a frame over the protocol limit', meta, { cause: err })
  }
  return new BlobError('BLOB_UNAVAILABLE', `blob stream failed: ${err instanceof Error ? err.message : String(err)}`, meta, { cause: err })
}
