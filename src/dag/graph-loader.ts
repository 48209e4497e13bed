import { fromHex, toHex } from '../core/codec.ts'
import type { Logger } from '../core/logger.ts'
import { appendDecisions, type Decisions } from './consensus/core.ts'
import type { DagGraph, GraphRecord, VertexStatus } from './graph.ts'
import type { DagHistory } from './history.ts'
import type { DagStore, VertexDecision } from './store.ts'
import { type VertexInfo, vertexInfo } from './vertex.ts'

// graph records written per batch when an older datadir is indexed once (bounded batches, ~100 B each)
const BACKFILL_BATCH = 2000

export interface GraphLoadComponents {
  store: DagStore
  graph: DagGraph
  history: DagHistory
  logger: Logger
  /** Called once the graph is placed, before the undecided vertices are registered (the commit rule resumes). */
  placed?: () => Promise<void>
  /** Registers an undecided vertex with consensus (parents first); returns what that decided at once. */
  registerProcessing: (info: VertexInfo) => Promise<Decisions>
}

export interface GraphLoadResult {
  /** vertices placed in memory */
  loaded: number
  /** vertex bodies decoded (the undecided ones, and every vertex once when an older datadir is indexed) */
  decoded: number
  /** the loaded accepted vertex with the highest acceptance sequence, if any */
  lastAccepted: string | undefined
  /**
   * What registering the undecided vertices decided, to persist: vertices rejected (a parent rejected, a nonce already
   * consumed), and those the commit rule ordered (what was undecided at the stop), with its slots
   */
  decisions: Decisions
}

interface Entry { id: string, r: GraphRecord, d: VertexDecision | undefined, asTip: boolean }

/**
 * Loads the graph at start: the vertices at or above the history cut's height, the undecided ones (with their
 * decided parents, which consensus reads) and the tips, from their graph records; only undecided vertices are
 * decoded. The work follows the window and the undecided set, not the length of history.
 */
export async function loadGraph (c: GraphLoadComponents): Promise<GraphLoadResult> {
  const { store, graph, history } = c
  let decoded = 0
  let cut = await history.readCut()
  if (cut === undefined) {
    decoded += await indexOlderDatadir(c)
    cut = { id: graph.genesisId, height: 0 }
  }
  const ids = new Set<string>()
  const undecided = new Set<string>()
  for await (const id of history.idsFromHeight(cut.height)) ids.add(id)
  for await (const id of history.undecidedIds()) { ids.add(id); undecided.add(id) }
  const tips = new Set<string>()
  for await (const k of store.tips.keys()) tips.add(toHex(k))
  for (const id of tips) ids.add(id)
  const entries = new Map<string, Entry>()
  for (const id of ids) {
    const r = await history.record(id)
    if (r === undefined) continue // a tip of an older datadir without a record: never inserted completely
    const d = await store.getDecision(fromHex(id))
    // a rejected tip below the cut is history like any other (rejected tips are never built on)
    if (r.height < cut.height && d?.status === 'rejected') continue
    entries.set(id, { id, r, d, asTip: true })
  }
  // parents of undecided vertices stay in memory: consensus accepts a vertex only once its parents are
  for (const id of undecided) {
    for (const p of entries.get(id)?.r.parents ?? []) {
      if (entries.has(p) || p === graph.genesisId) continue
      const r = await history.record(p)
      const d = await store.getDecision(fromHex(p))
      if (r !== undefined && d !== undefined) entries.set(p, { id: p, r, d, asTip: false })
    }
  }
  const ordered = [...entries.values()].sort((a, b) => a.r.height - b.r.height)
  let lastAccepted: string | undefined
  let lastSeq = -1n
  for (const e of ordered) {
    const status: VertexStatus = e.d?.status ?? 'processing'
    graph.place(e.id, e.r, status, e.asTip)
    if (e.d?.status === 'accepted' && e.d.seq > lastSeq) { lastSeq = e.d.seq; lastAccepted = e.id }
  }
  if (cut.id !== graph.genesisId && !graph.has(cut.id)) {
    const r = await history.record(cut.id)
    if (r !== undefined) graph.place(cut.id, r, 'accepted', false)
  }
  graph.setCut(cut.id, cut.height)
  await c.placed?.()
  const now: Decisions = { accepted: [], rejected: [] }
  for (const e of ordered) {
    if (e.d !== undefined) continue
    const bytes = await store.getVertex(fromHex(e.id))
    if (bytes === undefined) continue
    decoded++
    appendDecisions(now, await c.registerProcessing(vertexInfo(bytes)))
  }
  return { loaded: ordered.length, decoded, lastAccepted, decisions: now }
}

/**
 * A datadir written before the graph index existed: decode every vertex once, write its record, height entry and
 * undecided mark, then the cut (the genesis) last, so an interrupted run simply starts over.
 */
async function indexOlderDatadir (c: GraphLoadComponents): Promise<number> {
  const { store, graph, history } = c
  const infos = new Map<string, { parents: string[], timestampMs: bigint }>()
  for await (const [, bytes] of store.allVertices()) {
    const info = vertexInfo(bytes)
    infos.set(info.idHex, { parents: info.parentHex, timestampMs: info.vertex.timestampMs })
  }
  const decisions = await store.allDecisions()
  const heights = new Map<string, number>([[graph.genesisId, 0]])
  // heights parents first (Kahn's algorithm); vertices with a missing parent were never loaded and get none
  const waiting = new Map<string, number>()
  const children = new Map<string, string[]>()
  const ready: string[] = []
  for (const [id, info] of infos) {
    let unmet = 0
    for (const p of info.parents) {
      if (p === graph.genesisId) continue
      if (!infos.has(p)) { unmet = Number.POSITIVE_INFINITY; break }
      unmet++
      const list = children.get(p)
      if (list === undefined) children.set(p, [id])
      else list.push(id)
    }
    if (unmet === 0) ready.push(id)
    else waiting.set(id, unmet)
  }
  let b = store.batch()
  let inBatch = 0
  while (ready.length > 0) {
    const id = ready.pop() as string
    const info = infos.get(id) as { parents: string[], timestampMs: bigint }
    const height = 1 + Math.max(...info.parents.map(p => heights.get(p) ?? 0))
    heights.set(id, height)
    history.putInserted(b, fromHex(id), { height, timestampMs: info.timestampMs, parents: info.parents, underCut: false })
    if (decisions.has(id)) store.putDecision(b, fromHex(id), decisions.get(id) as VertexDecision)
    if (++inBatch >= BACKFILL_BATCH) { await b.commit(); b = store.batch(); inBatch = 0 }
    for (const ch of children.get(id) ?? []) {
      const left = (waiting.get(ch) ?? 1) - 1
      if (left > 0) { waiting.set(ch, left); continue }
      waiting.delete(ch)
      ready.push(ch)
    }
  }
  if (waiting.size > 0) c.logger.warn({ orphans: waiting.size }, 'stored vertices with missing parents ignored')
  history.putCut(b, { id: graph.genesisId, height: 0 })
  await b.commit()
  c.logger.info({ vertices: heights.size - 1 }, 'graph index written for an older datadir')
  return infos.size
}
