/**
 * The in-memory shape of the DAG: heights, parents, children and consensus status of every known vertex. Ancestry
 * questions ("is X in the causal past of V?") are answered here by a walk towards the genesis that stops below the
 * height of X, so recent questions stay cheap however long the DAG grows.
 */
export type VertexStatus = 'processing' | 'accepted' | 'rejected'

export interface GraphNode {
  id: string
  height: number
  parents: string[]
  children: string[]
  status: VertexStatus
  /** The vertex's signed timestamp (the genesis: 0); never below a parent's (admission's time rule). */
  timestampMs: bigint
}

export class DagGraph {
  private readonly nodes = new Map<string, GraphNode>()
  /** non-rejected vertices whose children are all rejected (or that have none), kept incrementally */
  private readonly tipSet = new Set<string>()
  readonly genesisId: string

  constructor (genesisId: string) {
    this.genesisId = genesisId
    this.nodes.set(genesisId, { id: genesisId, height: 0, parents: [], children: [], status: 'accepted', timestampMs: 0n })
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
    const node: GraphNode = { id, height: height + 1, parents, children: [], status, timestampMs }
    this.nodes.set(id, node)
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
   * lowest target's height.
   */
  ancestorsAmong (from: string[], targets: Iterable<string>): Set<string> {
    const want = new Set<string>()
    let minHeight = Infinity
    for (const t of targets) {
      const n = this.nodes.get(t)
      if (n === undefined) continue
      want.add(t)
      if (n.height < minHeight) minHeight = n.height
    }
    const found = new Set<string>()
    if (want.size === 0) return found
    const seen = new Set<string>()
    const stack = [...from]
    while (stack.length > 0 && found.size < want.size) {
      const id = stack.pop() as string
      if (seen.has(id)) continue
      seen.add(id)
      const n = this.nodes.get(id)
      if (n === undefined || n.height < minHeight) continue
      if (want.has(id)) found.add(id)
      for (const p of n.parents) if (!seen.has(p)) stack.push(p)
    }
    return found
  }

  isAncestorOrSelf (ancestor: string, of: string[]): boolean {
    return this.ancestorsAmong(of, [ancestor]).has(ancestor)
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
}
