import { concatBytes, fromHex, Reader, toHex, Writer } from '../core/codec.ts'
import { BoundedSet } from '../core/bounded-set.ts'
import { getValue, KEY_PREFIXES, keyBytes } from '../core/storage.ts'
import type { DagGraph, GraphNode, GraphRecord, GraphRecordSource, SyncBase, VertexStatus } from './graph.ts'
import { DagError } from './errors.ts'
import type { DagMetrics } from './metrics.ts'
import type { DagBatch, DagStore } from './store.ts'

/**
 * Finalized history leaves memory. Every inserted vertex gets a small graph record on disk (height, timestamp,
 * parents) in the insert's batch, an entry in a by-height index, and an "undecided" mark that its decision's batch
 * deletes. Once the decided frontier is `window` heights past a vertex that reaches the current history cut, that
 * vertex becomes the new cut, and every decided vertex below it (no tip, no parent of an undecided vertex) is
 * dropped from the in-memory graph: one LevelDB batch marks the ones in the cut's causal past (`underCut`) and
 * moves the cut; memory changes only after it committed. What still asks about evicted vertices (parents of a new
 * vertex, ancestry, `tx_get`, `dag_getVertex`, sync serving, state cuts) reads the records and vertex bodies from
 * disk. At start only the vertices at or above the cut's height, the undecided ones and the tips are loaded
 * (src/dag/graph-loader.ts): start time and memory follow the window, not the history.
 */

// 1,024 heights: with 4 validators each issuing a vertex per round that is ~4k vertices (a few MB of graph nodes),
// several minutes of history at devnet rates, far beyond how deep honest vertices pick parents (the tips).
export const DEFAULT_HISTORY_WINDOW = 1024
// records of evicted vertices kept in memory: ancestry walks below the cut and parents of late vertices
const DEFAULT_RECORD_CACHE = 4096
const HISTORY_VERSION = 1
const FLAG_UNDER_CUT = 1
const FLAG_PRUNED = 2
const FLAG_BASE = 4
// an author index (u16) follows the parents
const FLAG_AUTHOR = 8
// vertices one prune may walk (its first run on a long archive walks all of history once), and bodies deleted per batch
const MAX_PRUNE_WALK = 1_000_000
const PRUNE_BATCH = 1000

export interface DagHistoryInit {
  /**
   * Heights below the decided frontier whose decided vertices stay in memory; older ones are read from disk.
   * @default 1024 (DEFAULT_HISTORY_WINDOW)
   */
  historyWindow?: number
  /** Graph records of evicted vertices cached in memory. @default 4096 */
  historyRecordCache?: number
}

const PREFIX_R = keyBytes(KEY_PREFIXES.dagGraph.record)
const PREFIX_H = keyBytes(KEY_PREFIXES.dagGraph.byHeight)
const PREFIX_U = keyBytes(KEY_PREFIXES.dagGraph.undecided)
const KEY_HISTORY = keyBytes(KEY_PREFIXES.dagMeta.history)
const KEY_SYNC_BASE = keyBytes(KEY_PREFIXES.dagMeta.syncBase)
const KEY_SYNCED_AUTHORS = keyBytes(KEY_PREFIXES.dagMeta.syncedAuthors)
const EMPTY = new Uint8Array(0)

export function encodeGraphRecord (r: GraphRecord): Uint8Array {
  const flags = (r.underCut ? FLAG_UNDER_CUT : 0) | (r.pruned === true ? FLAG_PRUNED : 0) | (r.base === true ? FLAG_BASE : 0) | (r.author !== undefined ? FLAG_AUTHOR : 0)
  const w = new Writer(16 + r.parents.length * 32).u32(r.height).u64(r.timestampMs).u8(flags).u8(r.parents.length)
  for (const p of r.parents) w.fixed(fromHex(p), 32)
  if (r.author !== undefined) w.u16(r.author)
  return w.finish()
}

export function decodeGraphRecord (b: Uint8Array): GraphRecord {
  const rd = new Reader(b, 'graph record')
  const height = rd.u32()
  const timestampMs = rd.u64()
  const flags = rd.u8()
  const n = rd.u8()
  const parents: string[] = []
  for (let i = 0; i < n; i++) parents.push(toHex(rd.fixed(32)))
  const author = (flags & FLAG_AUTHOR) !== 0 ? rd.u16() : undefined
  rd.end()
  return { height, timestampMs, parents, underCut: (flags & FLAG_UNDER_CUT) !== 0, ...((flags & FLAG_PRUNED) !== 0 ? { pruned: true } : {}), ...((flags & FLAG_BASE) !== 0 ? { base: true } : {}), ...(author !== undefined ? { author } : {}) }
}

function heightKey (height: number, id: Uint8Array): Uint8Array {
  return concatBytes(PREFIX_H, new Writer(4).u32(height).finish(), id)
}

export interface HistoryCut { id: string, height: number }

/** The graph index on disk and the sweep that moves decided history out of memory. */
export class DagHistory implements GraphRecordSource {
  private readonly store: DagStore
  private readonly graph: DagGraph
  private readonly cache = new Map<string, GraphRecord>()
  private readonly cacheLimit: number
  /**
   * Ids looked up on disk and not there (bounded, oldest dropped; an id leaves it when its vertex is inserted): a
   * vertex this node has not received yet is asked about by every poll of it (queries, gossip, sync), and each
   * such answer read LevelDB twice (2.5% of a market node's CPU in bench:market). Only `known` and `status` use it;
   * the insert's own duplicate check always reads the disk.
   */
  private readonly absent: BoundedSet
  /**
   * Inserts since start: a miss read from disk while an insert committed may be that vertex's, read just before
   * its batch landed and answered after `inserted` ran; it is not remembered (it would make the vertex unknown
   * here once it left memory).
   */
  private insertions = 0
  readonly window: number
  /** Heights the frontier moves between sweeps: a quarter window, so a sweep's batch is bounded and rare. */
  readonly step: number
  /** Vertices evicted since start (a gauge of the sweeps' work). */
  evicted = 0
  /** Vertex bodies pruned since start. */
  pruned = 0
  // a due sweep that found no cut (no deep accepted vertex reaches the current one) waits a step before retrying:
  // finding out walks every vertex in memory
  private retryAtHeight = 0

  private readonly metrics: DagMetrics | undefined

  constructor (store: DagStore, graph: DagGraph, init: DagHistoryInit = {}, metrics?: DagMetrics) {
    this.store = store
    this.graph = graph
    this.metrics = metrics
    this.window = Math.max(1, init.historyWindow ?? DEFAULT_HISTORY_WINDOW)
    this.step = Math.max(1, Math.floor(this.window / 4))
    this.cacheLimit = Math.max(1, init.historyRecordCache ?? DEFAULT_RECORD_CACHE)
    this.absent = new BoundedSet(this.cacheLimit)
  }

  /** The graph record of any inserted vertex (memory-resident ones too), from the cache or disk. */
  async record (id: string): Promise<GraphRecord | undefined> {
    const hit = this.cache.get(id)
    if (hit !== undefined) {
      this.cache.delete(id)
      this.cache.set(id, hit)
      return hit
    }
    if (id.length !== 64) return undefined
    const v = await getValue(this.store.graph, concatBytes(PREFIX_R, fromHex(id)))
    if (v === undefined) return undefined
    const r = decodeGraphRecord(v)
    if (this.cache.size >= this.cacheLimit) this.cache.delete(this.cache.keys().next().value as string)
    this.cache.set(id, r)
    return r
  }

  /** `record`, remembering a miss (`absent`). */
  private async lookup (id: string): Promise<GraphRecord | undefined> {
    if (this.absent.has(id)) return undefined
    const insertions = this.insertions
    const r = await this.record(id)
    if (r === undefined && id.length === 64 && insertions === this.insertions) {
      this.absent.add(id)
    }
    return r
  }

  /** The vertex is inserted (its batch committed, it is in memory): a miss remembered while it was on its way is wrong now. */
  inserted (id: string): void {
    this.insertions++
    this.absent.delete(id)
  }

  /** The insert's part of the index: record, height entry, undecided mark (in the insert's batch). */
  putInserted (b: DagBatch, id: Uint8Array, r: GraphRecord): void {
    b.put(this.store.graph, concatBytes(PREFIX_R, id), encodeGraphRecord(r))
    b.put(this.store.graph, heightKey(r.height, id), EMPTY)
    b.put(this.store.graph, concatBytes(PREFIX_U, id), EMPTY)
  }

  /**
   * A synced ledger's part of the index (state sync): the record and height entry of a vertex of the checkpoint
   * cut's band (accepted, no body), or with `base` the record of a vertex deeper in the cut's past that an account
   * names (height unknown: no height entry).
   */
  putSynced (b: DagBatch, id: Uint8Array, r: GraphRecord): void {
    b.put(this.store.graph, concatBytes(PREFIX_R, id), encodeGraphRecord(r))
    if (r.base !== true) b.put(this.store.graph, heightKey(r.height, id), EMPTY)
  }

  async readSyncBase (): Promise<SyncBase | undefined> {
    const v = await this.store.meta.get(KEY_SYNC_BASE)
    if (v === undefined) return undefined
    // n × vertex id ‖ u32 floor (one id before s28)
    const rd = new Reader(v, 'sync base')
    if (v.length < 36 || (v.length - 4) % 32 !== 0) rd.fail('not a sync base')
    const ids: string[] = []
    for (let i = 0; i < (v.length - 4) / 32; i++) ids.push(toHex(rd.fixed(32)))
    const floor = rd.u32()
    rd.end()
    return { ids, floor }
  }

  /** Under the commit rule: the author (genesis validator index) of each band vertex a synced ledger started from. */
  putSyncedAuthors (b: DagBatch, authors: ReadonlyArray<{ id: string, author: number }>): void {
    const w = new Writer(authors.length * 34)
    for (const a of authors) w.fixed(fromHex(a.id), 32).u16(a.author)
    b.put(this.store.meta, KEY_SYNCED_AUTHORS, w.finish())
  }

  /** putSyncedAuthors' list, by vertex id (empty for a ledger that did not sync from a commit-rule cut). */
  async readSyncedAuthors (): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    const v = await this.store.meta.get(KEY_SYNCED_AUTHORS)
    if (v === undefined) return out
    const rd = new Reader(v, 'synced authors')
    while (rd.remaining > 0) out.set(toHex(rd.fixed(32)), rd.u16())
    return out
  }

  putSyncBase (b: DagBatch, base: SyncBase): void {
    const w = new Writer(4 + 32 * base.ids.length)
    for (const id of base.ids) w.fixed(fromHex(id), 32)
    b.put(this.store.meta, KEY_SYNC_BASE, w.u32(base.floor).finish())
  }

  /**
   * True when the vertex was ever inserted here: in memory, or decided and on disk only. With its `parents` (a
   * decoded vertex), one they place at or above the history cut is unknown when not in memory, without a disk read
   * (one per gossiped vertex before: 1.5% of a market node's main thread in bench:market).
   */
  async known (id: string, parents?: readonly string[]): Promise<boolean> {
    if (this.graph.has(id)) return true
    if (parents !== undefined && this.graph.placesAtOrAboveCut(parents)) return false
    return (await this.lookup(id)) !== undefined
  }

  /** A vertex's status wherever it lives; undefined when it was never inserted here. */
  async status (id: string): Promise<VertexStatus | undefined> {
    const n = this.graph.get(id)
    if (n !== undefined) return n.status
    if (await this.lookup(id) === undefined) return undefined
    return (await this.store.getDecision(fromHex(id)))?.status ?? 'processing'
  }

  /** A vertex's status and height wherever it lives (dag_getVertex); undefined when it was never inserted here. */
  async place (id: string): Promise<{ status: VertexStatus, height: number } | undefined> {
    const status = await this.status(id)
    const height = this.graph.get(id)?.height ?? (await this.record(id))?.height
    return status === undefined || height === undefined ? undefined : { status, height }
  }

  /**
   * Puts an evicted, decided vertex back in memory (a new vertex names it as a parent: consensus reads a parent's
   * status there). Undefined when it is unknown or has no decision (an undecided vertex is never evicted).
   */
  async faultIn (id: string): Promise<GraphNode | undefined> {
    const inMemory = this.graph.get(id)
    if (inMemory !== undefined) return inMemory
    const r = await this.record(id)
    // a base record (state sync) has no height here: a vertex naming it as a parent cannot be placed
    if (r === undefined || r.base === true) return undefined
    const d = await this.store.getDecision(fromHex(id))
    if (d === undefined) return undefined
    return this.graph.place(id, r, d.status, false)
  }

  async readCut (): Promise<HistoryCut | undefined> {
    const v = await this.store.meta.get(KEY_HISTORY)
    if (v === undefined) return undefined
    const rd = new Reader(v, 'history cut')
    const version = rd.u8()
    const id = toHex(rd.fixed(32))
    const height = rd.u32()
    rd.end()
    if (version !== HISTORY_VERSION) rd.fail(`unknown version ${version}`)
    return { id, height }
  }

  putCut (b: DagBatch, cut: HistoryCut): void {
    b.put(this.store.meta, KEY_HISTORY, new Writer(37).u8(HISTORY_VERSION).fixed(fromHex(cut.id), 32).u32(cut.height).finish())
  }

  /** Ids at or above `height`, in height order (parents before children), from the by-height index. */
  async * idsFromHeight (height: number): AsyncGenerator<string> {
    for await (const k of this.store.graph.keys({ gte: heightKey(height, new Uint8Array(32)), lt: new Uint8Array([PREFIX_H[0] + 1]) })) {
      yield toHex(k.subarray(5))
    }
  }

  /** Ids of vertices without a decision. */
  async * undecidedIds (): AsyncGenerator<string> {
    for await (const k of this.store.graph.keys({ gte: PREFIX_U, lt: new Uint8Array([PREFIX_U[0] + 1]) })) yield toHex(k.subarray(1))
  }

  /**
   * Moves the cut when the decided frontier is far enough past it, and drops what lies below from memory. Call
   * under the ledger's lock (the graph must not change while the batch commits). Returns the vertices evicted.
   */
  async sweep (): Promise<number> {
    const frontier = this.graph.maxAcceptedHeight
    if (frontier - this.window < this.graph.cutHeight + this.step || frontier < this.retryAtHeight) return 0
    const cut = this.graph.nextCut(this.window, this.step)
    if (cut === undefined) { this.retryAtHeight = frontier + this.step; return 0 }
    const plan = this.graph.evictionPlan(cut)
    const b = this.store.batch()
    for (const { node, underCut } of plan) {
      // only the flag changes; written once per vertex, when it leaves memory
      // (a pruned flag lost here, on a faulted-in vertex evicted again, only lets a later prune walk a little further)
      if (underCut) b.put(this.store.graph, concatBytes(PREFIX_R, fromHex(node.id)), encodeGraphRecord({ height: node.height, timestampMs: node.timestampMs, parents: node.parents, underCut }))
    }
    this.putCut(b, { id: cut.id, height: cut.height })
    // the memory cut moves first: a walk outside the lock may read a new flag from disk while the batch commits, and
    // flags of the old cut stay true under the new one (the old cut is in its past), never the other way round
    this.graph.setCut(cut.id, cut.height)
    await b.commit()
    for (const { node } of plan) this.cache.delete(node.id)
    this.graph.evict(plan.map(p => p.node.id))
    this.evicted += plan.length
    this.metrics?.verticesEvicted.inc(plan.length)
    return plan.length
  }

  /**
   * Deletes the bodies of the vertices in the causal past of `cutId` (the cut itself kept) that have left memory;
   * their graph records, decisions and transaction records stay, so ancestry, parents of late vertices and
   * `tx_get` (status `pruned`) still answer. Bottom-up in bounded batches, each marking its vertices pruned: a
   * crash leaves a pruned base under an unpruned top, which the next call's walk (stopping at pruned vertices)
   * finishes. Returns the bodies deleted. Throws TOO_LARGE past MAX_PRUNE_WALK unpruned vertices.
   */
  async pruneBelow (cutId: string): Promise<number> {
    const cut = await this.record(cutId)
    if (cut === undefined) return 0
    const found: Array<{ id: string, r: GraphRecord }> = []
    const seen = new Set<string>()
    const stack = [...cut.parents]
    while (stack.length > 0) {
      const id = stack.pop() as string
      if (seen.has(id)) continue
      seen.add(id)
      if (seen.size > MAX_PRUNE_WALK) throw new DagError('TOO_LARGE', `pruning: more than ${MAX_PRUNE_WALK} unpruned vertices below the cut`)
      const r = await this.record(id)
      if (r === undefined || r.pruned === true) continue
      // the recent window keeps its bodies: peers catching up fetch them, and the memory graph is cheap to serve
      if (!this.graph.has(id)) found.push({ id, r })
      for (const p of r.parents) if (!seen.has(p)) stack.push(p)
    }
    found.sort((a, b) => a.r.height - b.r.height)
    for (let i = 0; i < found.length; i += PRUNE_BATCH) {
      const b = this.store.batch()
      const chunk = found.slice(i, i + PRUNE_BATCH)
      for (const { id, r } of chunk) {
        const key = fromHex(id)
        this.store.deleteVertexBody(b, key)
        b.put(this.store.graph, concatBytes(PREFIX_R, key), encodeGraphRecord({ ...r, pruned: true }))
      }
      await b.commit()
      for (const { id } of chunk) this.cache.delete(id)
    }
    // segments of the body log whose every body is gone (the oldest first, as pruning runs bottom-up)
    if (found.length > 0) await this.store.collectBodies()
    this.pruned += found.length
    this.metrics?.verticesPruned.inc(found.length)
    return found.length
  }
}
