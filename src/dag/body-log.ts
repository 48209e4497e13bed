import { closeSync, fdatasync, fdatasyncSync, mkdirSync, openSync, readdirSync, unlinkSync, writeSync } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { crc32 } from 'node:zlib'
import { Reader, Writer } from '../core/codec.ts'

/**
 * Vertex bodies in append-only segment files beside the LevelDB, which keeps only a 20-byte reference per vertex
 * (geth keeps finalized blocks in its "freezer" for the same reason). A body is written once and never changes;
 * in LevelDB every byte of it was also written to the log, flushed to a table and rewritten by each compaction
 * that moved it down a level, with a CRC and snappy over each copy: measured (`npm run bench:vertex-store`) ~5 bytes
 * written to disk per body byte, against ~1 here, and about a millisecond of CPU per 143 KB vertex.
 *
 * Crash safety: a body is appended before the batch that records its reference commits, so a reference on disk
 * always points at bytes the OS has (kill -9 loses neither). `sync()` (fdatasync) runs before every batch committed
 * with fsync, so a reference made durable by one names a durable body (power loss). A body appended by a batch
 * that never committed is dead space, removed with its segment. Each reference carries the body's CRC-32: a read
 * that comes back short or different answers "no body" instead of handing out bytes that are not the vertex.
 *
 * Segments are `seg-NNNNNNNN.bin`, at most `maxSegmentBytes` each (a body larger than that gets a segment of its
 * own). A start never appends to an old segment: it opens the next number, so a torn tail is never written after.
 * `collect` deletes the segments no reference names (after pruning, or after a resync cleared the references).
 */

export const BODY_REF_BYTES = 20
const fdatasyncAsync = promisify(fdatasync)
const NAME = /^seg-(\d{8})\.bin$/
const nameOf = (n: number): string => `seg-${String(n).padStart(8, '0')}.bin`

export interface BodyRef { segment: number, offset: number, length: number, crc: number }

export function encodeBodyRef (r: BodyRef): Uint8Array {
  return new Writer(BODY_REF_BYTES).u32(r.segment).u64(BigInt(r.offset)).u32(r.length).u32(r.crc).finish()
}

export function decodeBodyRef (bytes: Uint8Array): BodyRef {
  const r = new Reader(bytes, 'vertex body reference')
  const segment = r.u32()
  const offset = r.u64()
  const length = r.u32()
  const crc = r.u32()
  r.end()
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) r.fail('offset out of range')
  return { segment, offset: Number(offset), length, crc }
}

export interface BodyLogInit {
  /** A segment is closed and the next opened once it would pass this size. @default 64 MiB */
  maxSegmentBytes?: number
  /** Segments kept open for reads (least recently read closed first). @default 16 */
  maxOpenSegments?: number
}

interface ReadHandle { handle: Promise<FileHandle>, users: number, evicted: boolean }

export class VertexBodyLog {
  readonly dir: string
  private readonly maxSegmentBytes: number
  private readonly maxOpen: number
  private next: number
  private active: { n: number, fd: number, size: number } | undefined
  private unsynced = false
  /** fdatasync calls in flight, and the closed segments' fds they may still be using (closed when they end) */
  private syncing = 0
  private readonly closeAfterSync: number[] = []
  /** open read handles by segment, least recently used first */
  private readonly readers = new Map<number, ReadHandle>()

  constructor (dir: string, init: BodyLogInit = {}) {
    this.dir = dir
    this.maxSegmentBytes = init.maxSegmentBytes ?? 64 * 1024 * 1024
    this.maxOpen = Math.max(1, init.maxOpenSegments ?? 16)
    mkdirSync(dir, { recursive: true })
    this.next = Math.max(0, ...this.segments()) + 1
  }

  /** Segment numbers on disk. */
  segments (): number[] {
    return readdirSync(this.dir).flatMap(f => { const m = NAME.exec(f); return m === null ? [] : [Number(m[1])] })
  }

  /** Appends `body` to the active segment; returns the reference to store in the same batch as the vertex. */
  append (body: Uint8Array): Uint8Array {
    if (this.active === undefined || (this.active.size > 0 && this.active.size + body.length > this.maxSegmentBytes)) this.rotate()
    const a = this.active as { n: number, fd: number, size: number }
    let done = 0
    while (done < body.length) done += writeSync(a.fd, body, done, body.length - done, a.size + done)
    const ref = encodeBodyRef({ segment: a.n, offset: a.size, length: body.length, crc: crc32(body) })
    a.size += body.length
    this.unsynced = true
    return ref
  }

  /**
   * Makes every body appended before the call durable: awaited before a batch committed with fsync may reference
   * them. On the thread pool, as LevelDB's own fsync is: the event loop goes on (an append meanwhile is made durable
   * by the next call). A rotation fsyncs the segment it closes, so only the active one can be behind.
   */
  async sync (): Promise<void> {
    const a = this.active
    if (!this.unsynced || a === undefined) return
    this.unsynced = false
    this.syncing++
    try {
      await fdatasyncAsync(a.fd)
    } catch (err) {
      this.unsynced = true
      throw err
    } finally {
      if (--this.syncing === 0) for (const fd of this.closeAfterSync.splice(0)) closeSync(fd)
    }
  }

  /** The body `ref` names; undefined when its segment is gone or the bytes are short or not the ones written. */
  async read (refBytes: Uint8Array): Promise<Uint8Array | undefined> {
    const ref = decodeBodyRef(refBytes)
    const h = this.reader(ref.segment)
    h.users++
    try {
      const fh = await h.handle
      const out = new Uint8Array(ref.length)
      let got = 0
      while (got < ref.length) {
        const { bytesRead } = await fh.read(out, got, ref.length - got, ref.offset + got)
        if (bytesRead === 0) return undefined
        got += bytesRead
      }
      return crc32(out) === ref.crc ? out : undefined
    } catch {
      return undefined
    } finally {
      h.users--
      if (h.evicted && h.users === 0) void h.handle.then(async fh => { await fh.close() }, () => undefined)
    }
  }

  /** Deletes every segment that no reference in `live` names, except the one being appended to. Returns how many. */
  collect (live: ReadonlySet<number>): number {
    let removed = 0
    for (const n of this.segments()) {
      if (live.has(n) || n === this.active?.n) continue
      const h = this.readers.get(n)
      if (h !== undefined) { this.readers.delete(n); this.evict(h) }
      unlinkSync(join(this.dir, nameOf(n)))
      removed++
    }
    return removed
  }

  /** Closes every file (made durable first); a later append opens a new segment, a later read reopens its own. */
  async close (): Promise<void> {
    if (this.active !== undefined) {
      if (this.unsynced) fdatasyncSync(this.active.fd)
      if (this.syncing > 0) this.closeAfterSync.push(this.active.fd)
      else closeSync(this.active.fd)
      this.active = undefined
    }
    const open = [...this.readers.values()]
    this.readers.clear()
    await Promise.all(open.map(async h => { await (await h.handle.catch(() => undefined))?.close() }))
  }

  private rotate (): void {
    if (this.active !== undefined) {
      // the closed segment is made durable once: `sync` only ever needs the active one
      if (this.unsynced) fdatasyncSync(this.active.fd)
      if (this.syncing > 0) this.closeAfterSync.push(this.active.fd)
      else closeSync(this.active.fd)
    }
    const n = this.next++
    this.active = { n, fd: openSync(join(this.dir, nameOf(n)), 'wx'), size: 0 }
    this.unsynced = false
  }

  private reader (n: number): ReadHandle {
    let h = this.readers.get(n)
    if (h !== undefined) { this.readers.delete(n); this.readers.set(n, h); return h }
    h = { handle: open(join(this.dir, nameOf(n)), 'r'), users: 0, evicted: false }
    h.handle.catch(() => undefined)
    this.readers.set(n, h)
    if (this.readers.size > this.maxOpen) {
      const [oldest, first] = this.readers.entries().next().value as [number, ReadHandle]
      this.readers.delete(oldest)
      this.evict(first)
    }
    // a segment that failed to open is not kept: the next read tries again
    h.handle.catch(() => { if (this.readers.get(n) === h) this.readers.delete(n) })
    return h
  }

  private evict (h: ReadHandle): void {
    h.evicted = true
    if (h.users === 0) void h.handle.then(async fh => { await fh.close() }, () => undefined)
  }
}
