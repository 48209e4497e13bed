import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Logger } from '../../core/logger.ts'
import type { Startable } from '../../core/lifecycle.ts'
import { PROTOCOLS } from '../../network/protocols.ts'
import { Reader, Writer } from '../../core/codec.ts'
import type { DagLedger } from '../ledger.ts'
import type { DagMetrics } from '../metrics.ts'
import { idListBytes, readIdList, writeIdList } from './id-list.ts'
import { QueryChannelClient, serveQueryChannel } from './query-channel.ts'
import { MAX_IDS_PER_REQUEST } from './request.ts'
import type { DagSync } from './sync.ts'
import type { VertexGossip } from './vertex-gossip.ts'

// Message types (first byte). 1 was the ledger's own hello, retired: the peer binding (/harmony/id/1.0.0) replaced it.
const MSG_QUERY = 2
/** Opens a long-lived query channel (see query-channel.ts); the frames carry MSG_QUERY bodies. */
const MSG_QUERY_CHANNEL = 3

export interface QueryInit {
  /** Time a peer has to answer a query. @default 3000 */
  queryTimeoutMs?: number
  /** How long a queried node waits to fetch an unknown vertex before answering "no". @default 1500 */
  queryFetchWaitMs?: number
  /**
   * How long a queried node waits for an unknown vertex to arrive by gossip before fetching it by sync (a query
   * often overtakes the gossip copy of a vertex just published). Part of queryFetchWaitMs, not added to it; not
   * waited while this node is catching up. @default 250
   */
  queryGossipWaitMs?: number
}

export interface QueryComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'handle' | 'unhandle'>
  ledger: Pick<DagLedger, 'hasVertex' | 'knowsVertex' | 'preferredFrontier'>
  sync: Pick<DagSync, 'fetchMissing' | 'catchingUp'>
  gossip: Pick<VertexGossip, 'settled' | 'arrival' | 'isValidating'>
  logger: Logger
  metrics?: Pick<DagMetrics, 'queryAnswerSeconds'>
}

/**
 * `/harmony/avalanche/1.0.0`, both sides: the server answers a query about a vertex with this node's preferred
 * frontier (fetching the vertex first when it is unknown); the client keeps one query channel per peer.
 */
export class AvalancheQuery implements Startable {
  private readonly c: QueryComponents
  private readonly log: Logger
  private readonly queryTimeoutMs: number
  private readonly queryFetchWaitMs: number
  private readonly queryGossipWaitMs: number
  private readonly channels = new Map<string, QueryChannelClient>()
  private abort = new AbortController()

  constructor (components: QueryComponents, init: QueryInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'dag-query' })
    this.queryTimeoutMs = init.queryTimeoutMs ?? 3000
    this.queryFetchWaitMs = init.queryFetchWaitMs ?? 1500
    this.queryGossipWaitMs = Math.min(init.queryGossipWaitMs ?? 250, this.queryFetchWaitMs)
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    await this.c.libp2p.handle(PROTOCOLS.avalanche, (stream, conn) => { void this.serve(stream, conn.remotePeer) }, { maxInboundStreams: 128 })
  }

  async stop (): Promise<void> {
    this.abort.abort()
    for (const ch of this.channels.values()) ch.close()
    this.channels.clear()
    await this.c.libp2p.unhandle(PROTOCOLS.avalanche)
  }

  /** Closes the channel to a peer that went away. */
  forget (peer: PeerId): void {
    const key = peer.toString()
    this.channels.get(key)?.close()
    this.channels.delete(key)
  }

  /** Asks `peer` about `vertexId`; resolves to its preferred frontier (undefined when it did not answer in time). */
  async query (peer: PeerId, vertexId: string): Promise<string[] | undefined> {
    const body = writeIdList(new Writer(1 + idListBytes(1, 'u8')).u8(MSG_QUERY), [vertexId], 'u8').finish()
    try {
      const ch = await this.channel(peer)
      const res = await ch.request(body, this.queryTimeoutMs + this.queryFetchWaitMs)
      const r = new Reader(res, 'query response')
      const ids = readIdList(r, 'u8', MAX_IDS_PER_REQUEST)
      r.end()
      return ids
    } catch {
      return undefined
    }
  }

  private async serve (stream: Stream, peer: PeerId): Promise<void> {
    await serveQueryChannel(stream, { hello: MSG_QUERY_CHANNEL, maxFrameBytes: 64 * 1024, helloTimeoutMs: this.queryTimeoutMs, onError: (err) => { this.log.debug({ err }, 'avalanche stream failed') } }, async (body) => await this.answer(peer, body), this.abort.signal)
  }

  /** A query: `u8 MSG_QUERY || u8 n || n ids`. Answer: this node's preferred frontier, `u8 n || n ids`. */
  private async answer (peer: PeerId, req: Uint8Array): Promise<Uint8Array> {
    const { ledger } = this.c
    const r = new Reader(req, 'avalanche query')
    if (r.u8() !== MSG_QUERY) r.fail('unknown request type')
    const ids = readIdList(r, 'u8', MAX_IDS_PER_REQUEST, 1)
    r.end()
    // A vertex still being validated from gossip, or still on its way by gossip, is awaited rather than fetched a
    // second time; only what has not arrived by then is fetched.
    const started = Date.now()
    let path: 'known' | 'gossip_wait' | 'fetch' = 'known'
    // A node catching up (a walk running) does not wait: what it lacks is old and comes only by sync.
    const gossipWaitMs = this.c.sync.catchingUp ? 0 : this.queryGossipWaitMs
    // Each id is looked up on disk (history that left memory) at most once: one under gossip validation is awaited
    // first (not inserted yet, so not on disk either), and one that was not on disk can only have come since into
    // memory (two index reads per unknown id before: 1% of a market node's main thread at 30 tasks in flight).
    const offDisk = new Set<string>()
    await Promise.all(ids.map(async id => {
      if (ledger.hasVertex(id)) return
      if (!this.c.gossip.isValidating(id)) {
        if (await ledger.knowsVertex(id)) return
        offDisk.add(id)
      }
      path = 'gossip_wait'
      await this.c.gossip.arrival(id, gossipWaitMs)
    }))
    const unknown: string[] = []
    for (const id of ids) if (offDisk.has(id) ? !ledger.hasVertex(id) : !await ledger.knowsVertex(id)) unknown.push(id)
    const fetchWaitMs = this.queryFetchWaitMs - (Date.now() - started)
    if (unknown.length > 0 && fetchWaitMs > 0) {
      path = 'fetch'
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        this.c.sync.fetchMissing(peer, unknown).catch(err => { this.log.debug({ err }, 'query fetch failed') }),
        new Promise(resolve => { timer = setTimeout(resolve, fetchWaitMs) })
      ])
      clearTimeout(timer)
    }
    const frontier = await ledger.preferredFrontier(ids[0], MAX_IDS_PER_REQUEST)
    this.c.metrics?.queryAnswerSeconds.observe({ path }, (Date.now() - started) / 1000)
    return writeIdList(new Writer(idListBytes(frontier.length, 'u8')), frontier, 'u8').finish()
  }

  private async channel (peer: PeerId): Promise<QueryChannelClient> {
    const key = peer.toString()
    const existing = this.channels.get(key)
    if (existing !== undefined && !existing.closed) return existing
    const stream = await this.c.libp2p.dialProtocol(peer, PROTOCOLS.avalanche, { signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.queryTimeoutMs)]) })
    const again = this.channels.get(key)
    if (again !== undefined && !again.closed) { stream.abort(new Error('duplicate channel')); return again }
    const ch = new QueryChannelClient(stream, new Uint8Array([MSG_QUERY_CHANNEL]))
    this.channels.set(key, ch)
    return ch
  }
}
