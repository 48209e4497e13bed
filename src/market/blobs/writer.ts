import { createHash, type Hash } from 'node:crypto'
import { bytesEqual } from '../../core/codec.ts'
import type { BinarySublevel, WriteOp } from '../../core/storage.ts'
import { BlobError } from './errors.ts'
import { chunkKey } from './keys.ts'
import { type BlobManifest, chunkCount, chunkLength, sha256 } from './manifest.ts'

/** What a writer needs from its store (BlobStore.openWriter supplies it). */
export interface WriterHooks {
  db: BinarySublevel
  /**
   * Keep the chunks and hand them to `commit` instead of writing them as they come (a blob of one chunk: its chunk
   * and manifest then go in one batch, and the store marks no write pending).
   */
  hold?: boolean
  /** `held`: the chunks' writes kept back (with `hold`), for the commit's batch. */
  commit: (m: BlobManifest, tags: string[], held: ChunkPut[]) => Promise<void>
  abort: (m: BlobManifest) => Promise<void>
  done: (m: BlobManifest) => void
}

/** A chunk's write, kept back until the commit (`hold`). */
export type ChunkPut = Extract<WriteOp, { type: 'put' }>

/**
 * Writes one blob's chunks in order, checking each against the manifest and the whole against the id before the
 * blob becomes visible. Ends with exactly one `commit()` or `abort()` (abort after a failed commit is a no-op).
 */
export class BlobWriter {
  readonly manifest: BlobManifest
  private readonly tags: string[]
  private readonly hooks: WriterHooks
  private readonly hash: Hash = createHash('sha256')
  private next = 0
  private ended = false
  private readonly held: ChunkPut[] = []

  constructor (manifest: BlobManifest, tags: string[], hooks: WriterHooks) {
    this.manifest = manifest
    this.tags = tags
    this.hooks = hooks
  }

  /** Chunks written so far. */
  get written (): number { return this.next }

  /** Checks the next chunk against the manifest (BLOB_CORRUPT when it does not match) and writes it. */
  async write (chunk: Uint8Array): Promise<void> {
    await this.writeMany([chunk])
  }

  /** Several consecutive chunks in one LevelDB batch. */
  async writeMany (chunks: Uint8Array[]): Promise<void> {
    if (this.ended) throw new BlobError('BLOB_STORE_CLOSED', 'this blob write has ended', { blob: this.manifest.id })
    const m = this.manifest
    const ops = chunks.map((chunk, k) => {
      const index = this.next + k
      if (index >= m.chunkHashes.length) throw new BlobError('BLOB_CORRUPT', 'more chunks than the manifest lists', { blob: m.id, index })
      if (chunk.length !== chunkLength(m.size, index) || !bytesEqual(sha256(chunk), m.chunkHashes[index])) {
        throw new BlobError('BLOB_CORRUPT', `chunk ${index} does not match the manifest`, { blob: m.id, index })
      }
      return { type: 'put' as const, key: chunkKey(m.id, index), value: chunk }
    })
    if (this.hooks.hold === true) this.held.push(...ops)
    else await this.hooks.db.batch(ops)
    for (const chunk of chunks) this.hash.update(chunk)
    this.next += chunks.length
  }

  /** Verifies the whole against the id and makes the blob visible in one batch. On failure the write is aborted. */
  async commit (): Promise<void> {
    if (this.ended) throw new BlobError('BLOB_STORE_CLOSED', 'this blob write has ended', { blob: this.manifest.id })
    const m = this.manifest
    if (this.next !== chunkCount(m.size)) throw new BlobError('BLOB_CORRUPT', `${this.next} of ${chunkCount(m.size)} chunks written`, { blob: m.id })
    if (this.hash.digest('hex') !== m.id) {
      await this.abort()
      throw new BlobError('BLOB_CORRUPT', 'the chunks match the manifest but the whole does not hash to the id', { blob: m.id })
    }
    this.ended = true
    try {
      await this.hooks.commit(m, this.tags, this.held)
    } catch (err) {
      await this.hooks.abort(m).catch(() => undefined)
      throw err
    } finally {
      this.hooks.done(m)
    }
  }

  /** Deletes what was written; the blob never becomes visible. */
  async abort (): Promise<void> {
    if (this.ended) return
    this.ended = true
    try { await this.hooks.abort(this.manifest) } finally { this.hooks.done(this.manifest) }
  }
}
