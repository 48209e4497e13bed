import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Registry } from 'prom-client'
import type { Startable } from '../../core/lifecycle.ts'
import type { Logger } from '../../core/logger.ts'
import { PROTOCOLS } from '../../network/protocols.ts'
import { ClientSession, REQUESTS_IN_FLIGHT, toBlobError } from './client-session.ts'
import { BlobError, type BlobErrorCode, PEER_FAULT_CODES } from './errors.ts'
import { assertBlobId, type BlobManifest, encodeManifest } from './manifest.ts'
import { type BlobMetrics, createBlobMetrics } from './metrics.ts'
import {
  chunkFrame, decodeRequest, manifestFrame, MAX_CHUNKS_PER_REQUEST, MAX_REQUEST_FRAME_BYTES, MSG_GET_MANIFEST, STATUS_BAD_REQUEST, STATUS_BUSY,
  STATUS_NOT_FOUND, STATUS_UNAVAILABLE, statusFrame
} from './protocol.ts'
import type { BlobStore } from './store.ts'
import { Slots } from '../../core/slots.ts'

/** Requests one inbound stream may carry: a whole 1 GiB blob in 8-chunk requests, plus its manifest. */
const MAX_REQUESTS_PER_STREAM = 1 + 4096 / MAX_CHUNKS_PER_REQUEST
/** Peers `locate` asks at once. */
const LOCATE_WAVE = 4
/** Unread bytes a server stream may buffer: a few pipelined requests (39 bytes each); more is abuse. */
const SERVER_BUFFER_BYTES = 4096

export interface BlobServiceInit {
  /** Inbound blob streams served at once, all peers together; past it a stream is answered BUSY. @default 16 */
  maxConcurrentStreams?: number
  /** Inbound blob streams at once on one connection (libp2p resets the rest). @default 4 */
  maxStreamsPerPeer?: number
  /** Fetches this node runs at once; more wait their turn. @default 4 */
  maxConcurrentFetches?: number
  /** Time a peer has to answer one request (a manifest, or up to 8 chunks = 2 MiB). @default 10000 */
  requestTimeoutMs?: number
  /** Time the server waits for a client's next request, or for a client to take an answer. @default 10000 */
  serveIdleTimeoutMs?: number
}

export interface BlobServiceComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'handle' | 'unhandle'>
  store: BlobStore
  logger: Logger
  metricsRegistry?: Registry
  /**
   * Told when a peer served bad data (BLOB_PEER_BAD_DATA: a chunk or whole that does not match, a malformed
   * answer), so the caller can lower the peer's score or stop asking it.
   */
  onPeerFault?: (peer: PeerId, code: BlobErrorCode) => void
  /**
   * Whether blob `id` (of `size` bytes) is served to the peer of `connection` (market/envelope-access.ts: a private
   * task's sealed inputs go only to the validators and the task's awarded providers). Asked once per blob a stream
   * names; a refusal (or a failure to decide) is answered NOT_FOUND, as for a blob not held. @default every blob to
   * every peer
   */
  mayServe?: (id: string, connection: Connection, size: number) => Promise<boolean>
}

export interface FetchOptions {
  /** Task ids to tag the stored blob with (BlobStore.release). */
  tags?: readonly string[]
  signal?: AbortSignal
}

/**
 * `/harmony/blob/1.0.0`: serves the store's complete blobs to peers and fetches blobs from peers into it.
 *
 * Access: a peer may fetch any blob it names by id, but for those `mayServe` withholds. Public task inputs and
 * results are public by design. A private task's payloads are sealed (seal.ts) to one recipient's ML-KEM-768 key
 * before they are stored; its inputs, sealed to a key per task that an input claim may reveal (s44), are withheld
 * from every peer but the validators and the task's providers, so that no stranger holds ciphertext a revealed key
 * would open. The server bounds every frame, the streams per peer and in total, and the time it waits for each
 * request.
 */
export class BlobService implements Startable {
  private readonly c: BlobServiceComponents
  private readonly log: Logger
  private readonly metrics: BlobMetrics
  private readonly maxConcurrentStreams: number
  private readonly maxStreamsPerPeer: number
  private readonly requestTimeoutMs: number
  private readonly serveIdleTimeoutMs: number
  private readonly fetchSlots: Slots
  private abort = new AbortController()
  private serving = 0
  /** id -> the fetch under way, so concurrent fetches of one blob share a download */
  private readonly fetching = new Map<string, Promise<string>>()

  constructor (components: BlobServiceComponents, init: BlobServiceInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'blob' })
    this.metrics = createBlobMetrics(components.metricsRegistry)
    this.maxConcurrentStreams = init.maxConcurrentStreams ?? 16
    this.maxStreamsPerPeer = init.maxStreamsPerPeer ?? 4
    this.requestTimeoutMs = init.requestTimeoutMs ?? 10_000
    this.serveIdleTimeoutMs = init.serveIdleTimeoutMs ?? 10_000
    this.fetchSlots = new Slots(init.maxConcurrentFetches ?? 4)
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    await this.c.libp2p.handle(PROTOCOLS.blob, (stream, connection) => { void this.serve(stream, connection) }, { maxInboundStreams: this.maxStreamsPerPeer, maxOutboundStreams: 8 })
  }

  async stop (): Promise<void> {
    this.abort.abort()
    await this.c.libp2p.unhandle(PROTOCOLS.blob)
    await Promise.allSettled([...this.fetching.values()])
  }

  /** Inbound streams being served now. */
  get activeStreams (): number { return this.serving }

  /**
   * Fetches blob `id` from `peer` into the store (or tags the copy already there) and returns the id. Every chunk is
   * checked against the manifest as it arrives and the whole against the id before the blob becomes visible.
   * Errors: BLOB_NOT_FOUND, BLOB_TOO_LARGE, BLOB_STORE_FULL, BLOB_PEER_BAD_DATA (reported), BLOB_PEER_BUSY,
   * BLOB_TIMEOUT, BLOB_UNAVAILABLE.
   */
  async fetch (peer: PeerId, id: string, options: FetchOptions = {}): Promise<string> {
    assertBlobId(id)
    const tags = options.tags ?? []
    // one fetch of a blob at a time: the others wait for it, then find the blob held (and only tag it)
    for (let running = this.fetching.get(id); running !== undefined; running = this.fetching.get(id)) {
      await running.catch(() => undefined)
    }
    const p = (async () => {
      if (await this.c.store.has(id)) {
        await this.c.store.tag(id, tags)
        this.metrics.fetches.inc({ outcome: 'local' })
        return id
      }
      return await this.fetchSlots.run(async () => await this.download(peer, id, tags, options.signal))
    })()
    this.fetching.set(id, p)
    try {
      return await p
    } finally {
      if (this.fetching.get(id) === p) this.fetching.delete(id)
    }
  }

  /**
   * The first of `peers` found holding blob `id` (asked for its manifest, LOCATE_WAVE peers at once, the rest of a
   * wave cancelled once one has it), or undefined when none answered that it has it. Asking one peer after
   * another cost a stream round trip per peer without the blob: a provider's 256-byte input took 0.5–1.9 s to
   * fetch on a loaded 5-node devnet (bench:market at saturation).
   */
  async locate (peers: readonly PeerId[], id: string, signal?: AbortSignal): Promise<PeerId | undefined> {
    assertBlobId(id)
    for (let i = 0; i < peers.length && signal?.aborted !== true; i += LOCATE_WAVE) {
      const found = new AbortController()
      const asked = AbortSignal.any([found.signal, ...(signal === undefined ? [] : [signal])])
      const holder = await Promise.any(peers.slice(i, i + LOCATE_WAVE).map(async (peer) => {
        await this.session(peer, asked, async (s) => await s.manifest(id))
        found.abort()
        return peer
      })).catch(() => undefined)
      if (holder !== undefined) return holder
    }
    return undefined
  }

  /**
   * Chunks `first .. first+count-1` of blob `id` from `peer`, each checked against `manifest` (pass one from a
   * trusted source or a verified copy; without it the peer's own manifest is used, which binds to the id only
   * once the whole blob is checked). Nothing is stored.
   */
  async fetchRange (peer: PeerId, id: string, first: number, count: number, manifest?: BlobManifest, signal?: AbortSignal): Promise<Uint8Array[]> {
    assertBlobId(id)
    return await this.session(peer, signal, async (s) => {
      const m = manifest ?? await s.manifest(id)
      if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 1 || first + count > m.chunkHashes.length) {
        throw new BlobError('BLOB_NOT_FOUND', 'chunk range outside the blob', { blob: id, first, count })
      }
      const out: Uint8Array[] = []
      for (let i = first; i < first + count; i += MAX_CHUNKS_PER_REQUEST) {
        out.push(...await s.chunks(m, i, Math.min(MAX_CHUNKS_PER_REQUEST, first + count - i)))
      }
      return out
    })
  }

  private async download (peer: PeerId, id: string, tags: readonly string[], signal?: AbortSignal): Promise<string> {
    const { store } = this.c
    try {
      await this.session(peer, signal, async (s) => {
        const m = await s.manifest(id)
        if (m.size > store.maxBlobBytes) throw new BlobError('BLOB_TOO_LARGE', `peer's blob of ${m.size} bytes exceeds this node's maximum of ${store.maxBlobBytes}`, { blob: id, size: m.size })
        const w = await store.openWriter(m, { tags })
        try {
          const ranges: Array<[number, number]> = []
          for (let i = 0; i < m.chunkHashes.length; i += MAX_CHUNKS_PER_REQUEST) ranges.push([i, Math.min(MAX_CHUNKS_PER_REQUEST, m.chunkHashes.length - i)])
          for (let r = 0; r < Math.min(REQUESTS_IN_FLIGHT, ranges.length); r++) await s.ask(m, ...ranges[r])
          for (let r = 0; r < ranges.length; r++) {
            const chunks = await s.receive(m, ...ranges[r])
            if (r + REQUESTS_IN_FLIGHT < ranges.length) await s.ask(m, ...ranges[r + REQUESTS_IN_FLIGHT])
            await w.writeMany(chunks)
            this.metrics.fetchedBytes.inc(chunks.reduce((n, c) => n + c.length, 0))
          }
          await w.commit()
        } catch (err) {
          await w.abort()
          // the chunks matched the peer's manifest but the whole is not the id: the manifest was forged
          if (err instanceof BlobError && err.code === 'BLOB_CORRUPT') throw new BlobError('BLOB_PEER_BAD_DATA', 'peer served a blob that does not hash to its id', { blob: id })
          throw err
        }
      })
      this.metrics.fetches.inc({ outcome: 'ok' })
      return id
    } catch (err) {
      if (err instanceof BlobError) this.metrics.fetches.inc({ outcome: err.code })
      throw err
    }
  }

  /** Runs `fn` over one stream to `peer`; maps failures to typed errors and reports peers that served bad data. */
  private async session<T> (peer: PeerId, signal: AbortSignal | undefined, fn: (s: ClientSession) => Promise<T>): Promise<T> {
    const signals = [this.abort.signal, ...(signal === undefined ? [] : [signal])]
    let stream: Stream | undefined
    const dialDeadline = AbortSignal.timeout(this.requestTimeoutMs)
    let s: ClientSession | undefined
    try {
      stream = await this.c.libp2p.dialProtocol(peer, PROTOCOLS.blob, { signal: AbortSignal.any([...signals, dialDeadline]) })
      s = new ClientSession(stream, signals, this.requestTimeoutMs)
      const out = await fn(s)
      await stream.close({ signal: AbortSignal.any([...signals, AbortSignal.timeout(this.requestTimeoutMs)]) }).catch(() => undefined)
      return out
    } catch (err) {
      stream?.abort(err instanceof Error ? err : new Error(String(err)))
      const timedOut = s === undefined ? dialDeadline.aborted : s.timedOut
      const typed = toBlobError(err, peer, timedOut && signals.every(x => !x.aborted))
      if (PEER_FAULT_CODES.has(typed.code)) {
        this.log.debug({ peer: peer.toString(), code: typed.code }, 'peer served bad blob data')
        this.c.onPeerFault?.(peer, typed.code)
      }
      throw typed
    }
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_FRAME_BYTES, maxBufferSize: SERVER_BUFFER_BYTES })
    const signal = (): AbortSignal => AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.serveIdleTimeoutMs)])
    if (this.serving >= this.maxConcurrentStreams) {
      this.metrics.serveRefused.inc({ reason: 'busy' })
      await lp.write(statusFrame(STATUS_BUSY), { signal: signal() }).catch(() => undefined)
      await stream.close({ signal: signal() }).catch(() => { stream.abort(new Error('busy')) })
      return
    }
    this.serving++
    this.metrics.serveStreams.set(this.serving)
    // mayServe's answer for each blob this stream named (at most MAX_REQUESTS_PER_STREAM)
    const decided = new Map<string, boolean>()
    const mayServe = async (id: string, size: number): Promise<boolean> => {
      if (this.c.mayServe === undefined) return true
      let ok = decided.get(id)
      if (ok === undefined) {
        ok = await this.c.mayServe(id, connection, size).catch((err: unknown) => {
          this.log.debug({ err, blob: id }, 'could not decide whether to serve a blob: withheld')
          return false
        })
        decided.set(id, ok)
        if (!ok) this.log.debug({ peer: connection.remotePeer.toString(), blob: id }, 'blob withheld from a peer (answered not found)')
      }
      return ok
    }
    try {
      for (let n = 0; n < MAX_REQUESTS_PER_STREAM; n++) {
        let frame: Uint8Array
        try {
          frame = (await lp.read({ signal: signal() })).subarray()
        } catch (err) {
          // the client closing its side after its last request is the normal end of a stream
          if (err instanceof Error && err.name === 'UnexpectedEOFError') break
          throw err
        }
        if (!await this.answer(lp, frame, signal, mayServe)) break
      }
      await stream.close({ signal: signal() }).catch(() => undefined)
    } catch (err) {
      this.log.debug({ err }, 'blob stream failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.serving--
      this.metrics.serveStreams.set(this.serving)
    }
  }

  /** Answers one request; false ends the stream (bad request, or the blob failed verification). */
  private async answer (lp: LengthPrefixedStream, frame: Uint8Array, signal: () => AbortSignal, mayServe: (id: string, size: number) => Promise<boolean>): Promise<boolean> {
    const { store } = this.c
    let req
    try {
      req = decodeRequest(frame)
    } catch {
      this.metrics.serveRefused.inc({ reason: 'bad-request' })
      await lp.write(statusFrame(STATUS_BAD_REQUEST), { signal: signal() })
      return false
    }
    const m = await store.manifest(req.id)
    if (m === undefined) {
      await lp.write(statusFrame(STATUS_NOT_FOUND), { signal: signal() })
      return true
    }
    if (!await mayServe(req.id, m.size)) {
      // the same answer as for a blob not held: a peer refused learns nothing about what this node holds
      this.metrics.serveRefused.inc({ reason: 'withheld' })
      await lp.write(statusFrame(STATUS_NOT_FOUND), { signal: signal() })
      return true
    }
    if (req.type === MSG_GET_MANIFEST) {
      await lp.write(manifestFrame(encodeManifest(m)), { signal: signal() })
      return true
    }
    if (req.first + req.count > m.chunkHashes.length) {
      await lp.write(statusFrame(STATUS_NOT_FOUND), { signal: signal() })
      return true
    }
    for (let i = req.first; i < req.first + req.count; i++) {
      let chunk: Uint8Array
      try {
        chunk = await store.readChunk(req.id, i, m)
      } catch (err) {
        // a copy that fails verification is never served (the store removed it)
        this.log.debug({ err, blob: req.id }, 'blob not served')
        await lp.write(statusFrame(err instanceof BlobError && err.code === 'BLOB_NOT_FOUND' ? STATUS_NOT_FOUND : STATUS_UNAVAILABLE), { signal: signal() })
        return false
      }
      await lp.write(chunkFrame(i, chunk), { signal: signal() })
      this.metrics.servedBytes.inc(chunk.length)
    }
    return true
  }
}
