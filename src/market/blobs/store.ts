import type { AbstractBatchOptions } from 'abstract-level'
import { BoundedSet } from '../../core/bounded-set.ts'
import type { Registry } from 'prom-client'
import type { Startable } from '../../core/lifecycle.ts'
import type { Logger } from '../../core/logger.ts'
import { getValue, KEY_PREFIXES, type BinarySublevel, type WriteOp } from '../../core/storage.ts'
import { bytesEqual, concatBytes, toHex } from '../../core/codec.ts'
import { BlobError } from './errors.ts'
import {
  assertTag, chunkKey, chunkRange, deadKey, keyRest, keyTail, manifestKey, pendingKey, PRESENT, range, readU64,
  tagKey, tagOfBlobKey, tagRange, tagsOfBlobRange, u64Bytes, untaggedKey
} from './keys.ts'
import { assertBlobId, type BlobManifest, buildManifest, CHUNK_BYTES, chunkCount, chunkLength, decodeManifest, encodeManifest, sha256 } from './manifest.ts'
import { type BlobMetrics, createBlobMetrics } from './metrics.ts'
import { BlobWriter, type ChunkPut } from './writer.ts'

/** Chunks per LevelDB batch when a whole blob is put at once: 16 × 256 KiB = 4 MiB per write. */
const CHUNKS_PER_BATCH = 16
/** Chunks up to this size are read at once, as manifests are (getValue): a small task's inputs and output, say. */
const SYNC_READ_BYTES = 16 * 1024
/** Keys deleted per batch when a blob is collected. */
const DELETE_BATCH = 64
/**
 * Released task ids remembered (oldest forgotten first), so a write or tag that lands after its task's release does
 * not hold the blob forever: the tag is dropped, the blob swept after the grace period. A few hundred KiB.
 */
const RELEASED_REMEMBERED = 4096

export interface BlobStoreInit {
  /** Largest blob stored (a fetch of a larger one is refused before any chunk moves). @default 67108864 (64 MiB) */
  maxBlobBytes?: number
  /** Total bytes of complete blobs plus writes under way; past it a write gets BLOB_STORE_FULL. @default 1073741824 (1 GiB) */
  maxStoreBytes?: number
  /** Blobs held plus writes under way (bounds the keys tiny blobs could pile up); past it BLOB_STORE_FULL. @default 65536 */
  maxBlobCount?: number
  /** How long a blob no task holds is kept (inputs wait for their announce's tag). @default 3600000 (1 h) */
  untaggedGraceMs?: number
  /** Period of the background sweep (expired untagged blobs). 0 turns it off. @default 60000 */
  sweepIntervalMs?: number
  /**
   * fsync the batch that makes a blob visible, so a held blob survives a power loss as well as a process kill
   * (LevelDB's log is ordered, so the chunks written before it are synced with it). @default false
   */
  syncWrites?: boolean
  /** Clock, for tests of the grace period. @default Date.now */
  now?: () => number
}

export interface BlobStoreComponents {
  /** The node's `blobs` sublevel (core/storage.ts). */
  db: BinarySublevel
  logger: Logger
  metricsRegistry?: Registry
}

export interface PutOptions {
  /** Task ids that hold the blob; `release(taskId)` drops the hold. None: collected after the grace period. */
  tags?: readonly string[]
}

/**
 * Content-addressed, chunked, size-bounded blob store over the `blobs` sublevel.
 *
 * - A blob's id is the sha256 of its bytes; it is cut in CHUNK_BYTES chunks listed by hash in its manifest.
 * - Atomic: chunks are written under a pending marker (none for one chunk: it goes in the manifest's batch), then one
 *   batch writes the manifest and drops it. Only a blob with a manifest is visible (has, get, serve): a kill -9
 *   mid-write leaves none partial; the next start deletes the chunks of every pending marker.
 * - Reads are verified: every chunk against its manifest hash, a whole blob against its id. A blob that fails is
 *   removed (BLOB_CORRUPT) so it can be fetched again.
 * - Collected by tag: a task's blobs are tagged with its id and `release(taskId)` removes every blob no other
 *   task still holds (after settlement). Untagged blobs are swept after `untaggedGraceMs`.
 */
export class BlobStore implements Startable {
  readonly maxBlobBytes: number
  readonly maxStoreBytes: number
  readonly maxBlobCount: number
  private readonly c: BlobStoreComponents
  private readonly log: Logger
  private readonly metrics: BlobMetrics
  private readonly untaggedGraceMs: number
  private readonly sweepIntervalMs: number
  private readonly now: () => number
  private readonly syncWrites: boolean
  private used = 0
  private blobs = 0
  private reserved = 0
  private running = false
  private timer: ReturnType<typeof setInterval> | undefined
  /** Serialises metadata changes (commit, tag, release, collect) so tag sets and counters never race. */
  private lock: Promise<void> = Promise.resolve()
  /** id -> end of the write under way (committed or aborted) */
  private readonly writing = new Map<string, Promise<void>>()
  /** task ids released lately, oldest first (RELEASED_REMEMBERED) */
  private readonly released = new BoundedSet(RELEASED_REMEMBERED)

  constructor (components: BlobStoreComponents, init: BlobStoreInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'blob-store' })
    this.metrics = createBlobMetrics(components.metricsRegistry)
    this.maxBlobBytes = init.maxBlobBytes ?? 64 * 1024 * 1024
    this.maxStoreBytes = init.maxStoreBytes ?? 1024 * 1024 * 1024
    this.maxBlobCount = init.maxBlobCount ?? 65536
    this.untaggedGraceMs = init.untaggedGraceMs ?? 3_600_000
    this.sweepIntervalMs = init.sweepIntervalMs ?? 60_000
    this.now = init.now ?? Date.now
    this.syncWrites = init.syncWrites ?? false
  }

  /** Recovers from an interrupted run (deletes chunks of unfinished writes and collections), then counts. */
  async start (): Promise<void> {
    const { db } = this.c
    const P = KEY_PREFIXES.blobs
    for (const prefix of [P.pending, P.dead]) {
      for await (const key of db.keys(range(prefix))) {
        const id = keyRest(key)
        // a pending marker always leaves in the batch that writes the manifest, so none has one; check anyway
        if (prefix === P.pending && await getValue(db, manifestKey(id)) !== undefined) { await db.del(key); continue }
        await this.deleteChunks(id)
        await db.del(key)
        this.log.info({ blob: id, interrupted: prefix === P.pending ? 'write' : 'collection' }, 'removed the chunks of an interrupted blob operation')
      }
    }
    this.used = 0
    this.blobs = 0
    const unreadable: string[] = []
    for await (const [key, value] of db.iterator(range(P.manifest))) {
      this.blobs++
      try { this.used += decodeManifest(keyRest(key), value.subarray(8)).size } catch { unreadable.push(keyRest(key)) }
    }
    // a manifest damaged on disk must not keep the node from starting: that blob is removed (fetched again if needed)
    for (const id of unreadable) await this.collectLocked(id, 'corrupt')
    this.updateGauges()
    this.running = true
    if (this.sweepIntervalMs > 0) {
      this.timer = setInterval(() => { void this.sweep().catch(err => { this.log.warn({ err }, 'blob sweep failed') }) }, this.sweepIntervalMs)
      this.timer.unref()
    }
  }

  async stop (): Promise<void> {
    this.running = false
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    await Promise.allSettled([...this.writing.values()])
    await this.exclusive(async () => {})
  }

  /** Bytes of complete blobs. */
  get usedBytes (): number { return this.used }
  /** Complete blobs. */
  get blobCount (): number { return this.blobs }

  async has (id: string): Promise<boolean> {
    assertBlobId(id)
    return await getValue(this.c.db, manifestKey(id)) !== undefined
  }

  /** The manifest of a complete blob, or undefined. */
  async manifest (id: string): Promise<BlobManifest | undefined> {
    assertBlobId(id)
    const value = await getValue(this.c.db, manifestKey(id))
    return value === undefined ? undefined : decodeManifest(id, value.subarray(8))
  }

  /** Chunk `index` of a complete blob, verified against its manifest. */
  async readChunk (id: string, index: number, manifest?: BlobManifest): Promise<Uint8Array> {
    const m = manifest ?? await this.manifest(id)
    if (m === undefined) throw new BlobError('BLOB_NOT_FOUND', 'no such blob in the store', { blob: id })
    if (!Number.isInteger(index) || index < 0 || index >= m.chunkHashes.length) throw new BlobError('BLOB_NOT_FOUND', 'chunk index out of range', { blob: id, index })
    const bytes = chunkLength(m.size, index) <= SYNC_READ_BYTES ? await getValue(this.c.db, chunkKey(id, index)) : await this.c.db.get(chunkKey(id, index))
    if (bytes === undefined || bytes.length !== chunkLength(m.size, index) || !bytesEqual(sha256(bytes), m.chunkHashes[index])) {
      await this.dropCorrupt(id, `chunk ${index}`)
    }
    // LevelDB hands back a Buffer: callers get a plain Uint8Array view (deepEqual, structured clone)
    return new Uint8Array(bytes!.buffer, bytes!.byteOffset, bytes!.byteLength)
  }

  /** The whole blob, every chunk verified and the whole checked against the id. */
  async get (id: string): Promise<Uint8Array> {
    const m = await this.manifest(id)
    if (m === undefined) throw new BlobError('BLOB_NOT_FOUND', 'no such blob in the store', { blob: id })
    const parts: Uint8Array[] = []
    for (let i = 0; i < m.chunkHashes.length; i++) parts.push(await this.readChunk(id, i, m))
    const whole = concatBytes(...parts)
    if (toHex(sha256(whole)) !== id) await this.dropCorrupt(id, 'whole')
    return whole
  }

  /** Stores `bytes` (or adds `tags` to the stored copy); returns the id. */
  async put (bytes: Uint8Array, options: PutOptions = {}): Promise<string> {
    const tags = options.tags ?? []
    for (const t of tags) assertTag(t)
    if (bytes.length > this.maxBlobBytes) throw new BlobError('BLOB_TOO_LARGE', `blob of ${bytes.length} bytes exceeds this store's maximum of ${this.maxBlobBytes}`, { size: bytes.length, max: this.maxBlobBytes })
    const m = buildManifest(bytes)
    const inFlight = this.writing.get(m.id)
    if (inFlight !== undefined) await inFlight.catch(() => undefined)
    if (await this.has(m.id)) {
      await this.tag(m.id, tags)
      return m.id
    }
    const w = await this.openWriter(m, { tags })
    try {
      for (let i = 0; i < m.chunkHashes.length; i += CHUNKS_PER_BATCH) {
        const last = Math.min(m.chunkHashes.length, i + CHUNKS_PER_BATCH)
        const batch = []
        for (let j = i; j < last; j++) batch.push(bytes.subarray(j * CHUNK_BYTES, (j + 1) * CHUNK_BYTES))
        await w.writeMany(batch)
      }
      await w.commit()
    } catch (err) {
      await w.abort()
      throw err
    }
    return m.id
  }

  /**
   * A writer for the blob `manifest` describes, chunks in order: reserves its size (BLOB_TOO_LARGE, BLOB_STORE_FULL),
   * marks the write pending (more than one chunk), and makes the blob visible only on `commit()`.
   */
  async openWriter (manifest: BlobManifest, options: PutOptions = {}): Promise<BlobWriter> {
    assertBlobId(manifest.id)
    const tags = options.tags ?? []
    for (const t of tags) assertTag(t)
    if (!this.running) throw new BlobError('BLOB_STORE_CLOSED', 'the blob store is not running')
    if (manifest.size > this.maxBlobBytes) throw new BlobError('BLOB_TOO_LARGE', `blob of ${manifest.size} bytes exceeds this store's maximum of ${this.maxBlobBytes}`, { blob: manifest.id, size: manifest.size, max: this.maxBlobBytes })
    if (this.writing.has(manifest.id)) throw new BlobError('BLOB_WRITE_IN_PROGRESS', 'this blob is being written', { blob: manifest.id })
    const full = (): boolean => this.used + this.reserved + manifest.size > this.maxStoreBytes || this.blobs + this.writing.size >= this.maxBlobCount
    if (full()) await this.sweep()
    if (full()) {
      throw new BlobError('BLOB_STORE_FULL', `the blob store is full (${this.used} + ${this.reserved} reserved of ${this.maxStoreBytes} bytes, ${this.blobs} + ${this.writing.size} of ${this.maxBlobCount} blobs); release settled tasks or raise the store's limits`, { blob: manifest.id, size: manifest.size })
    }
    let finish!: () => void
    this.writing.set(manifest.id, new Promise<void>(resolve => { finish = resolve }))
    this.reserved += manifest.size
    // one chunk: written with its manifest at the commit, in one batch; nothing half-written, so no pending marker
    const hold = chunkCount(manifest.size) === 1
    try {
      if (!hold) await this.c.db.put(pendingKey(manifest.id), u64Bytes(this.now()))
    } catch (err) {
      this.reserved -= manifest.size
      this.writing.delete(manifest.id)
      finish()
      throw err
    }
    return new BlobWriter(manifest, [...new Set(tags)], {
      db: this.c.db, hold,
      commit: async (m, t, held) => { await this.commitWrite(m, t, held) },
      abort: async (m) => { await this.deleteChunks(m.id); await this.c.db.del(pendingKey(m.id)) },
      done: (m) => { this.reserved -= m.size; this.writing.delete(m.id); finish() }
    })
  }

  /** Adds tags to a complete blob (a task announced after its inputs were uploaded). */
  async tag (id: string, tags: readonly string[]): Promise<void> {
    assertBlobId(id)
    for (const t of tags) assertTag(t)
    if (tags.length === 0) return
    await this.exclusive(async () => {
      if (await getValue(this.c.db, manifestKey(id)) === undefined) throw new BlobError('BLOB_NOT_FOUND', 'no such blob in the store', { blob: id })
      const live = this.unreleased(tags)
      if (live.length === 0) return
      const ops: WriteOp[] = [{ type: 'del', key: untaggedKey(id) }]
      for (const t of live) ops.push({ type: 'put', key: tagKey(t, id), value: PRESENT }, { type: 'put', key: tagOfBlobKey(id, t), value: PRESENT })
      await this.c.db.batch(ops)
    })
  }

  /** Whether `tag` holds the blob: one read, where `tags` opens an iterator. */
  async hasTag (id: string, tag: string): Promise<boolean> { assertBlobId(id); return await getValue(this.c.db, tagOfBlobKey(id, tag)) !== undefined }

  /** The tags holding a blob. */
  async tags (id: string): Promise<string[]> {
    assertBlobId(id)
    const out: string[] = []
    for await (const key of this.c.db.keys(tagsOfBlobRange(id))) out.push(keyTail(key))
    return out
  }

  /** Lets a released task tag blobs again (its announce, refused once, is submitted again; a write naming a released task is left untagged). */
  unrelease (taskId: string): void { assertTag(taskId); this.released.delete(taskId) }

  /** Drops `taskId`'s hold on its blobs and collects those no other task holds; returns how many were collected. */
  async release (taskId: string): Promise<number> {
    assertTag(taskId)
    // remembered and listed under the lock: a write committing meanwhile either is listed here or drops the tag
    const ids = await this.exclusive(async () => {
      this.released.add(taskId)
      const out: string[] = []
      for await (const key of this.c.db.keys(tagRange(taskId))) out.push(keyTail(key))
      return out
    })
    let collected = 0
    for (const id of ids) {
      const gone = await this.exclusive(async () => {
        await this.c.db.batch([{ type: 'del', key: tagKey(taskId, id) }, { type: 'del', key: tagOfBlobKey(id, taskId) }])
        for await (const _ of this.c.db.keys({ ...tagsOfBlobRange(id), limit: 1 })) return false
        return await this.collectLocked(id, 'released')
      })
      if (gone) collected++
    }
    return collected
  }

  /** Collects untagged blobs past their grace period; returns how many. */
  async sweep (): Promise<number> {
    const cutoff = this.now() - this.untaggedGraceMs
    const expired: string[] = []
    for await (const [key, value] of this.c.db.iterator(range(KEY_PREFIXES.blobs.untagged))) {
      if (readU64(value) <= cutoff) expired.push(keyRest(key))
    }
    let collected = 0
    for (const id of expired) {
      const gone = await this.exclusive(async () => {
        const since = await getValue(this.c.db, untaggedKey(id))
        if (since === undefined || readU64(since) > cutoff) return false
        return await this.collectLocked(id, 'expired')
      })
      if (gone) collected++
    }
    return collected
  }

  private async commitWrite (m: BlobManifest, requested: string[], held: readonly ChunkPut[]): Promise<void> {
    await this.exclusive(async () => {
      const tags = this.unreleased(requested)
      const now = this.now()
      const ops: WriteOp[] = [
        ...held,
        { type: 'put', key: manifestKey(m.id), value: concatBytes(u64Bytes(now), encodeManifest(m)) },
        { type: 'del', key: pendingKey(m.id) }
      ]
      if (tags.length === 0) ops.push({ type: 'put', key: untaggedKey(m.id), value: u64Bytes(now) })
      for (const t of tags) ops.push({ type: 'put', key: tagKey(t, m.id), value: PRESENT }, { type: 'put', key: tagOfBlobKey(m.id, t), value: PRESENT })
      // classic-level's `sync` (a sublevel passes its options to the root; abstract-level's types omit it)
      const options: AbstractBatchOptions<Uint8Array, Uint8Array> & { sync: boolean } = { sync: this.syncWrites }
      await this.c.db.batch(ops, options)
      this.used += m.size
      this.blobs++
      this.updateGauges()
    })
  }

  /** Removes a complete blob: one batch makes it invisible and leaves a dead marker; then its chunks go. */
  private async collectLocked (id: string, reason: 'released' | 'expired' | 'corrupt'): Promise<boolean> {
    const { db } = this.c
    const value = await getValue(db, manifestKey(id))
    if (value === undefined) return false
    let size = 0
    try { size = decodeManifest(id, value.subarray(8)).size } catch { /* an unreadable manifest is removed too */ }
    const ops: WriteOp[] = [
      { type: 'del', key: manifestKey(id) }, { type: 'del', key: untaggedKey(id) }, { type: 'put', key: deadKey(id), value: PRESENT }
    ]
    for await (const key of db.keys(tagsOfBlobRange(id))) {
      const t = keyTail(key)
      ops.push({ type: 'del', key }, { type: 'del', key: tagKey(t, id) })
    }
    await db.batch(ops)
    this.used -= size
    this.blobs--
    this.updateGauges()
    await this.deleteChunks(id)
    await db.del(deadKey(id))
    this.metrics.collected.inc({ reason })
    return true
  }

  /** The tags whose task has not been released lately. */
  private unreleased (tags: readonly string[]): string[] {
    return [...new Set(tags)].filter(t => !this.released.has(t))
  }

  private async dropCorrupt (id: string, where: string): Promise<never> {
    this.log.warn({ blob: id, where }, 'stored blob fails verification; removing it')
    await this.exclusive(async () => { await this.collectLocked(id, 'corrupt') })
    throw new BlobError('BLOB_CORRUPT', 'stored blob does not match its id; it was removed and must be fetched again', { blob: id, where })
  }

  private async deleteChunks (id: string): Promise<void> {
    const { db } = this.c
    let keys: Uint8Array[] = []
    for await (const key of db.keys(chunkRange(id))) {
      keys.push(key)
      if (keys.length >= DELETE_BATCH) { await db.batch(keys.map(k => ({ type: 'del' as const, key: k }))); keys = [] }
    }
    if (keys.length > 0) await db.batch(keys.map(k => ({ type: 'del' as const, key: k })))
  }

  private async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn)
    this.lock = run.then(() => undefined, () => undefined)
    return await run
  }

  private updateGauges (): void {
    this.metrics.storedBytes.set(this.used)
    this.metrics.storedBlobs.set(this.blobs)
  }
}
