import { HarmonyError } from '../../core/errors.ts'

/**
 * Every way the blob store, the `/harmony/blob/1.0.0` protocol and sealing refuse input or fail. Bounded: these
 * become metric labels and RPC error mappings (m4's task methods).
 */
export const BLOB_ERROR_CODES = [
  /** The id is not 64 lowercase hex digits, or a tag is malformed. */
  'BLOB_ID_INVALID',
  /** Larger than the per-blob maximum (this store's, or the fetching node's). */
  'BLOB_TOO_LARGE',
  /** Storing it would pass the store's total maximum (after collecting what could be collected). */
  'BLOB_STORE_FULL',
  /** Not in the store, or the peer does not have it. */
  'BLOB_NOT_FOUND',
  /** Stored bytes no longer hash to their manifest or id (disk corruption): the blob is not served. */
  'BLOB_CORRUPT',
  /** A peer served bytes that do not match the manifest or the id, or a malformed answer: report the peer. */
  'BLOB_PEER_BAD_DATA',
  /** The peer refused: its concurrent-stream cap is reached. Try later or another peer. */
  'BLOB_PEER_BUSY',
  /** The peer did not answer a request in time. */
  'BLOB_TIMEOUT',
  /** The stream failed (dial refused, connection reset, the caller's signal aborted). */
  'BLOB_UNAVAILABLE',
  /** A write of the same blob is already under way in this store. */
  'BLOB_WRITE_IN_PROGRESS',
  /** The store is not started, or is stopping. */
  'BLOB_STORE_CLOSED',
  /** A sealed envelope is malformed (truncated, unknown version) or a key has the wrong length or form. */
  'SEAL_INVALID',
  /** A sealed envelope did not open: another recipient's key, or tampered bytes (AES-GCM authentication failed). */
  'SEAL_OPEN_FAILED'
] as const

export type BlobErrorCode = (typeof BLOB_ERROR_CODES)[number]

/** Codes that mean the peer itself misbehaved (its score should drop); the others are ours or transient. */
export const PEER_FAULT_CODES: ReadonlySet<BlobErrorCode> = new Set(['BLOB_PEER_BAD_DATA'])

export class BlobError extends HarmonyError<BlobErrorCode> {
  constructor (code: BlobErrorCode, message: string, meta: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(code, message, meta, options)
    this.name = 'BlobError'
  }
}

export function isBlobError (err: unknown): err is BlobError {
  return err instanceof BlobError
}
