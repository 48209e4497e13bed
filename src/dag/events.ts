import type { TxInfo } from './tx.ts'
import type { FinalPlace } from './tx-kinds.ts'
import type { VertexInfo } from './vertex.ts'

/** What the ledger tells its parts and its service: decisions as they are committed, vertices as they arrive. */
export interface LedgerEvents {
  /**
   * A transaction became final in the vertex with this id (hex), after the decision was committed, at this place in
   * the finality order (what keyed its kind's `finalRecords`).
   */
  'tx:final': [TxInfo, string, FinalPlace]
  /** A transaction lost its conflict or failed its checks at application: its reason. */
  'tx:rejected': [TxInfo, string]
  'vertex:accepted': [string]
  /** A client transaction was admitted into this node's mempool (the proposer builds on it). */
  'tx:queued': [TxInfo]
  'vertex:inserted': [VertexInfo]
}
