/** The market coordinator's parts and settings (coordinator.ts). */
import type { Logger } from '../core/logger.ts'
import type { ExternalVerdict } from '../dag/external-validity.ts'
import type { OrderChecker } from '../dag/order-checkers.ts'
import type { LedgerReader } from '../dag/reader.ts'
import type { Transaction, TxInfo } from '../dag/tx.ts'
import type { VertexInfo } from '../dag/vertex.ts'
import type { SignerKeys } from './kinds/index.ts'
import type { MarketState } from './state/market-state.ts'
import type { TaskView } from './state/reader.ts'

/** Re-runs a disputed task on this node and returns its result commitment (hex). */
export type Reexecute = (task: TaskView) => Promise<string>

export interface CoordinatorInit {
  /** Issue decisions (validators only). With false the node only checks. @default true */
  issue?: boolean
  /** Delay per turn rank before a validator issues a decision. @default 1500 */
  proposeDelayMs?: number
  /** How often open tasks are walked. @default 250 */
  tickMs?: number
  /** Lateness and the award wait this long past the window on this node's clock (finality of in-time ones). @default 2000 */
  lateGraceMs?: number
  /** A settle waits this long after the last awaited result. @default 0 */
  verificationWindowMs?: number
  /** A decision not final after this long is issued again (its vertex may have lost). @default 10000 */
  resubmitMs?: number
}

export interface CoordinatorComponents {
  dag: {
    reader: LedgerReader
    submitTransaction: (tx: Transaction) => Promise<string>
    setExternalChecker: (kind: number, checker: ((tx: TxInfo) => Promise<ExternalVerdict>) | undefined) => void
    /** Asks the ledger to check the held decisions again now (the market state they wait for moved). */
    recheckExternal: (kinds: ReadonlySet<number>) => void
    /** Under the commit rule: the checks of decisions where the order reaches them (src/dag/order-checkers.ts). */
    setOrderChecker: (kind: number, checker: OrderChecker | undefined) => void
  }
  state: MarketState
  /**
   * Vertices as this node inserts them (the ledger's `vertex:inserted`): a decision another validator issued shows
   * here before it is final, and this node does not issue its own at the same slot meanwhile (a second transaction
   * at one account and nonce is a conflict: a vertex rejected and β_rogue polls for the set).
   */
  vertices?: {
    on: (event: 'vertex:inserted', listener: (info: VertexInfo) => void) => unknown
    off: (event: 'vertex:inserted', listener: (info: VertexInfo) => void) => unknown
  }
  /** The node's ledger key: signs awards, settles and slashes. */
  identity: SignerKeys
  logger: Logger
  reexecute?: Reexecute
  /** Counts issued decisions and check verdicts (metrics.ts). */
  onIssued?: (kind: 'award' | 'settle' | 'slash' | 'reexec', detail: string) => void
  /** Counts decisions refused where the commit rule's order reached them (metrics.ts). */
  onOrderRefused?: (kind: 'award' | 'settle' | 'slash', verdict: 'pending' | 'invalid') => void
  /**
   * After each walk: the open tasks whose award or late slash is due on the wall clock and held here for a reveal
   * or result of theirs stamped in time and still finalizing (PlanClock.finalizing; metrics.ts).
   */
  onFinalizingHeld?: (tasks: number) => void
  /** An award or late slash issued once the wait for such a reveal or result ran out (FINALIZING_WAIT_MS; metrics.ts). */
  onFinalizingCut?: (kind: 'award' | 'slash') => void
}
