import type { ExternalChecker } from './external-validity.ts'
import type { OrderChecker } from './order-checkers.ts'
import type { StateCheck } from './tx-admission.ts'
import type { TxInfo } from './tx.ts'

/** An accepted vertex as the state cut reads it: `status`/`reason` are each transaction's recorded outcome. */
export interface AcceptedVertexView {
  parents: string[]
  txs: Array<{ tx: TxInfo, status: 'pending' | 'final' | 'rejected', reason?: string, recordVertexId?: string }>
}

/** A final transaction and the vertex that holds it. */
export interface FinalTx {
  vertexId: string
  tx: TxInfo
}

/**
 * What the DAG's neighbours (the bridge, the market, the API) may read: final outcomes and accounts, never the
 * store or the graph. Ids are lowercase hex without 0x.
 */
export interface LedgerReader {
  readonly chainId: string
  /** The genesis's consensus rule: under `commit` the order is the same at every node, and checks run at it. */
  readonly consensusRule: 'avalanche' | 'commit'
  /** Under the commit rule: every validator's address and stake, and the quorum of stake; undefined under Avalanche. */
  orderQuorum: () => { validators: ReadonlyArray<{ address: Uint8Array, stake: number }>, quorum: number } | undefined
  /** True when this node is a genesis validator (it issues vertices). */
  readonly isValidator: boolean
  /** The genesis validators' ML-DSA public keys, in genesis order. */
  validatorKeys: () => Uint8Array[]
  account: (address: Uint8Array) => Promise<{ balance: bigint, nonce: bigint }>
  /** The transaction if it is final on this node; undefined when pending, rejected or unknown. */
  finalTx: (txIdHex: string) => Promise<FinalTx | undefined>
  /** The transaction that won (account, nonce) and its vertex, once decided. */
  conflictDecision: (account: Uint8Array, nonce: bigint) => Promise<{ vertexId: string, txId: string } | undefined>
  /** True when `ancestor` is `of` or one of its ancestors (decided history may be read from disk). */
  isAncestor: (ancestor: string, of: string) => boolean | Promise<boolean>
  /** Which of `targets` are one of `from` or an ancestor of one (one walk for many targets). */
  ancestorsAmong: (from: string[], targets: string[]) => Promise<Set<string>>
  /** A vertex's graph record (height, signed timestamp, parents), in memory or on disk; undefined when unknown. */
  vertexRecord: (vertexId: string) => Promise<{ height: number, timestampMs: bigint, parents: readonly string[] } | undefined>
  /**
   * An accepted vertex's parents and the outcome of each of its transactions; undefined unless accepted here.
   * The state cut of a checkpoint (state-cut.ts) is built from these.
   */
  acceptedVertex: (vertexId: string) => Promise<AcceptedVertexView | undefined>
  /**
   * A decided vertex's decision and, under the commit rule, the slot that ordered it (slot-cut.ts `advanceCutToSlot`);
   * undefined while undecided or unknown.
   */
  vertexDecision: (vertexId: string) => Promise<{ status: 'accepted' | 'rejected', slot?: number } | undefined>
  /** The index in the genesis validators of a stored vertex's author; undefined without its body here. */
  vertexAuthorIndex: (vertexId: string) => Promise<number | undefined>
  /** Under the commit rule: the leaders of the committed slots after `after` through `through`, in slot order (at most `limit`, the first). */
  slotLeaders: (after: number, through: number, limit?: number) => Promise<Array<{ slot: number, vertexId: string }>>
  /** The genesis vertex id and allocations: the state below every cut. */
  genesisState: () => { vertexId: string, accounts: Array<{ address: Uint8Array, balance: bigint }> }
  /**
   * The earliest of the validators' latest final vertex times on this node (final-clock.ts): no honest validator's
   * vertex still to come is stamped at or before it. Undefined until every validator has a final vertex here.
   */
  sealedThroughMs: () => bigint | undefined
  /**
   * The transactions of `kinds` in the vertices this node holds undecided, each with the signed time of its vertex:
   * what is stamped before a moment and not final yet is here (or not received yet).
   */
  undecidedOf: (kinds: ReadonlySet<number>) => Array<{ tx: TxInfo, stampMs: bigint }>
  /** True while this node withholds its vote from a processing vertex (an outside check pending or failed). */
  isHeld: (vertexId: string) => boolean
  /** Processing vertices this node withholds its vote from. */
  heldCount: () => number
}

/** Where a neighbour plugs into the DAG: outside validity of the kinds it owns (the bridge's deposit credits). */
export interface LedgerRegistration {
  /** Installs (or with undefined removes) the outside check of transactions of `kind`. */
  setExternalChecker: (kind: number, checker: ExternalChecker | undefined) => void
  /** Checks the vertices held for a `pending` outside check of `kinds` again now: the view their checker reads moved. */
  recheckExternal: (kinds: ReadonlySet<number>) => void
  /**
   * Under the commit rule: installs (or with undefined removes) the check of `kind` where the order reaches it
   * (order-checkers.ts). Register before the ledger starts: a slot carrying the kind waits for it.
   */
  setOrderChecker: (kind: number, checker: OrderChecker | undefined) => void
  /**
   * Installs (or with undefined removes) the check of a client transaction of `kind` against the part's state before
   * this node queues it (tx-admission.ts StateCheck): a refusal is `TX_REFUSED` with the part's rule.
   */
  setStateCheck: (kind: number, check: StateCheck | undefined) => void
}
