import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Logger } from '../../core/logger.ts'
import type { Startable } from '../../core/lifecycle.ts'
import { PROTOCOLS } from '../../network/protocols.ts'
import { Reader, Writer } from '../../core/codec.ts'
import { DagError } from '../errors.ts'
import type { DagLedger } from '../ledger.ts'
import { MAX_VERTEX_BYTES, type VertexInfo, vertexInfo } from '../vertex.ts'
import { idListBytes, readIdList, writeIdList } from './id-list.ts'
import { MAX_IDS_PER_REQUEST, request, respond } from './request.ts'

// Request types (first byte of a sync request).
const MSG_GET_VERTICES = 1
const MSG_GET_TIPS = 2
const MAX_TIPS = 256

export interface DagSyncInit {
  /** Time a peer has to answer a sync request. @default 3000 */
  requestTimeoutMs?: number
  /** Time this node has to answer a request (a GET_VERTICES reads up to 16 vertices from disk). @default 4500 */
  serveTimeoutMs?: number
  /** Vertices fetched in one catch-up walk. @default 20000 */
  maxFetchPerWalk?: number
}

export interface DagSyncComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'handle' | 'unhandle'>
  ledger: Pick<DagLedger, 'hasVertex' | 'genesisIdHex' | 'getVertexBytes' | 'tips' | 'checkStandalone' | 'insertVertex'>
  logger: Logger
}

/**
 * `/harmony/dag/sync/1.0.0`: the server answers vertices by id and its tips; the client walks a peer's unknown
 * ancestors (bounded), checks each vertex fully and inserts them parents first.
 */
export class DagSync implements Startable {
  private readonly c: DagSyncComponents
  private readonly log: Logger
  private readonly requestTimeoutMs: number
  private readonly serveTimeoutMs: number
  private readonly maxFetchPerWalk: number
  private abort = new AbortController()
  private running = false

  constructor (components: DagSyncComponents, init: DagSyncInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'dag-sync' })
    this.requestTimeoutMs = init.requestTimeoutMs ?? 3000
    this.serveTimeoutMs = init.serveTimeoutMs ?? 4500
    this.maxFetchPerWalk = init.maxFetchPerWalk ?? 20000
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    this.running = true
    await this.c.libp2p.handle(PROTOCOLS.dagSync, (stream) => {
      void respond(stream, async (req) => await this.answer(req), this.serveTimeoutMs, this.abort.signal, this.log)
    }, { maxInboundStreams: 64 })
  }

  async stop (): Promise<void> {
    this.running = false
    this.abort.abort()
    await this.c.libp2p.unhandle(PROTOCOLS.dagSync)
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
    for (const id of ids) {
      const b = await ledger.getVertexBytes(id)
      if (b !== undefined) found.push(b)
    }
    const w = new Writer(1024).u16(found.length)
    for (const b of found) w.varBytes(b)
    return w.finish()
  }

  private async getVertices (peer: PeerId, ids: string[]): Promise<VertexInfo[]> {
    const body = writeIdList(new Writer(1 + idListBytes(ids.length, 'u16')).u8(MSG_GET_VERTICES), ids, 'u16').finish()
    const res = await request(this.c.libp2p, peer, PROTOCOLS.dagSync, body, this.requestTimeoutMs, this.abort.signal)
    const r = new Reader(res, 'sync response')
    const n = r.u16()
    if (n > ids.length) r.fail('more vertices than requested')
    const want = new Set(ids)
    const out: VertexInfo[] = []
    for (let i = 0; i < n; i++) {
      const info = vertexInfo(r.varBytes(MAX_VERTEX_BYTES))
      if (!want.has(info.idHex)) throw new DagError('PROTOCOL_ERROR', 'peer sent a vertex that was not requested')
      out.push(info)
    }
    r.end()
    return out
  }

  private async getTips (peer: PeerId): Promise<string[]> {
    const res = await request(this.c.libp2p, peer, PROTOCOLS.dagSync, new Uint8Array([MSG_GET_TIPS]), this.requestTimeoutMs, this.abort.signal)
    const r = new Reader(res, 'tips response')
    const tips = readIdList(r, 'u16', MAX_TIPS)
    r.end()
    return tips
  }

  /**
   * Fetches `ids` and their unknown ancestors from `peer` (bounded), checks each vertex fully, and inserts them
   * parents first. A vertex that fails its checks aborts the walk with that error.
   */
  async fetchMissing (peer: PeerId, ids: string[]): Promise<number> {
    const { ledger } = this.c
    const fetched = new Map<string, VertexInfo>()
    let queue = ids.filter(id => !ledger.hasVertex(id) && id !== ledger.genesisIdHex)
    while (queue.length > 0 && this.running) {
      if (fetched.size + queue.length > this.maxFetchPerWalk) throw new DagError('QUEUE_FULL', 'catch-up walk exceeds its bound')
      const next: string[] = []
      for (let i = 0; i < queue.length; i += MAX_IDS_PER_REQUEST) {
        const batch = queue.slice(i, i + MAX_IDS_PER_REQUEST)
        const got = await this.getVertices(peer, batch)
        if (got.length < batch.length) throw new DagError('PARENT_MISSING', 'peer does not have the requested ancestors')
        await Promise.all(got.map(async info => await ledger.checkStandalone(info)))
        for (const info of got) {
          fetched.set(info.idHex, info)
          for (const p of info.parentHex) {
            if (!ledger.hasVertex(p) && !fetched.has(p) && p !== ledger.genesisIdHex) next.push(p)
          }
        }
      }
      queue = [...new Set(next)].filter(id => !fetched.has(id))
    }
    // insert parents first
    let pending = [...fetched.values()]
    let inserted = 0
    while (pending.length > 0) {
      const ready = pending.filter(i => i.parentHex.every(p => ledger.hasVertex(p)))
      if (ready.length === 0) break
      for (const info of ready) if (await ledger.insertVertex(info)) inserted++
      pending = pending.filter(i => !ledger.hasVertex(i.idHex))
    }
    return inserted
  }

  /** Asks `peer` for its tips and fetches whatever is missing. */
  async syncWith (peer: PeerId): Promise<number> {
    const { ledger } = this.c
    const tips = await this.getTips(peer)
    const missing = tips.filter(t => !ledger.hasVertex(t) && t !== ledger.genesisIdHex)
    if (missing.length === 0) return 0
    return await this.fetchMissing(peer, missing)
  }
}
