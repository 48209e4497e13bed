import { createHash } from 'node:crypto'
import { Reader, Writer, fromHex, toHex } from '../../core/codec.ts'
import { isBlobId } from '../../compute/blob.ts'
import { BlobError } from './errors.ts'

/** Bytes per chunk: 256 KiB keeps a chunk one LevelDB value and one stream frame, and a 64 MiB blob 256 chunks. */
export const CHUNK_BYTES = 256 * 1024
/**
 * The largest blob the wire format can describe (4096 chunks, a 128 KiB manifest). Stores and fetchers set their
 * own, lower, maximum (BlobStoreInit.maxBlobBytes).
 */
export const PROTOCOL_MAX_BLOB_BYTES = 1024 * 1024 * 1024
export const MAX_CHUNKS = PROTOCOL_MAX_BLOB_BYTES / CHUNK_BYTES
export const MANIFEST_VERSION = 1
const HASH_BYTES = 32
/** Largest encoded manifest: version, size, chunk size, the hashes. */
export const MAX_MANIFEST_BYTES = 1 + 8 + 4 + MAX_CHUNKS * HASH_BYTES

/**
 * What a blob is made of: its size and the sha256 of each CHUNK_BYTES chunk (the last one shorter). The id is the
 * sha256 of the whole blob (as `compute/blob.ts`), so a manifest from a peer binds to the id only once every chunk
 * has arrived and the whole hashes to it; the chunk hashes catch a bad chunk as it arrives.
 */
export interface BlobManifest {
  /** sha256 of the whole blob, 64 lowercase hex digits. */
  id: string
  size: number
  chunkBytes: number
  /** sha256 of each chunk, in order. */
  chunkHashes: Uint8Array[]
}

export function chunkCount (size: number, chunkBytes = CHUNK_BYTES): number {
  return Math.ceil(size / chunkBytes)
}

/** Length of chunk `index` of a blob of `size` bytes. */
export function chunkLength (size: number, index: number, chunkBytes = CHUNK_BYTES): number {
  return Math.min(chunkBytes, size - index * chunkBytes)
}

export function sha256 (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

/** Throws BLOB_ID_INVALID unless `id` is a blob id (64 lowercase hex digits). */
export function assertBlobId (id: string): void {
  if (typeof id !== 'string' || !isBlobId(id)) throw new BlobError('BLOB_ID_INVALID', 'a blob id is 64 lowercase hex digits (sha256 of the blob)')
}

/** The manifest of `bytes` (hashes every chunk and the whole). */
export function buildManifest (bytes: Uint8Array): BlobManifest {
  if (bytes.length > PROTOCOL_MAX_BLOB_BYTES) throw new BlobError('BLOB_TOO_LARGE', `a blob is at most ${PROTOCOL_MAX_BLOB_BYTES} bytes`, { size: bytes.length })
  const chunkHashes: Uint8Array[] = []
  for (let i = 0; i < chunkCount(bytes.length); i++) chunkHashes.push(sha256(bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES)))
  return { id: toHex(sha256(bytes)), size: bytes.length, chunkBytes: CHUNK_BYTES, chunkHashes }
}

/** version u8 ‖ size u64 ‖ chunk bytes u32 ‖ sha256 per chunk (count implied by the size). The id is not in it. */
export function encodeManifest (m: BlobManifest): Uint8Array {
  const w = new Writer(1 + 8 + 4 + m.chunkHashes.length * HASH_BYTES).u8(MANIFEST_VERSION).u64(BigInt(m.size)).u32(m.chunkBytes)
  for (const h of m.chunkHashes) w.fixed(h, HASH_BYTES)
  return w.finish()
}

/** Strict decode; throws CodecError (ENCODING_INVALID) on anything but a well-formed v1 manifest. */
export function decodeManifest (id: string, bytes: Uint8Array): BlobManifest {
  const r = new Reader(bytes, 'blob manifest')
  if (r.u8() !== MANIFEST_VERSION) r.fail('unknown manifest version')
  const size = r.u64()
  if (size > BigInt(PROTOCOL_MAX_BLOB_BYTES)) r.fail('size above the protocol maximum')
  const chunkBytes = r.u32()
  // v1 fixes the chunk size, so every node cuts a blob the same way
  if (chunkBytes !== CHUNK_BYTES) r.fail('chunk size is not the protocol chunk size')
  const n = chunkCount(Number(size))
  const chunkHashes: Uint8Array[] = []
  for (let i = 0; i < n; i++) chunkHashes.push(r.fixed(HASH_BYTES))
  r.end()
  return { id, size: Number(size), chunkBytes, chunkHashes }
}

export function idBytes (id: string): Uint8Array {
  assertBlobId(id)
  return fromHex(id, 'blob id')
}
