/**
 * Parts of a state cut that the floors above the ledger add (docs/protocol.md "State roots of checkpoints"): the
 * market's records, say, which a node that starts from a checkpoint needs as much as the accounts. A part folds the
 * final transactions of its kinds, vertex by vertex in a canonical order of the cut's new vertices (height, then
 * id: parents always come first), into a state of its own, so every node computes the same bytes for the same cut;
 * the cut carries them and the checkpoint's `dagRoot` binds them. A module registers its part with its
 * transaction kinds (`registerCutPart`), so every node that can decode those transactions folds them alike.
 */
import type { BinaryDb, BinarySublevel } from '../core/storage.ts'
import type { TxInfo } from './tx.ts'

/** A part's id in the cut's encoding (u8): 1 the market's records, 2 the bridge's unsettled withdrawals. */
export type CutPartId = number

/** A final transaction of the cut's new vertices, with what its vertex says about when. */
export interface CutTx {
  tx: TxInfo
  vertexId: string
  /** The vertex's signed timestamp. */
  vertexTimeMs: bigint
}

/** Ancestry among the cut's vertices (the ledger's), for a part whose rule reads it. */
export interface CutAncestry {
  isAncestor: (ancestor: string, of: string) => Promise<boolean> | boolean
  /** The genesis validators' public keys (a part's rules may name a validator: the market's input-claim judges). */
  validatorKeys: () => readonly Uint8Array[]
}

/** One record a part writes when a node starts from a cut (in the cut's install batch). */
export interface PartWrite { sublevel: BinarySublevel, key: Uint8Array, value: Uint8Array }

export interface CutPart<S = unknown> {
  id: CutPartId
  name: string
  /** The transaction kinds it folds (their final outcomes only). */
  kinds: ReadonlySet<number>
  /** Its state at the genesis. */
  empty: () => S
  /**
   * `prev` advanced by `txs`, in order; does not change `prev`. It must give the same state whether a history comes
   * in one call or split anywhere into several (a node without the last epoch's cut folds from the genesis).
   */
  advance: (prev: S, txs: readonly CutTx[], ancestry: CutAncestry) => Promise<S>
  /** Canonical bytes of a state (one byte string per state). */
  encode: (state: S) => Uint8Array
  /** encode's inverse; throws on anything else. */
  decode: (bytes: Uint8Array) => S
  /** Vertices below the cut the state names, whose ancestry a node started from the cut must answer (base records). */
  baseVertices?: (state: S) => Iterable<string>
  /** The records a node that starts from a cut with this state writes (in the cut's install batch). */
  installWrites: (state: S, db: BinaryDb) => PartWrite[]
}

const parts = new Map<CutPartId, CutPart>()

/** Registers a part; registering the same part again is a no-op, another under a taken id throws. */
export function registerCutPart<S> (part: CutPart<S>): void {
  if (!Number.isInteger(part.id) || part.id < 1 || part.id > 0xff) throw new RangeError('cut part id must be 1..255')
  const cur = parts.get(part.id)
  if (cur === (part as unknown as CutPart)) return
  if (cur !== undefined) throw new Error(`cut part ${part.id} registered twice`)
  parts.set(part.id, part as unknown as CutPart)
}

/** The registered parts, by id. */
export function cutParts (): CutPart[] {
  return [...parts.values()].sort((a, b) => a.id - b.id)
}

export function getCutPart (id: CutPartId): CutPart | undefined {
  return parts.get(id)
}

/** The install writes of every part of a cut (state-sync.ts's `extra`). */
export function cutPartWrites (states: ReadonlyMap<CutPartId, unknown>, db: BinaryDb): PartWrite[] {
  const out: PartWrite[] = []
  for (const [id, state] of states) {
    const part = parts.get(id)
    if (part !== undefined) out.push(...part.installWrites(state, db))
  }
  return out
}
