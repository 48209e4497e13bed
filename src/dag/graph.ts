/**
 * The in-memory shape of the recent DAG: heights, parents, children and consensus status of every vertex still in
 * memory. Finalized history below the history cut leaves memory (src/dag/history.ts); what still asks about it
 * reads the graph records on disk through `GraphRecordSource`. Ancestry questions ("is X in the causal past of
 * V?") are answered by a walk towards the genesis that stops below the height of X, and that is cut short by the
 * history cut: every vertex evicted as part of the cut's past is an ancestor of every vertex that reaches the cut.
 */
import { DagError } from './errors.ts'

export type VertexStatus = 'processing' | 'accepted' | 'rejected'

export interface GraphNode {
  id: string
  height: number
  parents: string[]
  children: string[]
  status: VertexStatus
  /** The vertex's signed timestamp (the genesis: 0); never below a parent's (admission's time rule). */
  timestampMs: bigint
  /** The history cut is this vertex or in its causal past (so every vertex evicted under the cut is too). */
  reachesCut: boolean
}

/** What the graph knows of a vertex that is no longer in memory (one record per vertex on disk). */
export interface GraphRecord {
  height: number
  timestampMs: bigint
  parents: string[]
  /** Evicted as part of the causal past of a history cut (false: unknown, walk to find out). */
  underCut: boolean
  /** Its body was deleted below an anchored checkpoint (a pruned node); a walk of the pruner stops here. */
  pruned?: boolean
  /**
   * A synced ledger's record of a vertex deep in its checkpoint cut's past, below the band, named by an account
   * (its last transaction, an unproven credit): height and parents unknown (0 and none); see `SyncBase`.
   */
  base?: boolean
  /**
   * The author's index among the genesis validators (records written since s31): a commit-rule ledger resumes its
   * rule from the records alone, where it read every kept vertex's body for its author before.
   */
  author?: number
}

/**
 * The checkpoint cut a synced ledger started from (state sync): every vertex of past(ids) at heights ≥ floor has
 * its record here (the band), nothing below it but `base` records. `ids` is the cut's vertex, or under the commit
 * rule the maximal vertices of what the order reached through the cut's slot (its band's vertices no other band
 * vertex names). Ancestry of a base vertex X from V: X is in past(ids); if every one of `ids` is in past(V), so is
 * X; otherwise past(ids) \ past(V) is found by walking both pasts down through the band, and X is in past(V) when
 * that set closes above the floor (a vertex concurrent with the cut was built on the tips of its time, so it closes
 * a few heights down). If it does not close there, the answer is unknown here and the walk throws
 * SYNC_BASE_TOO_SHALLOW: never a guess.
 */
export interface SyncBase { ids: string[], floor: number }

/** Vertices one walk of past(base) \ past(V) may visit: a band holds at most a few thousand. */
const MAX_BASE_WALK = 20_000

/** Reads graph records of vertices that left memory. */
export interface GraphRecordSource {
  record: (id: string) => Promise<GraphRecord | undefined>
}

export class DagGraph {
  private readonly nodes = new Map<string, GraphNode>()
  /** non-rejected vertices whose children are all rejected (or that have none), kept incrementally */
  private readonly tipSet = new Set<string>()
  readonly genesisId: string
  /** Records of vertices that left memory; without one, the graph holds every vertex (nothing is evicted). */
  history: GraphRecordSource | undefined
  /** The history cut: below it, decided vertices are on disk only. The genesis until the first sweep. */
  cutId: string
  cutHeight = 0
  /** Highest accepted height seen (the decided frontier's height, for the window). */
  maxAcceptedHeight = 0
  /** Set on a ledger that started from a checkpoint cut (state sync). */
  syncBase: SyncBase | undefined

  constructor (genesisId: string) {
    this.genesisId = genesisId
    this.cutId = genesisId
    this.nodes.set(genesisId, { id: genesisId, height: 0, parents: [], children: [], status: 'accepted', timestampMs: 0n, reachesCut: true })
    this.tipSet.add(genesisId)
  }

  get size (): number { return this.nodes.size - 1 }
  get (id: string): GraphNode | undefined { return this.nodes.get(id) }
  has (id: string): boolean { return this.nodes.has(id) }
  values (): IterableIterator<GraphNode> { return this.nodes.values() }

  /** Adds a vertex whose parents are all present; returns its node. */
  add (id: string, parents: string[], status: VertexStatus, timestampMs = 0n): GraphNode {
    const existing = this.nodes.get(id)
    if (existing !== undefined) return existing
    let height = 0
    for (const p of parents) {
      const pn = this.nodes.get(p)
      if (pn === undefined) throw new Error(`parent ${p} missing`)
      if (pn.height > height) height = pn.height
    }
    const reachesCut = id === this.cutId || parents.some(p => this.nodes.get(p)?.reachesCut === true)
    const node: GraphNode = { id, height: height + 1, parents, children: [], status, timestampMs, reachesCut }
    this.nodes.set(id, node)
    if (status === 'accepted' && node.height > this.maxAcceptedHeight) this.maxAcceptedHeight = node.height
    for (const p of parents) this.nodes.get(p)?.children.push(id)
    if (status !== 'rejected') {
      for (const p of parents) this.tipSet.delete(p)
      this.tipSet.add(id)
    }
    return node
  }

  /** Records a status change; a rejected vertex stops being a tip and may make its parents tips again. */
  setStatus (node: GraphNode, status: VertexStatus): void {
    node.status = status
    if (status === 'accepted' && node.height > this.maxAcceptedHeight) this.maxAcceptedHeight = node.height
    if (status !== 'rejected') return
    this.tipSet.delete(node.id)
    for (const p of node.parents) {
      const pn = this.nodes.get(p)
      if (pn !== undefined && pn.status !== 'rejected' && pn.children.every(c => this.nodes.get(c)?.status === 'rejected')) this.tipSet.add(p)
    }
  }

  /** The largest timestamp among `parents` (present ones); 0 when none. */
  maxTimestamp (parents: Iterable<string>): bigint {
    let max = 0n
    for (const p of parents) {
      const t = this.nodes.get(p)?.timestampMs ?? 0n
      if (t > max) max = t
    }
    return max
  }

  /** Vertices without children, excluding rejected ones. */
  tips (): GraphNode[] {
    const out: GraphNode[] = []
    for (const id of this.tipSet) {
      const n = this.nodes.get(id)
      if (n !== undefined) out.push(n)
    }
    return out
  }

  /**
   * Which of `targets` are ancestors of (or equal to) one of `from`. Walks parents from `from`, never below the
   * lowest unresolved target's height; a vertex that left memory is read from its record on disk. A walk that meets
   * a vertex reaching the history cut resolves at once every target evicted under the cut.
   */
  async ancestorsAmong (from: string[], targets: Iterable<string>): Promise<Set<string>> {
    const want = new Map<string, number>()
    const underCut = new Set<string>()
    const base: string[] = []
    for (const t of targets) {
      const n = this.nodes.get(t)
      if (n !== undefined) { want.set(t, n.height); continue }
      const r = await this.history?.record(t)
      if (r === undefined) continue
      if (r.base === true) { base.push(t); continue }
      want.set(t, r.height)
      if (r.underCut) underCut.add(t)
    }
    const found = new Set<string>()
    if (base.length > 0 && await this.baseInPast(from)) {
      const rest = await this.ancestorsAmong(from, [...want.keys()])
      return new Set([...base, ...rest])
    }
    if (want.size === 0) return found
    let minHeight = lowest(want, found)
    const seen = new Set<string>()
    const stack = [...from]
    while (stack.length > 0 && found.size < want.size) {
      const id = stack.pop() as string
      if (seen.has(id)) continue
      seen.add(id)
      const n = this.nodes.get(id) ?? await this.history?.record(id)
      if (n === undefined) continue
      if (underCut.size > 0 && 'reachesCut' in n && n.reachesCut) {
        for (const u of underCut) found.add(u)
        underCut.clear()
        minHeight = lowest(want, found)
      }
      if (n.height < minHeight) continue
      if (want.has(id) && !found.has(id)) { found.add(id); minHeight = lowest(want, found) }
      for (const p of n.parents) if (!seen.has(p)) stack.push(p)
    }
    return found
  }

  /**
   * Whether every base vertex (SyncBase) is in past(from): true when the sync base is, or when past(base) \
   * past(from) closes inside the band. Throws SYNC_BASE_TOO_SHALLOW when it reaches below the band.
   */
  private async baseInPast (from: string[]): Promise<boolean> {
    const b = this.syncBase
    if (b === undefined) return false
    if ((await this.ancestorsAmong(from, b.ids)).size === b.ids.length) return true
    // both pasts, highest first: a vertex's labels are final when it is taken (its children are all higher)
    const IN_BASE = 1
    const IN_FROM = 2
    const label = new Map<string, number>()
    const heightOf = new Map<string, number>()
    const open: string[] = []
    const push = async (id: string, l: number): Promise<void> => {
      const had = label.get(id)
      if (had !== undefined) { label.set(id, had | l); return }
      const n = this.nodes.get(id) ?? await this.history?.record(id)
      // unknown here (below the band), or a base record: height −1, taken last
      heightOf.set(id, n === undefined || ('base' in n && n.base === true) ? -1 : n.height)
      label.set(id, l)
      open.push(id)
    }
    for (const id of b.ids) await push(id, IN_BASE)
    for (const f of from) await push(f, IN_FROM)
    let baseOnly = 1
    let taken = 0
    while (open.length > 0) {
      baseOnly = 0
      for (const id of open) if (label.get(id) === IN_BASE) baseOnly++
      if (baseOnly === 0) return true
      if (++taken > MAX_BASE_WALK) break
      let best = 0
      for (let i = 1; i < open.length; i++) if ((heightOf.get(open[i]) as number) > (heightOf.get(open[best]) as number)) best = i
      const id = open[best]
      open.splice(best, 1)
      const h = heightOf.get(id) as number
      const l = label.get(id) as number
      if (l === IN_BASE && h < b.floor) break
      const n = this.nodes.get(id) ?? await this.history?.record(id)
      if (n === undefined) continue
      for (const p of n.parents) await push(p, l)
    }
    throw new DagError('SYNC_BASE_TOO_SHALLOW', `ancestry below the checkpoint this ledger synced from (${b.ids[0].slice(0, 16)}, band from height ${b.floor}) is not known here`)
  }

  async isAncestorOrSelf (ancestor: string, of: string[]): Promise<boolean> {
    return (await this.ancestorsAmong(of, [ancestor])).has(ancestor)
  }

  /** The largest timestamp among `parents`, those on disk included; 0 when none is known. */
  async maxTimestampKnown (parents: Iterable<string>): Promise<bigint> {
    let max = 0n
    for (const p of parents) {
      const t = this.nodes.get(p)?.timestampMs ?? (await this.history?.record(p))?.timestampMs ?? 0n
      if (t > max) max = t
    }
    return max
  }

  /** All non-accepted ancestors of `id` including itself (the part of the DAG still being decided). */
  processingAncestry (id: string): GraphNode[] {
    const out: GraphNode[] = []
    const seen = new Set<string>()
    const stack = [id]
    while (stack.length > 0) {
      const cur = stack.pop() as string
      if (seen.has(cur)) continue
      seen.add(cur)
      const n = this.nodes.get(cur)
      if (n === undefined || n.status === 'accepted') continue
      out.push(n)
      for (const p of n.parents) stack.push(p)
    }
    return out
  }

  /** Every descendant of `id` (not including it). */
  descendants (id: string): GraphNode[] {
    const out: GraphNode[] = []
    const seen = new Set<string>([id])
    const stack = [...(this.nodes.get(id)?.children ?? [])]
    while (stack.length > 0) {
      const cur = stack.pop() as string
      if (seen.has(cur)) continue
      seen.add(cur)
      const n = this.nodes.get(cur)
      if (n === undefined) continue
      out.push(n)
      for (const c of n.children) stack.push(c)
    }
    return out
  }

  // ---------------------------------------------------------------- history leaving memory

  /**
   * Places a vertex read from disk with its recorded height (its parents may be on disk only): at start, and when
   * a new vertex names an evicted parent (faulted back in so consensus sees its status). `asTip` keeps the tip set
   * as `add` would; a faulted-in parent has children, so it is no tip.
   */
  place (id: string, r: GraphRecord, status: VertexStatus, asTip: boolean): GraphNode {
    const existing = this.nodes.get(id)
    if (existing !== undefined) return existing
    const node: GraphNode = { id, height: r.height, parents: r.parents, children: [], status, timestampMs: r.timestampMs, reachesCut: id === this.cutId }
    this.nodes.set(id, node)
    for (const p of r.parents) this.nodes.get(p)?.children.push(id)
    if (status === 'accepted' && node.height > this.maxAcceptedHeight) this.maxAcceptedHeight = node.height
    if (asTip && status !== 'rejected') {
      for (const p of r.parents) this.tipSet.delete(p)
      // a non-rejected vertex descends from the genesis through non-rejected vertices: the genesis is no tip, even
      // when its children left memory (a restart after the window moved, a ledger started from a checkpoint cut)
      this.tipSet.delete(this.genesisId)
      this.tipSet.add(id)
    }
    return node
  }

  /**
   * True when every one of `parents` is in memory and the highest puts their child at or above the history cut: had
   * that child been inserted, it would be in memory (eviction takes only heights below the cut, which only rises).
   */
  placesAtOrAboveCut (parents: readonly string[]): boolean {
    let max = -1
    for (const p of parents) {
      const n = this.nodes.get(p)
      if (n === undefined) return false
      if (n.height > max) max = n.height
    }
    return max >= 0 && max + 1 >= this.cutHeight
  }

  /** Moves the history cut to `id` (in memory) and recomputes which vertices reach it: its descendants. */
  setCut (id: string, height: number): void {
    this.cutId = id
    this.cutHeight = height
    for (const n of this.nodes.values()) n.reachesCut = false
    const stack = [id]
    // a ledger synced from a commit-rule cut keeps the cut's band in memory above the genesis as its history cut
    // (state-sync.ts); the band's lowest vertices, whose parents lie below it and never here, stand for the
    // genesis's children, so what descends from the band reaches the cut and the window can move past it (no
    // vertex is marked under this cut, so no ancestry is answered through it)
    if (id === this.genesisId && this.syncBase !== undefined) {
      for (const n of this.nodes.values()) if (n.id !== id && n.parents.every(p => !this.nodes.has(p))) stack.push(n.id)
    }
    while (stack.length > 0) {
      const n = this.nodes.get(stack.pop() as string)
      if (n === undefined || n.reachesCut) continue
      n.reachesCut = true
      for (const c of n.children) stack.push(c)
    }
  }

  /**
   * The next history cut: the highest accepted vertex that reaches the current cut and lies at least `window`
   * heights below the decided frontier; undefined until the frontier is `step` heights past the last move.
   */
  nextCut (window: number, step: number): GraphNode | undefined {
    const limit = this.maxAcceptedHeight - window
    if (limit < this.cutHeight + step) return undefined
    let best: GraphNode | undefined
    for (const n of this.nodes.values()) {
      if (n.status === 'accepted' && n.reachesCut && n.height <= limit && (best === undefined || n.height > best.height)) best = n
    }
    return best === undefined || best.id === this.cutId ? undefined : best
  }

  /**
   * What moving the cut to `cut` evicts: decided vertices below its height that are no tip and no parent of a
   * processing vertex (consensus reads those parents' status); `underCut` marks the ones in the cut's causal past.
   */
  evictionPlan (cut: GraphNode): Array<{ node: GraphNode, underCut: boolean }> {
    const past = new Set<string>()
    const stack = [...cut.parents]
    while (stack.length > 0) {
      const id = stack.pop() as string
      if (past.has(id)) continue
      const n = this.nodes.get(id)
      if (n === undefined) continue
      past.add(id)
      for (const p of n.parents) stack.push(p)
    }
    const out: Array<{ node: GraphNode, underCut: boolean }> = []
    for (const n of this.nodes.values()) {
      if (n.id === this.genesisId || n.id === cut.id || n.status === 'processing' || n.height >= cut.height || this.tipSet.has(n.id)) continue
      if (n.children.some(c => this.nodes.get(c)?.status === 'processing')) continue
      out.push({ node: n, underCut: past.has(n.id) })
    }
    return out
  }

  /** Drops vertices from memory (their records stay on disk). */
  evict (ids: Iterable<string>): void {
    for (const id of ids) if (id !== this.genesisId) this.nodes.delete(id)
  }
}

function lowest (want: Map<string, number>, found: Set<string>): number {
  let min = Infinity
  for (const [id, h] of want) if (!found.has(id) && h < min) min = h
  return min
}
