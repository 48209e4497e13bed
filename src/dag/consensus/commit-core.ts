import { toHex } from '../../core/codec.ts'
import { DagError } from '../errors.ts'
import { type ConsensusParams, type GenesisValidator, quorumOf } from '../genesis.ts'
import type { DagGraph, GraphNode } from '../graph.ts'
import { MAX_ROUND_PARENTS } from '../vertex.ts'
import { CommitRule, type RoundVertex, type Slot } from './commit-rule.ts'
import type { ConsensusCore, Decisions, InstanceRef } from './core.ts'
import type { VertexStages } from './stages.ts'

/**
 * The ledger's consensus under `consensus.rule: 'commit'` (docs/consensus-next.md): the DAG commit rule
 * (commit-rule.ts) over this node's graph, behind the interface the ledger already uses for Avalanche.
 *
 * - A vertex's round is its height in the DAG (1 + its highest parent's height): the round rules then say its
 *   parents of the height below hold the quorum, one per author; parents lower down are weak links. The genesis is
 *   round 0. Nothing is added to the vertex format: the round follows from the signed parents.
 * - Every vertex the rule orders is accepted, in the rule's order, whatever it carries: a transaction whose
 *   (account, nonce) an earlier one in the order consumed is rejected where the sequence reaches it
 *   (`LedgerState.applyVertex`, reason `nonce`). No conflict sets, no votes, no holds.
 * - A vertex the rule collected unordered (gcDepth rounds below a committed leader) is rejected.
 */
/** Rounds a committed leader orders below it (CommitRuleParams.gcDepth): the same at every node of a network. */
export const COMMIT_GC_DEPTH = 50

/** How far down a builder looks for vertices nothing names yet (weak links). */
const WEAK_LINK_ROUNDS = 10
/** Weak links one vertex names at most (its parents of the round below come first, MAX_ROUND_PARENTS in all). */
const MAX_WEAK_LINKS = 8

export interface CommitCoreInit {
  /** Rounds a committed leader orders below it (CommitRuleParams.gcDepth). @default 50 */
  gcDepth?: number
}

/**
 * The leader of slot i of round r: the genesis validators by key, in turn from r (the same list at every node;
 * distinct within a round for up to as many slots as validators).
 */
export function commitLeaders (validators: readonly GenesisValidator[]): (round: number, index: number) => string {
  const keys = validators.map(v => toHex(v.publicKey)).sort()
  return (round, index) => keys[(round + index) % keys.length]
}

/**
 * The round a validator's next vertex would be in, whether it has one there already, whether that round's leader
 * was seen below it, whether anything waits (queued transactions, undecided vertices that carry some, or other
 * validators' vertices in that round), and whether a full batch is queued.
 */
export interface RoundView { round: number, built: boolean, leaderSeen: boolean, work: boolean, full: boolean }

export class CommitCore implements ConsensusCore {
  private readonly graph: DagGraph
  readonly rule: CommitRule
  /** vertex id -> author key (hex), given by the ledger when it registers the vertex */
  private readonly authorOf: (vertexId: string) => string | undefined
  private readonly processing = new Set<string>()
  /** conflict key -> undecided instances (vertex, tx) */
  private readonly instances = new Map<string, Array<{ vertexId: string, txIdHex: string }>>()
  private readonly keysOf = new Map<string, string[]>()
  /** processing vertices that carry transactions: while there are any, rounds must move on (the proposer's pacing) */
  private carrying = 0
  private readonly gcDepth: number
  conflictsSeen = 0

  constructor (graph: DagGraph, validators: readonly GenesisValidator[], params: ConsensusParams, authorOf: (vertexId: string) => string | undefined, init: CommitCoreInit = {}) {
    this.graph = graph
    this.authorOf = authorOf
    this.gcDepth = init.gcDepth ?? COMMIT_GC_DEPTH
    const stake = new Map(validators.map(v => [toHex(v.publicKey), v.weight]))
    const total = validators.reduce((s, v) => s + v.weight, 0)
    this.rule = new CommitRule({ stake, quorum: quorumOf(total, params), leaderOf: commitLeaders(validators), leaders: params.leaders ?? 1, gcDepth: this.gcDepth })
  }

  get processingCount (): number { return this.processing.size }
  /** Undecided vertices that carry transactions. */
  get carryingCount (): number { return this.carrying }

  /**
   * The round a vertex with these parents has (1 + the highest parent's), checked against the round rules before
   * it is stored: its parents of the round below, one per author, holding the quorum; lower ones are weak links; the
   * genesis alone in round 1. Returns undefined for a vertex of a round already collected (late: it will never be
   * ordered; stored, then rejected). Throws PARENTS_INVALID.
   */
  roundOf (idHex: string, authorHex: string, parentHex: readonly string[]): number | undefined {
    const heights = parentHex.map(p => this.graph.get(p)?.height)
    if (heights.some(h => h === undefined)) throw new DagError('PARENTS_INVALID', 'a parent is not in memory')
    const round = 1 + Math.max(...heights as number[])
    if (round === 1 && (parentHex.length !== 1 || parentHex[0] !== this.graph.genesisId)) throw new DagError('PARENTS_INVALID', 'a round-1 vertex names the genesis alone')
    try {
      return this.rule.check(this.roundVertex(idHex, authorHex, round, parentHex)) ? round : undefined
    } catch (err) {
      throw new DagError('PARENTS_INVALID', err instanceof Error ? err.message : String(err))
    }
  }

  // weak links below the rounds the rule keeps are dropped: no leader orders them any more, here or elsewhere
  private roundVertex (id: string, author: string, round: number, parents: readonly string[]): RoundVertex {
    return { id, author, round, parents: round === 1 ? [] : parents.filter(p => this.graph.get(p)?.height === round - 1 || this.rule.has(p)) }
  }

  add (vertexId: string, txs: InstanceRef[]): Decisions {
    const node = this.graph.get(vertexId)
    const author = this.authorOf(vertexId)
    if (node === undefined || node.status !== 'processing' || this.processing.has(vertexId) || author === undefined) return { accepted: [], rejected: [] }
    const v = this.roundVertex(vertexId, author, node.height, node.parents)
    if (!this.rule.has(vertexId)) {
      try {
        this.rule.add(v)
      } catch {
        // late (its round collected since it was admitted) or, after a restart, below the rounds kept: never ordered
        this.graph.setStatus(node, 'rejected')
        return { accepted: [], rejected: [vertexId] }
      }
    }
    this.processing.add(vertexId)
    if (txs.length > 0) this.carrying++
    const keys: string[] = []
    for (const t of txs) {
      let list = this.instances.get(t.conflictKey)
      if (list === undefined) this.instances.set(t.conflictKey, list = [])
      else if (list.length === 1) this.conflictsSeen++
      list.push({ vertexId, txIdHex: t.txIdHex })
      keys.push(t.conflictKey)
    }
    this.keysOf.set(vertexId, keys)
    return this.advance()
  }

  /** Outputs what the rule decided since the last call: its ordered vertices accepted, its collected ones rejected. */
  advance (): Decisions {
    const out: Decisions & { slotStarts: number[], slots: NonNullable<Decisions['slots']> } = { accepted: [], rejected: [], slotStarts: [], slots: [] }
    for (const slot of this.rule.next()) {
      const start = out.accepted.length
      for (const v of slot.vertices) this.settle(v.id, 'accepted', out.accepted)
      if (out.accepted.length > start && slot.leader !== undefined) {
        // the leader comes last in its slot (it has the highest round of its causal past)
        out.slotStarts.push(start)
        out.slots.push({ number: this.rule.slotNumber(slot), leader: slot.leader.id })
      }
      for (const v of slot.dropped) this.settle(v.id, 'rejected', out.rejected)
    }
    return out
  }

  private settle (id: string, status: 'accepted' | 'rejected', out: string[]): void {
    const node = this.graph.get(id)
    if (node === undefined || node.status !== 'processing') return
    this.graph.setStatus(node, status)
    this.forget(id)
    out.push(id)
  }

  private forget (id: string): void {
    if (!this.processing.delete(id)) return
    const keys = this.keysOf.get(id) ?? []
    if (keys.length > 0) this.carrying--
    for (const k of keys) {
      const list = (this.instances.get(k) ?? []).filter(i => i.vertexId !== id)
      if (list.length === 0) this.instances.delete(k)
      else this.instances.set(k, list)
    }
    this.keysOf.delete(id)
  }

  /**
   * After a restart, once the loader placed the graph and before the undecided vertices are registered: the rule
   * starts after the last committed leader. A leader orders only its own round and those below, so the accepted
   * vertices of the highest accepted round are that round's committed leaders, and the last output slot is the
   * latest of theirs (the slots after it in that round were skipped or not decided: deciding them again outputs
   * the same). The accepted vertices of the rounds the rule keeps are marked ordered, each with its author's key
   * (hex) from `authorOf` (the ledger reads it from the vertex's graph record, a synced band's list, or its body).
   * The same holds after a sync: the band's vertices of its highest round are the leaders of that round's slots
   * through the cut's slot.
   */
  async resumeFromGraph (authorOf: (vertexId: string) => Promise<string | undefined>): Promise<void> {
    const last = this.graph.maxAcceptedHeight
    const keptFrom = Math.max(1, last - this.gcDepth)
    const accepted: Array<{ node: GraphNode, author: string }> = []
    for (const node of this.graph.values()) {
      if (node.status !== 'accepted' || node.id === this.graph.genesisId || node.height < keptFrom) continue
      const author = await authorOf(node.id)
      if (author === undefined) throw new DagError('STORAGE_FAILED', `accepted vertex ${node.id} has no author on record and no body: the commit rule cannot resume`)
      accepted.push({ node, author })
    }
    let nextSlot: Slot | undefined
    for (const { node, author } of accepted) {
      if (node.height !== last) continue
      const after = this.rule.slotAfter(last, author)
      if (after === undefined) throw new DagError('STORAGE_FAILED', `accepted vertex ${node.id} of the highest accepted round ${last} is not a leader of it: the commit rule cannot resume`)
      if (nextSlot === undefined || after.round > nextSlot.round || (after.round === nextSlot.round && after.index > nextSlot.index)) nextSlot = after
    }
    this.rule.resume({ nextSlot: nextSlot ?? { round: last + 1, index: 0 }, keptFrom })
    for (const { node, author } of accepted.sort((a, b) => a.node.height - b.node.height)) {
      this.rule.add(this.roundVertex(node.id, author, node.height, node.parents))
      this.rule.markOrdered(node.id)
    }
  }

  /** Where the rounds stand for a validator's pacing (DagLedger.roundView). */
  view (selfHex: string, queued: number, maxBatch: number): RoundView {
    const next = this.nextRound()
    // others' vertices in the round this node would build are work too: a round stops short of the quorum when a
    // validator with queued transactions built it and the rest were idle (they cannot see its mempool), and the
    // next round needs the quorum of this one (found in the loop: three of four waiting for each other for ever)
    const work = (queued > 0 && !this.stalled) || this.carrying > 0 || this.rule.round(next.round).length > 0
    return { round: next.round, built: this.builtIn(selfHex, next.round), leaderSeen: next.leaderSeen, work, full: queued >= maxBatch }
  }

  /**
   * Rounds up to this one count as built by this node whatever its graph holds: the round guard's record
   * (round-guard.ts) of a vertex this key built before the ledger was resynced or lost.
   */
  builtThrough = 0

  /** Whether this node built (or, by the round guard, may have built) a vertex in `round`. */
  private builtIn (selfHex: string, round: number): boolean { return round <= this.builtThrough || this.hasVertexOf(selfHex, round) }

  /**
   * The round this node's next vertex belongs to and its parents of the round below: one vertex per author of the
   * highest round whose vertices here hold the quorum (the lowest id of an equivocating author's); round 1, naming
   * the genesis, while no round does. Cheap: the pacing asks it at every vertex inserted (weak links: nextParents).
   */
  nextRound (): { round: number, parents: string[], leaderSeen: boolean } {
    for (let r = this.rule.topRound; r >= Math.max(1, this.rule.lowestRound); r--) {
      const byAuthor = new Map<string, RoundVertex>()
      for (const v of this.rule.round(r)) {
        const had = byAuthor.get(v.author)
        if (had === undefined || v.id < had.id) byAuthor.set(v.author, v)
      }
      const chosen = [...byAuthor.values()]
      if (this.rule.stakeOf(chosen) < this.rule.quorum) continue
      return { round: r + 1, parents: chosen.map(v => v.id), leaderSeen: this.leadersSeen(r, byAuthor) }
    }
    return { round: 1, parents: [this.graph.genesisId], leaderSeen: true }
  }

  /**
   * Whether the leaders of round r worth waiting for are in `byAuthor`: those with a vertex in the round below (all
   * of them when that round is not kept). A leader that made none there is likely down or far behind: building
   * without it costs its slot a skip, where waiting would cost every round the wait.
   */
  private leadersSeen (r: number, byAuthor: ReadonlyMap<string, RoundVertex>): boolean {
    const below = r - 1 >= this.rule.lowestRound ? new Set(this.rule.round(r - 1).map(v => v.author)) : undefined
    for (const leader of this.rule.leadersOf(r).keys()) {
      if (!byAuthor.has(leader) && (below === undefined || below.has(leader))) return false
    }
    return true
  }

  /** The round and parents of this node's next vertex, or null when it built one in that round already. */
  nextParents (selfHex: string, allowEmpty: boolean): { round: number, parents: string[], allowEmpty: boolean } | null {
    const next = this.nextRound()
    if (this.builtIn(selfHex, next.round)) return null
    const parents = next.parents
    // weak links, oldest first, to the vertices of the last rounds that nothing here names yet (one that came too
    // late for the round above it would otherwise be left unordered and dropped: measured in the kill -9 campaign
    // before this, 56 of ~1,500 vertices)
    const below = next.round - 1
    const most = Math.min(MAX_ROUND_PARENTS, parents.length + MAX_WEAK_LINKS)
    for (const v of below < 1 ? [] : this.rule.outside(parents, below - WEAK_LINK_ROUNDS, below)) {
      if (parents.length >= most) break
      parents.push(v.id)
    }
    return { round: next.round, parents, allowEmpty }
  }

  /**
   * Set when this node built a vertex that could take none of its queued transactions (their earlier nonces are
   * nowhere in reach), cleared when a transaction is queued (`txQueued`): until then the queue is not work for the
   * rounds (a vertex arriving with transactions is, and may bring those nonces into reach). `queuedAtChoice` is
   * `queuedCount` when the vertex's transactions were chosen: one queued since (while the vertex was signed, off
   * the event loop) was never looked at, so the verdict does not cover it (it did: a transfer queued then waited
   * in an idle network until the next one came). Returns whether the verdict changed.
   */
  mempoolStalled (stalled: boolean, queuedAtChoice: number): boolean {
    if (queuedAtChoice !== this.queued || stalled === this.stalled) return false
    this.stalled = stalled
    return true
  }

  /** Whether the queue is set aside as stalled (mempoolStalled): not work for the rounds until more is queued. */
  get queueStalled (): boolean { return this.stalled }

  /** A transaction was queued: the queue is work again. */
  txQueued (): void { this.queued++; this.stalled = false }
  /** Transactions queued since start (mempoolStalled). */
  get queuedCount (): number { return this.queued }
  private queued = 0
  private stalled = false

  /** Pairs of vertices of one author in one round seen since start: equivocations (commit-rule.ts keeps the evidence). */
  get equivocationsSeen (): number { return this.rule.equivocationsSeen }

  /** Whether `author` has a vertex of `round` here. */
  hasVertexOf (author: string, round: number): boolean { return this.rule.round(round).some(v => v.author === author) }

  takeStages (): VertexStages | undefined { return undefined }
  isStronglyPreferred (vertexId: string): boolean {
    const s = this.graph.get(vertexId)?.status
    return s === 'accepted' || s === 'processing'
  }

  instanceVertices (conflictKey: string): string[] { return (this.instances.get(conflictKey) ?? []).map(i => i.vertexId) }
  preferredInstance (conflictKey: string): { vertexId: string, txIdHex: string } | undefined { return this.instances.get(conflictKey)?.[0] }
  // the writer finds the winner of a consumed nonce on disk (its conflict decision)
  decidedTxId (): string | undefined { return undefined }
  liveTxIds (conflictKey: string): string[] { return (this.instances.get(conflictKey) ?? []).map(i => i.txIdHex) }
  prune (): void {}
  isProcessing (vertexId: string): boolean { return this.processing.has(vertexId) }
  // no holds: validity is decided from the order (docs/consensus-next.md step 4): a kind's orderCheck, or the check
  // its part registers (order-checkers.ts)
  hold (): boolean { return false }
  release (): void {}
  veto (): void {}
  isHeld (): boolean { return false }
  onlyVetoedLive (): boolean { return false }
}
