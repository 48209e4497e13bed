import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Logger } from '../../core/logger.ts'
import type { Startable } from '../../core/lifecycle.ts'
import { PROTOCOLS } from '../../network/protocols.ts'
import { Reader, Writer } from '../../core/codec.ts'
import { DagError } from '../errors.ts'
import type { DagLedger } from '../ledger.ts'
import { MAX_VERTEX_BYTES, type VertexInfo, vertexInfo } from '../vertex.ts'
import { idListBytes, readIdList, writeIdList } from './id-list.ts'
import { QueryChannelClient, serveQueryChannel } from './query-channel.ts'
import { MAX_IDS_PER_REQUEST } from './request.ts'
import { Slots } from '../../core/slots.ts'

// Request types (first byte of a sync request; 3 is the first frame of a channel).
const MSG_GET_VERTICES = 1
const MSG_GET_TIPS = 2
const MSG_SYNC_CHANNEL = 3
const MAX_TIPS = 256
/**
 * An answer stops adding vertices past this size (always at least one): a full 16-vertex answer could be 16 MiB,
 * which under load took longer than the request timeout, so the walk failed and restarted from nothing.
 */
const ANSWER_BUDGET_BYTES = 2 * 1024 * 1024
const MAX_ANSWER_FRAME_BYTES = ANSWER_BUDGET_BYTES + MAX_VERTEX_BYTES + 64
const MAX_REQUEST_FRAME_BYTES = 4 + 1 + idListBytes(MAX_IDS_PER_REQUEST, 'u16')
/** Requests in flight to one peer on its channel: 2 keep the pipe busy while the previous answer is checked. */
const REQUESTS_PER_PEER = 2
/** Catch-up walks at once (each may hold up to maxFetchPerWalk vertices); more callers join or are refused. */
const MAX_CONCURRENT_WALKS = 2
/** Channels kept open (one per peer). */
const MAX_CHANNELS = 256

export interface DagSyncInit {
  /** Time a peer has to answer a sync request. @default 5000 */
  requestTimeoutMs?: number
  /** Time this node has to answer a request (a GET_VERTICES reads up to 16 vertices from disk). @default 4500 */
  serveTimeoutMs?: number
  /** Vertices fetched in one catch-up walk (and checked vertices kept for the next walk after a failure). @default 20000 */
  maxFetchPerWalk?: number
}

export interface DagSyncComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'handle' | 'unhandle'>
  ledger: Pick<DagLedger, 'knowsVertex' | 'genesisIdHex' | 'getVertexBytes' | 'tips' | 'checkStandalone' | 'insertVertex'>
  logger: Logger
}

/** Ancestors this node lacks were pruned by the peer it asked (DagSync.historyGap). */
export interface HistoryGap {
  /** the peer whose answer said so last */
  peer: string
  /** one of the pruned ancestors */
  vertex: string
  /** when the gap was first found (ms since the epoch) */
  sinceMs: number
}

/**
 * `/harmony/dag/sync/3.0.0`: the server answers vertices by id (and which of them it pruned) and its tips; the
 * client walks a peer's unknown ancestors (bounded), checks each vertex fully and inserts them parents first.
 *
 * Catch-up under load (issue 9: a restarted node stayed thousands of transactions behind, its log full of closed
 * streams, timeouts and "TooManyOutboundProtocolStreams 65/64"): requests to a peer go over one long-lived
 * channel (as the Avalanche queries do), at most REQUESTS_PER_PEER at a time; at most MAX_CONCURRENT_WALKS walks
 * run, and a walk asked for while one runs for the same peer joins it; answers are size-bounded; and vertices a
 * failed walk had already fetched and checked are kept (bounded) so the next walk continues instead of restarting.
 */
export class DagSync implements Startable {
  private readonly c: DagSyncComponents
  private readonly log: Logger
  private readonly requestTimeoutMs: number
  private readonly serveTimeoutMs: number
  private readonly maxFetchPerWalk: number
  private abort = new AbortController()
  private running = false
  private readonly channels = new Map<string, Promise<{ channel: QueryChannelClient, slots: Slots }>>()
  private readonly walks = new Slots(MAX_CONCURRENT_WALKS)
  private walksWaiting = 0
  /** peer -> the walk running for it: its ids so far, and its end */
  private readonly peerWalks = new Map<string, { ids: Set<string>, done: Promise<number> }>()
  /** fetched and checked, not yet inserted (parents missing): kept across walks, bounded */
  private readonly fetchedPool = new Map<string, VertexInfo>()
  /** a walk found ancestors its peer had pruned (cleared once this node has them: closeGap) */
  private gap: HistoryGap | undefined

  constructor (components: DagSyncComponents, init: DagSyncInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'dag-sync' })
    this.requestTimeoutMs = init.requestTimeoutMs ?? 5000
    this.serveTimeoutMs = init.serveTimeoutMs ?? 4500
    this.maxFetchPerWalk = init.maxFetchPerWalk ?? 20000
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    this.running = true
    await this.c.libp2p.handle(PROTOCOLS.dagSync, (stream) => { void this.serve(stream) }, { maxInboundStreams: 64 })
  }

  async stop (): Promise<void> {
    this.running = false
    this.abort.abort()
    for (const opening of this.channels.values()) void opening.then(o => { o.channel.close() }, () => undefined)
    this.channels.clear()
    this.fetchedPool.clear()
    await this.c.libp2p.unhandle(PROTOCOLS.dagSync)
  }

  private async serve (stream: Stream): Promise<void> {
    await serveQueryChannel(stream, { hello: MSG_SYNC_CHANNEL, maxFrameBytes: MAX_REQUEST_FRAME_BYTES, helloTimeoutMs: this.serveTimeoutMs, onError: (err) => { this.log.debug({ err }, 'sync stream failed') } }, async (body) => await this.answer(body), this.abort.signal)
  }

  private async answer (req: Uint8Array): Promise<Uint8Array> {
    const { ledger } = this.c
    const r = new Reader(req, 'sync request')
    const type = r.u8()
    if (type === MSG_GET_TIPS) {
      r.end()
      const tips = ledger.tips().slice(0, MAX_TIPS)
      return writeIdList(new Writer(idListBytes(tips.length, 'u16')), tips, 'u16').finish()
    }
    if (type !== MSG_GET_VERTICES) r.fail('unknown request type')
    const ids = readIdList(r, 'u16', MAX_IDS_PER_REQUEST)
    r.end()
    const found: Uint8Array[] = []
    const pruned: string[] = []
    let bytes = 0
    for (const id of ids) {
      if (found.length > 0 && bytes >= ANSWER_BUDGET_BYTES) break
      const b = await ledger.getVertexBytes(id)
      if (b !== undefined) { found.push(b); bytes += b.length } else if (await ledger.knowsVertex(id)) pruned.push(id)
    }
    const w = new Writer(1024).u16(found.length)
    for (const b of found) w.varBytes(b)
    // known here without a body: pruned below an anchored checkpoint, or below the cut this node synced from
    return writeIdList(w, pruned, 'u16').finish()
  }

  /** One request to `peer` on its channel (opened on first use, again after it closed), bounded per peer. */
  private async request (peer: PeerId, body: Uint8Array): Promise<Uint8Array> {
    const { channel, slots } = await this.channelTo(peer)
    return await slots.run(async () => await channel.request(body, this.requestTimeoutMs))
  }

  /** The peer's channel; concurrent first users share one dial, so a peer gets one stream. */
  private async channelTo (peer: PeerId): Promise<{ channel: QueryChannelClient, slots: Slots }> {
    const key = peer.toString()
    const existing = this.channels.get(key)
    if (existing !== undefined) {
      const open = await existing
      if (!open.channel.closed) return open
      if (this.channels.get(key) === existing) this.channels.delete(key)
    }
    const again = this.channels.get(key)
    if (again !== undefined) return await again
    const opening = (async () => {
      const stream = await this.c.libp2p.dialProtocol(peer, PROTOCOLS.dagSync, { signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.requestTimeoutMs)]) })
      return { channel: new QueryChannelClient(stream, new Uint8Array([MSG_SYNC_CHANNEL]), MAX_ANSWER_FRAME_BYTES), slots: new Slots(REQUESTS_PER_PEER) }
    })()
    if (this.channels.size >= MAX_CHANNELS) {
      const [oldestKey, oldest] = this.channels.entries().next().value as [string, Promise<{ channel: QueryChannelClient }>]
      this.channels.delete(oldestKey)
      void oldest.then(o => { o.channel.close() }, () => undefined)
    }
    this.channels.set(key, opening)
    try {
      return await opening
    } catch (err) {
      if (this.channels.get(key) === opening) this.channels.delete(key)
      throw err
    }
  }

  /**
   * Asks for `ids`; returns what the peer sent (possibly fewer: size-bounded answers, or unknown ids) and the ids it
   * knows but holds no body of (`pruned`).
   */
  private async getVertices (peer: PeerId, ids: string[]): Promise<{ got: VertexInfo[], pruned: string[] }> {
    const body = writeIdList(new Writer(1 + idListBytes(ids.length, 'u16')).u8(MSG_GET_VERTICES), ids, 'u16').finish()
    const res = await this.request(peer, body)
    const r = new Reader(res, 'sync response')
    const n = r.u16()
    if (n > ids.length) r.fail('more vertices than requested')
    const want = new Set(ids)
    const got: VertexInfo[] = []
    for (let i = 0; i < n; i++) {
      const info = vertexInfo(r.varBytes(MAX_VERTEX_BYTES))
      if (!want.has(info.idHex)) throw new DagError('PROTOCOL_ERROR', 'peer sent a vertex that was not requested')
      want.delete(info.idHex)
      got.push(info)
    }
    const pruned = readIdList(r, 'u16', ids.length)
    r.end()
    for (const id of pruned) {
      if (!want.has(id)) throw new DagError('PROTOCOL_ERROR', 'peer says it pruned a vertex that was not requested, or sent it too')
      want.delete(id)
    }
    return { got, pruned }
  }

  private async getTips (peer: PeerId): Promise<string[]> {
    const res = await this.request(peer, new Uint8Array([MSG_GET_TIPS]))
    const r = new Reader(res, 'tips response')
    const tips = readIdList(r, 'u16', MAX_TIPS)
    r.end()
    return tips
  }

  /**
   * Fetches `ids` and their unknown ancestors from `peer` (bounded), checks each vertex fully, and inserts them
   * parents first. A vertex that fails its checks aborts the walk with that error. A call while a walk for the same
   * peer runs adds its ids to that walk's next one instead of starting another; when every walk slot is taken and
   * others wait, it is refused with QUEUE_FULL (anti-entropy asks again later).
   */
  async fetchMissing (peer: PeerId, ids: string[]): Promise<number> {
    const { ledger } = this.c
    const want: string[] = []
    for (const id of ids) if (!await ledger.knowsVertex(id)) want.push(id)
    if (want.length === 0) return 0
    const key = peer.toString()
    const running = this.peerWalks.get(key)
    if (running !== undefined && want.every(id => running.ids.has(id))) return await running.done
    if (this.walksWaiting >= MAX_CONCURRENT_WALKS) throw new DagError('QUEUE_FULL', 'catch-up walks are all busy')
    this.walksWaiting++
    const entry = { ids: new Set(want), done: Promise.resolve(0) }
    entry.done = this.walks.run(async () => {
      this.walksWaiting--
      if (this.peerWalks.get(key) === undefined) this.peerWalks.set(key, entry)
      try {
        return await this.walk(peer, [...entry.ids])
      } finally {
        if (this.peerWalks.get(key) === entry) this.peerWalks.delete(key)
      }
    })
    return await entry.done
  }

  private async walk (peer: PeerId, ids: string[]): Promise<number> {
    const { ledger } = this.c
    const fetched = new Map<string, VertexInfo>()
    const known = async (id: string): Promise<boolean> => fetched.has(id) || await ledger.knowsVertex(id)
    /** ancestors the peer knows but pruned */
    const gone = new Set<string>()
    let queue: string[] = []
    for (const id of new Set(ids)) if (!await known(id)) queue.push(id)
    try {
      while (queue.length > 0 && this.running) {
        if (fetched.size + queue.length > this.maxFetchPerWalk) throw new DagError('QUEUE_FULL', 'catch-up walk exceeds its bound')
        const next: string[] = []
        const take = async (info: VertexInfo): Promise<void> => {
          fetched.set(info.idHex, info)
          for (const p of info.parentHex) if (!await known(p)) next.push(p)
        }
        // vertices a failed walk already fetched and checked are not asked for again
        const ask: string[] = []
        for (const id of queue) {
          const pooled = this.fetchedPool.get(id)
          if (pooled !== undefined) await take(pooled)
          else ask.push(id)
        }
        let rest = ask
        while (rest.length > 0) {
          const batch = rest.slice(0, MAX_IDS_PER_REQUEST)
          const { got, pruned } = await this.getVertices(peer, batch)
          // answers are size-bounded, so fewer may come: ask again for the rest; nothing at all means the peer
          // does not have them (every round fetches or rules out at least one, so this ends)
          if (got.length === 0 && pruned.length === 0) throw new DagError('PARENT_MISSING', 'peer does not have the requested ancestors')
          await Promise.all(got.map(async info => await ledger.checkStandalone(info)))
          for (const info of got) { await take(info); this.pool(info) }
          for (const id of pruned) gone.add(id)
          rest = rest.filter(id => !fetched.has(id) && !gone.has(id))
        }
        queue = [...new Set(next)].filter(id => !fetched.has(id) && !gone.has(id))
      }
    } finally {
      // whatever is complete down to known vertices goes in, even when the walk failed further back
      await this.insertReady(fetched)
    }
    // (another walk, from a peer that keeps that history, may have brought them meanwhile)
    for (const id of gone) if (await ledger.knowsVertex(id)) gone.delete(id)
    if (gone.size > 0) {
      // the peer pruned ancestors this node lacks: no walk from it can ever complete them
      const [example] = gone
      const err = new DagError('HISTORY_PRUNED', `peer ${peer.toString()} pruned ${gone.size} ancestor(s) this node lacks (e.g. ${example}), below its last anchored checkpoint: this node cannot catch up from it; start it again from the checkpoint (harmonyd start --state-sync --resync)`)
      if (this.gap === undefined) this.log.warn({ err }, 'history gap: this node is behind what its peers keep')
      this.gap = { peer: peer.toString(), vertex: example, sinceMs: this.gap?.sinceMs ?? Date.now() }
      throw err
    }
    this.closeGap(peer)
    let inserted = 0
    for (const id of fetched.keys()) if (await ledger.knowsVertex(id)) inserted++
    return inserted
  }

  private pool (info: VertexInfo): void {
    if (this.fetchedPool.has(info.idHex)) return
    if (this.fetchedPool.size >= this.maxFetchPerWalk) {
      const first = this.fetchedPool.keys().next()
      if (first.done !== true) this.fetchedPool.delete(first.value)
    }
    this.fetchedPool.set(info.idHex, info)
  }

  /**
   * Inserts, parents first, every fetched vertex whose ancestry is known, in one pass (Kahn's order): each vertex
   * waits for its fetched parents, and a parent outside the fetched set is looked up once. The pass used to rescan
   * every pending vertex after each layer, O(n × depth) lookups: a restarted node's 500-vertex catch-up under load
   * held both walk slots for over a minute, and with them every query's fetch (CI: a kill -9 campaign that never
   * converged).
   */
  private async insertReady (fetched: Map<string, VertexInfo>): Promise<void> {
    const { ledger } = this.c
    const knownOutside = new Map<string, boolean>()
    const isKnown = async (id: string): Promise<boolean> => {
      let k = knownOutside.get(id)
      if (k === undefined) { k = await ledger.knowsVertex(id); knownOutside.set(id, k) }
      return k
    }
    const pending = new Map<string, VertexInfo>()
    for (const info of fetched.values()) if (!await ledger.knowsVertex(info.idHex)) pending.set(info.idHex, info)
    const unmet = new Map<string, number>()
    const children = new Map<string, string[]>()
    const ready: VertexInfo[] = []
    for (const info of pending.values()) {
      let waits = 0
      let blocked = false
      for (const p of info.parentHex) {
        if (pending.has(p)) {
          waits++
          const list = children.get(p)
          if (list === undefined) children.set(p, [info.idHex])
          else list.push(info.idHex)
        } else if (!await isKnown(p)) blocked = true
      }
      // a vertex with an unknown parent outside the set never becomes ready, nor do its descendants
      if (blocked) continue
      if (waits === 0) ready.push(info)
      else unmet.set(info.idHex, waits)
    }
    for (let i = 0; i < ready.length && this.running; i++) {
      const info = ready[i]
      await ledger.insertVertex(info)
      this.fetchedPool.delete(info.idHex)
      for (const c of children.get(info.idHex) ?? []) {
        const left = (unmet.get(c) ?? 0) - 1
        if (left > 0) { unmet.set(c, left); continue }
        if (unmet.delete(c)) ready.push(pending.get(c) as VertexInfo)
      }
    }
  }

  /**
   * Set while this node lacks ancestors that its peers pruned (a node offline for longer than its peers keep
   * history, or started from the genesis into a pruned network): it cannot place anything built on them, so it
   * finalizes nothing new until it starts again from the checkpoint. Cleared as soon as a walk completes or a peer's
   * tips are all known here (a peer that still holds that history, an archive node, served it).
   */
  get historyGap (): HistoryGap | undefined { return this.gap === undefined ? undefined : { ...this.gap } }

  /** True while a catch-up walk runs or waits: this node is behind, and what it lacks is not coming by gossip. */
  get catchingUp (): boolean { return this.walksWaiting > 0 || this.peerWalks.size > 0 }

  /**
   * Asks `peer` for its tips and fetches whatever is missing: how many vertices were inserted, and whether every
   * tip the peer named is known here after (`complete`: this node held all the peer held when it answered).
   */
  async syncWith (peer: PeerId): Promise<{ fetched: number, complete: boolean }> {
    const { ledger } = this.c
    const tips = await this.getTips(peer)
    const missing: string[] = []
    for (const t of tips) if (!await ledger.knowsVertex(t)) missing.push(t)
    if (missing.length === 0) {
      // this node has everything the peer's tips stand on: whatever gap a walk found is behind it
      this.closeGap(peer)
      return { fetched: 0, complete: true }
    }
    const fetched = await this.fetchMissing(peer, missing)
    for (const t of missing) if (!await ledger.knowsVertex(t)) return { fetched, complete: false }
    return { fetched, complete: true }
  }

  private closeGap (peer: PeerId): void {
    if (this.gap === undefined || !this.running) return
    this.log.info({ peer: peer.toString() }, 'history gap closed: this node has the ancestors it lacked')
    this.gap = undefined
  }
}
