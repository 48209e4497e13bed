import { Reader, Writer, toHex } from '../../core/codec.ts'
import { CHUNK_BYTES, idBytes, MAX_MANIFEST_BYTES } from './manifest.ts'

/**
 * `/harmony/blob/1.0.0` wire format (docs/protocol.md). One stream carries requests in turn, each one
 * it-length-prefixed frame; the server answers each before reading the next; the client closes when done.
 *
 *   GET_MANIFEST  u8 1 ‖ blob id (32 B)                          → one frame: status u8 ‖ manifest (if OK)
 *   GET_CHUNKS    u8 2 ‖ blob id (32 B) ‖ first u32 ‖ count u16   → `count` frames: status u8 ‖ index u32 ‖ chunk
 *                                                                   (a frame with a status other than OK ends it)
 */
export const MSG_GET_MANIFEST = 1
export const MSG_GET_CHUNKS = 2

export const STATUS_OK = 0
/** The server does not hold a complete blob of that id (or the range is outside it). */
export const STATUS_NOT_FOUND = 1
/** The server's concurrent-stream cap is reached: answered to the first request, then the stream closes. */
export const STATUS_BUSY = 2
/** The request did not decode. */
export const STATUS_BAD_REQUEST = 3
/** The server's copy failed verification (removed) or its store failed. */
export const STATUS_UNAVAILABLE = 4

/** Chunks per GET_CHUNKS: 8 × 256 KiB = 2 MiB in flight per request, well inside the stream buffers. */
export const MAX_CHUNKS_PER_REQUEST = 8
export const MAX_REQUEST_FRAME_BYTES = 1 + 32 + 4 + 2
/** The largest answer frame: a chunk with its header, or the largest manifest. */
export const MAX_RESPONSE_FRAME_BYTES = Math.max(1 + 4 + CHUNK_BYTES, 1 + MAX_MANIFEST_BYTES)

export type BlobRequest =
  | { type: typeof MSG_GET_MANIFEST, id: string }
  | { type: typeof MSG_GET_CHUNKS, id: string, first: number, count: number }

export function encodeRequest (req: BlobRequest): Uint8Array {
  const w = new Writer(MAX_REQUEST_FRAME_BYTES).u8(req.type).fixed(idBytes(req.id), 32)
  if (req.type === MSG_GET_CHUNKS) w.u32(req.first).u16(req.count)
  return w.finish()
}

/** Strict decode; throws CodecError on anything else (the server answers BAD_REQUEST). */
export function decodeRequest (bytes: Uint8Array): BlobRequest {
  const r = new Reader(bytes, 'blob request')
  const type = r.u8()
  const id = toHex(r.fixed(32))
  if (type === MSG_GET_MANIFEST) { r.end(); return { type: MSG_GET_MANIFEST, id } }
  if (type !== MSG_GET_CHUNKS) r.fail('unknown request type')
  const first = r.u32()
  const count = r.u16()
  r.end()
  if (count < 1 || count > MAX_CHUNKS_PER_REQUEST) r.fail(`chunk count must be 1..${MAX_CHUNKS_PER_REQUEST}`)
  return { type: MSG_GET_CHUNKS, id, first, count }
}

export function statusFrame (status: number): Uint8Array {
  return new Uint8Array([status])
}

export function manifestFrame (manifest: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + manifest.length)
  out[0] = STATUS_OK
  out.set(manifest, 1)
  return out
}

export function chunkFrame (index: number, chunk: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + 4 + chunk.length)
  out[0] = STATUS_OK
  new DataView(out.buffer).setUint32(1, index)
  out.set(chunk, 5)
  return out
}

/** The header of a chunk frame (status OK only) and its bytes; CodecError when shorter than a header. */
export function decodeChunkFrame (frame: Uint8Array): { index: number, chunk: Uint8Array } {
  const r = new Reader(frame, 'blob chunk frame')
  r.u8()
  const index = r.u32()
  return { index, chunk: frame.subarray(5) }
}
