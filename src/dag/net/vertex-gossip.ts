import type { PeerId } from '@libp2p/interface'
import type { Logger } from '../../core/logger.ts'
import type { Startable } from '../../core/lifecycle.ts'
import { type GossipRegistry, type GossipResult, GossipValidationError } from '../../network/gossip.ts'
import { GOSSIP_TOPICS, MAX_GOSSIP_BYTES } from '../../network/protocols.ts'
import { DagError, isDagError } from '../errors.ts'
import type { DagLedger } from '../ledger.ts'
import type { DagMetrics } from '../metrics.ts'
import { MAX_VERTEX_BYTES, type VertexHashes, type VertexInfo, vertexHashes, vertexInfo } from '../vertex.ts'
import type { DagSync } from './sync.ts'

// Vertex ids a query answer may wait on at once (each a timer and a closure; a few polls' worth).
const MAX_ARRIVAL_WAITERS = 256

// How long a gossiped vertex waits for a missing parent's gossip copy before fetching the parent by sync: the
// query side's queryGossipWaitMs (query.ts), for the same reason.
const PARENT_GOSSIP_WAIT_MS = 250

// A vertex must fit in one gossip message.
if (MAX_VERTEX_BYTES > MAX_GOSSIP_BYTES) throw new Error('MAX_VERTEX_BYTES exceeds MAX_GOSSIP_BYTES')

/** Codes that mean the sender broke the protocol (reject, score penalty); any other DagError is ignored. */
const REJECT_CODES = new Set(['ENCODING_INVALID', 'KIND_UNKNOWN', 'KIND_UNSUPPORTED', 'TOO_LARGE', 'PARENTS_INVALID', 'AUTHOR_UNKNOWN', 'SIGNATURE_INVALID', 'TX_CONFLICT', 'FEE_TOO_LOW', 'NONCE_UNCHAINED', 'TIMESTAMP_BEFORE_PARENT'])

export interface VertexGossipComponents {
  gossip: Pick<GossipRegistry, 'register' | 'publish'>
  ledger: Pick<DagLedger, 'hasVertex' | 'knowsVertex' | 'checkStandalone' | 'missingParents' | 'insertVertex'>
  sync: Pick<DagSync, 'fetchMissing'>
  logger: Logger
  metrics?: Pick<DagMetrics, 'vertexPropagationSeconds'>
}

/**
 * The `harmony/1/vertex` topic handler: a gossiped vertex is checked standalone, its missing ancestors are fetched
 * from the peer that sent it, and it is inserted before gossipsub forwards it.
 */
export class VertexGossip implements Startable {
  private readonly c: VertexGossipComponents
  private readonly log: Logger
  /** gossiped vertices whose validation is under way */
  private readonly validating = new Map<string, Promise<void>>()
  /** ids a query answer waits to see arrive by gossip -> their waiters (see `arrival`) */
  private readonly waiters = new Map<string, Array<() => void>>()
  /**
   * Hashes of vertex bytes met as gossip message ids (the id is the vertex id: network/message-id.ts), by the bytes
   * themselves, for the decode that follows, and of this node's own vertices, for their publish: one pass over a
   * received vertex instead of two, none over an own one. A WeakMap: an entry lives as long as gossipsub keeps the
   * bytes, no longer.
   */
  private readonly hashes = new WeakMap<Uint8Array, VertexHashes>()
  private unregister: (() => void) | undefined

  constructor (components: VertexGossipComponents) {
    this.c = components
    this.log = components.logger.child({ module: 'dag-gossip' })
  }

  async start (): Promise<void> {
    this.unregister ??= this.c.gossip.register<VertexInfo>({
      topic: GOSSIP_TOPICS.vertex,
      maxBytes: MAX_VERTEX_BYTES,
      hash: (data) => {
        let hashes = this.hashes.get(data)
        if (hashes === undefined) {
          hashes = vertexHashes(data)
          this.hashes.set(data, hashes)
        }
        return hashes.id
      },
      decode: (data) => {
        try {
          return vertexInfo(data, undefined, this.hashes.get(data))
        } catch (err) {
          if (isDagError(err)) throw new GossipValidationError(REJECT_CODES.has(err.code) ? 'reject' : 'ignore', err.code)
          throw new GossipValidationError('ignore', 'INTERNAL')
        }
      },
      validate: async (info, from) => await this.validate(info, from)
    })
  }

  async stop (): Promise<void> {
    this.unregister?.()
    this.unregister = undefined
  }

  async publish (info: VertexInfo): Promise<void> {
    this.hashes.set(info.encoded, { id: info.id, unsignedDigest: info.unsignedDigest })
    try {
      await this.c.gossip.publish(GOSSIP_TOPICS.vertex, info.encoded)
    } catch (err) {
      this.log.debug({ err }, 'publish failed; peers will fetch the vertex by sync')
    }
  }

  /** True while a gossiped copy of the vertex is being validated (it is not inserted yet). */
  isValidating (idHex: string): boolean { return this.validating.has(idHex) }

  /** Resolves when a vertex under gossip validation is done (at once when none is). */
  async settled (idHex: string): Promise<void> {
    await this.validating.get(idHex)?.catch(() => undefined)
  }

  /**
   * Resolves once a vertex being gossiped has arrived and been validated, or after `waitMs`, whichever is first. A
   * query about a vertex its author has just published usually overtakes the gossip copy; waiting for it instead
   * of fetching it by sync saves a second transfer of up to 1 MiB (profiled: half of the vertices came twice at
   * 1,000 tx/s). Bounded: past MAX_ARRIVAL_WAITERS ids it does not wait.
   */
  async arrival (idHex: string, waitMs: number): Promise<void> {
    if (this.validating.has(idHex)) { await this.settled(idHex); return }
    if (waitMs <= 0 || (!this.waiters.has(idHex) && this.waiters.size >= MAX_ARRIVAL_WAITERS)) return
    await new Promise<void>(resolve => {
      const list = this.waiters.get(idHex) ?? []
      const done = (): void => { clearTimeout(timer); resolve() }
      const timer = setTimeout(() => {
        // gave up waiting: leave the list, and the map once nobody waits for this id
        const rest = (this.waiters.get(idHex) ?? []).filter(r => r !== done)
        if (rest.length === 0) this.waiters.delete(idHex)
        else this.waiters.set(idHex, rest)
        resolve()
      }, waitMs)
      list.push(done)
      this.waiters.set(idHex, list)
    })
    await this.settled(idHex)
  }

  private async validate (info: VertexInfo, from: PeerId): Promise<GossipResult> {
    const { ledger } = this.c
    if (ledger.hasVertex(info.idHex) || this.validating.has(info.idHex)) return { verdict: 'ignore', code: 'KNOWN' }
    const validation = (async () => {
      // decided history that left memory: known, and not worth a signature check (TX_KNOWN: ignored, never rejected)
      if (await ledger.knowsVertex(info.idHex, info.parentHex)) throw new DagError('TX_KNOWN', 'vertex already known')
      await ledger.checkStandalone(info)
      let missing = await ledger.missingParents(info)
      if (missing.length > 0) {
        // A parent whose own gossip copy is being validated (it has more signatures to check than this vertex, so
        // this one overtook it) or is on its way is awaited, not fetched a second time: measured at 200 tx/s, such
        // fetches took every catch-up walk slot and the gossip copies that found none were dropped (QUEUE_FULL),
        // 279 of 480, leaving those vertices to the queries' slow fetches (finality p50 3.1 s).
        await Promise.all(missing.map(async p => { await this.arrival(p, PARENT_GOSSIP_WAIT_MS) }))
        missing = await ledger.missingParents(info)
      }
      if (missing.length > 0) await this.c.sync.fetchMissing(from, missing)
      // the author's clock to its insertion here: gossip, verification, the insert (a vertex fetched by sync is late
      // by design and not counted)
      if (await ledger.insertVertex(info)) this.c.metrics?.vertexPropagationSeconds.observe(Math.max(0, Date.now() - Number(info.vertex.timestampMs)) / 1000)
    })()
    this.validating.set(info.idHex, validation)
    const waiting = this.waiters.get(info.idHex)
    if (waiting !== undefined) { this.waiters.delete(info.idHex); for (const resolve of waiting) resolve() }
    try {
      await validation
      return { verdict: 'accept', code: 'OK' }
    } catch (err) {
      if (isDagError(err)) return { verdict: REJECT_CODES.has(err.code) ? 'reject' : 'ignore', code: err.code }
      throw err // the registry logs it and ignores the message: never punish a peer for our own failure
    } finally {
      this.validating.delete(info.idHex)
    }
  }
}
