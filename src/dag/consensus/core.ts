import type { VertexStages } from './stages.ts'

/** A transaction instance of a vertex: its (account, nonce) conflict key and its id. */
export interface InstanceRef {
  conflictKey: string
  txIdHex: string
}

export interface Decisions {
  /** accepted vertex ids, parents first (the order their transactions apply in) */
  accepted: string[]
  rejected: string[]
  /**
   * The commit rule: where each slot's vertices begin in `accepted` (ascending, the first 0). The same at every node,
   * unlike a batch: the ledger may commit a batch at a slot's start, never inside a slot (a restart resumes after the
   * last committed leader, CommitCore.resumeFromGraph).
   */
  slotStarts?: number[]
  /** The commit rule: for each entry of `slotStarts`, its slot's number (CommitRule.slotNumber) and its leader's id. */
  slots?: Array<{ number: number, leader: string }>
}

/** Appends `d` to `into` (its slots' starts moved by what `into` already holds). */
export function appendDecisions (into: Decisions, d: Decisions): void {
  if (d.slotStarts !== undefined) {
    const from = into.accepted.length
    into.slotStarts = [...into.slotStarts ?? [], ...d.slotStarts.map(i => i + from)]
    into.slots = [...into.slots ?? [], ...d.slots ?? []]
  }
  into.accepted.push(...d.accepted)
  into.rejected.push(...d.rejected)
}

/**
 * What the ledger asks of its consensus, whichever rule the genesis names (`consensus.rule`): Avalanche's polling
 * (avalanche-core.ts) or the DAG commit rule (commit-core.ts). Pure and synchronous; the ledger persists what a
 * call decided under its lock.
 */
export interface ConsensusCore {
  /** Vertices inserted and not decided yet. */
  readonly processingCount: number
  /** Conflict sets that had more than one instance (a metric). */
  readonly conflictsSeen: number
  /**
   * Registers a processing vertex (already in the graph, parents first). `lostKeys`: conflict keys decided for
   * another transaction before it arrived. Returns what this decided at once.
   */
  add: (vertexId: string, txs: InstanceRef[], lostKeys?: Set<string>) => Decisions
  /** Stages of an accepted vertex, once (the finality phases metric); undefined where the rule keeps none. */
  takeStages: (vertexId: string) => VertexStages | undefined
  /** Whether this node would build on the vertex (it and its undecided past preferred). */
  isStronglyPreferred: (vertexId: string, memo?: Map<string, boolean>) => boolean
  /** The undecided vertices of one (account, nonce) still in memory, and the decided one while its set is. */
  instanceVertices: (conflictKey: string) => string[]
  /** The instance of a conflict key this node builds on, if any is undecided. */
  preferredInstance: (conflictKey: string) => { vertexId: string, txIdHex: string } | undefined
  /** The winner of a conflict key decided and still in memory. */
  decidedTxId: (conflictKey: string) => string | undefined
  /** Ids of the undecided transactions of a conflict key. */
  liveTxIds: (conflictKey: string) => string[]
  /** Forgets a decided conflict key once nothing undecided holds it. */
  prune: (conflictKey: string) => void
  isProcessing: (vertexId: string) => boolean
  /** Outside validity (external-validity.ts): stop preferring a vertex until released; false if the rule cannot. */
  hold: (vertexId: string) => boolean
  release: (vertexId: string) => void
  veto: (vertexId: string) => void
  isHeld: (vertexId: string) => boolean
  onlyVetoedLive: (conflictKey: string) => boolean
}
