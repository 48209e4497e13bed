import type { ConsensusParams } from '../genesis.ts'
import type { DagGraph, GraphNode } from '../graph.ts'
import type { ConsensusCore, Decisions, InstanceRef } from './core.ts'
import { leanTowardsPoll } from './liveness.ts'
import { StageClock, type VertexStages } from './stages.ts'

/**
 * Avalanche (the DAG algorithm of "Scalable and Probabilistic Leaderless BFT Consensus through Metastability",
 * Fig. 4/5) over this node's graph. Pure and synchronous: the network layer feeds it poll results.
 *
 * - A transaction instance is (vertex, position). Instances of one (account, nonce) form a conflict set, with
 *   Snowball state: preference, last, consecutive-success counter `cnt`, and per-instance chits (confidence).
 * - A poll returns each validator's preferred frontier; a vertex whose voters (it or a descendant in their
 *   frontier) hold at least the quorum of stake is a successful poll and gives a chit to every undecided instance:
 *   `if d(I) > d(pref) pref = I; if I != last {last = I; cnt = 1} else cnt++`.
 * - An instance is decided when its vertex's parents are all accepted and cnt ≥ β_virtuous (set of one) or
 *   β_rogue. A vertex is accepted when every instance in it is decided for it; rejected when any instance loses
 *   or a parent is rejected. Rejection cascades to descendants.
 */


interface ConflictSet {
  key: string
  members: Set<string>
  chits: Map<string, number>
  pref: string
  last: string | null
  cnt: number
  /** instance key of the decided winner */
  decided: string | null
}


function instanceKey (vertexId: string, index: number): string {
  return `${vertexId}/${index}`
}

export function instanceVertex (key: string): string {
  return key.slice(0, key.indexOf('/'))
}

export class AvalancheCore implements ConsensusCore {
  private readonly graph: DagGraph
  private readonly params: ConsensusParams
  private readonly sets = new Map<string, ConflictSet>()
  /** instances of processing vertices */
  private readonly vertexInstances = new Map<string, Array<InstanceRef & { key: string }>>()
  private readonly processing = new Set<string>()
  /** instance key -> tx id */
  private readonly instanceTx = new Map<string, string>()
  /** processing vertices this node does not prefer yet: an outside check (DagLedger.external) has not passed */
  private readonly held = new Set<string>()
  /** held vertices whose outside check said invalid: their instances lose this node's preference to any other
   *  member of their conflict sets (an honest competitor can win where the invalid one came first) */
  private readonly vetoed = new Set<string>()
  conflictsSeen = 0
  private readonly stages: StageClock
  // Bumped by every change that can move a preference or the processing set (add, votes, hold, release): strong
  // preference and the frontier are memoised per version (recomputing them per poller turn and per query answer
  // was ~10% of a loaded node's CPU; docs/ledger-profile.md).
  private version = 0
  private memo = { version: -1, strong: new Map<string, boolean>(), frontierVersion: -1, frontier: [] as string[] }

  constructor (graph: DagGraph, params: ConsensusParams, nowMs: () => number = Date.now) { this.graph = graph; this.params = params; this.stages = new StageClock(nowMs) }

  get processingCount (): number { return this.processing.size }
  /** Stages of an accepted vertex, once (the decision writer's finality phases). */
  takeStages (vertexId: string): VertexStages | undefined { return this.stages.take(vertexId) }

  /**
   * Registers a processing vertex (already in the graph). `lostKeys` are conflict keys that were decided for
   * another transaction before this vertex arrived: the vertex is rejected at once, as it is when a parent is.
   */
  add (vertexId: string, txs: InstanceRef[], lostKeys: Set<string> = new Set()): Decisions {
    this.version++
    const node = this.graph.get(vertexId)
    if (node === undefined || node.status !== 'processing' || this.vertexInstances.has(vertexId)) return { accepted: [], rejected: [] }
    const refs = txs.map((t, i) => ({ ...t, key: instanceKey(vertexId, i) }))
    this.vertexInstances.set(vertexId, refs)
    this.processing.add(vertexId)
    this.stages.add(vertexId)
    for (const r of refs) {
      this.instanceTx.set(r.key, r.txIdHex)
      let cs = this.sets.get(r.conflictKey)
      if (cs === undefined) {
        cs = { key: r.conflictKey, members: new Set(), chits: new Map(), pref: r.key, last: null, cnt: 0, decided: null }
        this.sets.set(r.conflictKey, cs)
      } else if (cs.members.size === 1) {
        this.conflictsSeen++
      }
      cs.members.add(r.key)
      cs.chits.set(r.key, 0)
    }
    const parentRejected = node.parents.some(p => this.graph.get(p)?.status === 'rejected')
    const lost = refs.some(r => lostKeys.has(r.conflictKey) || (this.sets.get(r.conflictKey)?.decided ?? null) !== null)
    if (parentRejected || lost) {
      const rejected: string[] = []
      this.reject(vertexId, rejected)
      this.version++
      return { accepted: [], rejected }
    }
    return { accepted: [], rejected: [] }
  }

  /** Does this node strongly prefer `vertexId`: it and all its processing ancestry preferred in their sets. */
  isStronglyPreferred (vertexId: string, memo = this.versionMemo()): boolean {
    const cached = memo.get(vertexId)
    if (cached !== undefined) return cached
    const node = this.graph.get(vertexId)
    let result: boolean
    if (node === undefined || node.status === 'rejected') result = false
    else if (node.status === 'accepted') result = true
    else if (this.held.has(vertexId)) result = false
    else {
      result = true
      for (const r of this.vertexInstances.get(vertexId) ?? []) {
        const cs = this.sets.get(r.conflictKey)
        if (cs === undefined || this.preferredKey(cs) !== r.key) { result = false; break }
      }
      if (result) {
        for (const p of node.parents) if (!this.isStronglyPreferred(p, memo)) { result = false; break }
      }
    }
    memo.set(vertexId, result)
    return result
  }

  private versionMemo (): Map<string, boolean> {
    if (this.memo.version !== this.version) this.memo = { ...this.memo, version: this.version, strong: new Map() }
    return this.memo.strong
  }
  /** The preferred frontier: preferred processing vertices without preferred processing children. */
  pollCandidates (): string[] {
    if (this.memo.frontierVersion === this.version) return [...this.memo.frontier]
    const memo = this.versionMemo()
    const out: string[] = []
    for (const id of this.processing) {
      if (!this.isStronglyPreferred(id, memo)) continue
      const node = this.graph.get(id) as GraphNode
      if (node.children.some(c => this.processing.has(c) && this.isStronglyPreferred(c, memo))) continue
      out.push(id)
    }
    this.memo = { ...this.memo, frontier: out, frontierVersion: this.version }
    return [...out]
  }

  /**
   * Feeds the votes of one poll about `queried`. `votes` maps a vertex id to the STAKE of the validators whose
   * preferred frontier includes it or a descendant of it (a vote for a vertex is a vote for its ancestry, as in
   * avalanchego; one vote per validator key). Every processing vertex with at least `quorum` stake is a successful
   * poll for its instances. A conflict set the poll touched where no member succeeded moves its preference by the
   * liveness rule (see `leanTowardsPoll`).
   */
  recordVotes (queried: string, votes: Map<string, number>, quorum: number): Decisions {
    this.version++
    const decisions: Decisions = { accepted: [], rejected: [] }
    const successful: GraphNode[] = []
    for (const [id, stake] of votes) {
      if (stake < quorum || !this.processing.has(id)) continue
      const node = this.graph.get(id)
      if (node !== undefined) successful.push(node)
    }
    for (const node of successful) {
      for (const r of this.vertexInstances.get(node.id) ?? []) {
        const cs = this.sets.get(r.conflictKey)
        if (cs === undefined || cs.decided !== null) continue
        const d = (cs.chits.get(r.key) ?? 0) + 1
        cs.chits.set(r.key, d)
        if (d > (cs.chits.get(cs.pref) ?? 0)) cs.pref = r.key
        if (cs.last !== r.key) { cs.last = r.key; cs.cnt = 1 } else cs.cnt++
      }
    }
    this.stages.observe(votes, successful, node => this.canAccept(node, true))
    this.leanTowardsPoll(queried, votes, new Set(successful.map(n => n.id)))
    // No reset on an unsuccessful poll (the paper's DAG algorithm): `cnt` restarts only when another instance of
    // the set gets a chit. Measured: resetting on every poll that lacked α votes (avalanchego's Snowball) kept
    // counters near zero under continuous load, because responders' newest vertices are often unknown to the
    // querier and so carry no vote, and finality waited for the load to stop.
    const ancestry = this.processing.has(queried) ? this.graph.processingAncestry(queried) : []
    this.settle([...successful, ...ancestry], decisions)
    this.version++ // a memo filled during the change must not outlive it
    return decisions
  }

  /** The liveness rule (./liveness.ts) over every conflict set this poll touched where no member succeeded. */
  private leanTowardsPoll (queried: string, votes: Map<string, number>, successfulIds: Set<string>): void {
    const touched = new Set<ConflictSet>()
    for (const id of [...votes.keys(), queried]) {
      if (!this.processing.has(id)) continue
      for (const r of this.vertexInstances.get(id) ?? []) {
        const cs = this.sets.get(r.conflictKey)
        if (cs !== undefined && cs.decided === null && cs.members.size > 1) touched.add(cs)
      }
    }
    for (const cs of touched) {
      if ([...cs.members].some(m => successfulIds.has(instanceVertex(m)))) continue
      cs.pref = leanTowardsPoll({
        members: cs.members,
        pref: cs.pref,
        stakeOf: m => votes.get(instanceVertex(m)) ?? 0,
        txOf: m => this.instanceTx.get(m) ?? '',
        isLive: m => this.processing.has(instanceVertex(m))
      })
    }
  }

  /** A poll where every sampled validator voted for `vertexId` (used when this node is the only validator). */
  recordPoll (vertexId: string, success: boolean): Decisions {
    const votes = new Map<string, number>()
    if (success) for (const n of this.graph.processingAncestry(vertexId)) votes.set(n.id, 1)
    return this.recordVotes(vertexId, votes, 1)
  }

  /** Processing ancestry ids (including itself) of each of `frontier`, as one set: what a responder votes for. */
  voteSet (frontier: string[]): Set<string> {
    const out = new Set<string>()
    for (const f of frontier) for (const n of this.graph.processingAncestry(f)) out.add(n.id)
    return out
  }

  private threshold (cs: ConflictSet): number {
    return cs.members.size === 1 ? this.params.betaVirtuous : this.params.betaRogue
  }

  private canAccept (node: GraphNode, parentsAside = false): boolean {
    if (node.status !== 'processing') return false
    if (!parentsAside) for (const p of node.parents) if (this.graph.get(p)?.status !== 'accepted') return false
    for (const r of this.vertexInstances.get(node.id) ?? []) {
      const cs = this.sets.get(r.conflictKey)
      if (cs === undefined) return false
      if (cs.decided === r.key) continue
      if (cs.decided !== null) return false
      if (cs.last !== r.key || cs.pref !== r.key || cs.cnt < this.threshold(cs)) return false
    }
    return true
  }

  private settle (candidates: GraphNode[], decisions: Decisions): void {
    let work = candidates
    while (work.length > 0) {
      work.sort((a, b) => a.height - b.height)
      const next = new Map<string, GraphNode>()
      for (const node of work) {
        if (!this.canAccept(node)) continue
        this.accept(node, decisions)
        for (const c of node.children) {
          const cn = this.graph.get(c)
          if (cn !== undefined && cn.status === 'processing') next.set(c, cn)
        }
      }
      work = [...next.values()]
    }
  }

  private accept (node: GraphNode, decisions: Decisions): void {
    this.graph.setStatus(node, 'accepted')
    this.processing.delete(node.id)
    this.held.delete(node.id)
    this.vetoed.delete(node.id)
    decisions.accepted.push(node.id)
    for (const r of this.vertexInstances.get(node.id) ?? []) {
      const cs = this.sets.get(r.conflictKey)
      if (cs === undefined) continue
      cs.decided = r.key
      cs.pref = r.key
      for (const other of [...cs.members]) {
        if (other === r.key) continue
        const v = instanceVertex(other)
        if (this.graph.get(v)?.status === 'processing') this.reject(v, decisions.rejected)
      }
    }
    this.vertexInstances.delete(node.id)
  }

  private reject (vertexId: string, out: string[]): void {
    const node = this.graph.get(vertexId)
    if (node === undefined || node.status !== 'processing') return
    this.graph.setStatus(node, 'rejected')
    this.processing.delete(vertexId)
    this.stages.drop(vertexId)
    this.held.delete(vertexId)
    this.vetoed.delete(vertexId)
    out.push(vertexId)
    for (const r of this.vertexInstances.get(vertexId) ?? []) {
      const cs = this.sets.get(r.conflictKey)
      this.instanceTx.delete(r.key)
      if (cs === undefined) continue
      cs.members.delete(r.key)
      cs.chits.delete(r.key)
      if (cs.decided !== null) continue
      if (cs.members.size === 0) { this.sets.delete(r.conflictKey); continue }
      if (cs.pref === r.key) {
        let best = ''
        let bestChits = -1
        for (const m of cs.members) {
          const c = cs.chits.get(m) ?? 0
          if (c > bestChits) { best = m; bestChits = c }
        }
        cs.pref = best
      }
      if (cs.last === r.key) { cs.last = null; cs.cnt = 0 }
    }
    this.vertexInstances.delete(vertexId)
    for (const c of node.children) this.reject(c, out)
  }

  /**
   * Stops preferring a processing vertex (and so voting for it, polling it or building on it, and the same for
   * its descendants) until `release`. Returns false when the vertex is not processing.
   */
  hold (vertexId: string): boolean {
    if (!this.processing.has(vertexId)) return false
    this.version++
    this.held.add(vertexId)
    return true
  }

  release (vertexId: string): void { this.version++; this.held.delete(vertexId); this.vetoed.delete(vertexId) }

  /** Holds a vertex and gives its instances' preference to any other member of their conflict sets. */
  veto (vertexId: string): void { if (this.hold(vertexId)) this.vetoed.add(vertexId) }

  /** True when the conflict set has live instances and every one of them is in a vetoed vertex. */
  onlyVetoedLive (conflictKey: string): boolean {
    const cs = this.sets.get(conflictKey)
    if (cs === undefined || cs.decided !== null) return false
    let live = 0
    for (const m of cs.members) {
      const v = instanceVertex(m)
      if (!this.processing.has(v)) continue
      if (!this.vetoed.has(v)) return false
      live++
    }
    return live > 0
  }

  /** The set's preference as this node votes: the chit-based one, unless it is vetoed and another member is not. */
  private preferredKey (cs: ConflictSet): string {
    if (this.vetoed.size === 0 || !this.vetoed.has(instanceVertex(cs.pref))) return cs.pref
    let best = cs.pref
    let bestChits = -1
    for (const m of cs.members) {
      if (this.vetoed.has(instanceVertex(m))) continue
      const c = cs.chits.get(m) ?? 0
      if (c > bestChits) { best = m; bestChits = c }
    }
    return best
  }
  isHeld (vertexId: string): boolean { return this.held.has(vertexId) }
  isProcessing (vertexId: string): boolean { return this.processing.has(vertexId) }

  /** Preferred, undecided instance of a conflict key: its vertex and tx id. */
  preferredInstance (conflictKey: string): { vertexId: string, txIdHex: string } | undefined {
    const cs = this.sets.get(conflictKey)
    if (cs === undefined || cs.members.size === 0) return undefined
    const txIdHex = this.instanceTx.get(cs.pref)
    return txIdHex === undefined ? undefined : { vertexId: instanceVertex(cs.pref), txIdHex }
  }

  /** Vertices holding an instance of a conflict key that is processing or decided (while the set is in memory). */
  instanceVertices (conflictKey: string): string[] {
    const cs = this.sets.get(conflictKey)
    return cs === undefined ? [] : [...cs.members].map(instanceVertex)
  }

  /** The winning tx id of a decided conflict set still in memory. */
  decidedTxId (conflictKey: string): string | undefined {
    const cs = this.sets.get(conflictKey)
    return cs === undefined || cs.decided === null ? undefined : this.instanceTx.get(cs.decided)
  }

  /** Tx ids of live (processing) instances of a conflict key. */
  liveTxIds (conflictKey: string): string[] {
    const cs = this.sets.get(conflictKey)
    if (cs === undefined) return []
    const out: string[] = []
    for (const m of cs.members) {
      const t = this.instanceTx.get(m)
      if (t !== undefined && this.processing.has(instanceVertex(m))) out.push(t)
    }
    return out
  }

  /** Drops decided sets whose instances are all settled, to bound memory. */
  prune (conflictKey: string): void {
    const cs = this.sets.get(conflictKey)
    if (cs === undefined || cs.decided === null) return
    for (const m of cs.members) if (this.processing.has(instanceVertex(m))) return
    for (const m of cs.members) this.instanceTx.delete(m)
    this.sets.delete(conflictKey)
  }
}
