/**
 * Under the commit rule, the checks of kinds whose validity another part decides from its own state (the market's
 * awards, settles and slashes, recomputed from the market state: docs/consensus-next.md step 4). The order is the
 * same at every node, so such a check is deterministic when it reads that part's state as of the same point of the
 * order at every node and the order's clock (the carrying vertex's signed time), never this node's clock:
 *
 * - `ready()` runs before the ledger applies a slot of the commit rule whose vertices carry one of these kinds, after
 *   everything ordered before that slot is committed: it resolves once the part's state holds all of it (the market
 *   drains its queue). A slot boundary is the same at every node; a batch boundary is not.
 * - `check(tx, at)` then runs where the sequence reaches the transaction, its nonce already matched, with the order's
 *   clock: the carrying vertex's time and the final clock as of the slot's start (kept with the decisions). A refusal is the
 *   transaction's one decision (`order-check`), and its nonce stays unused for a valid one signed again.
 *
 * A kind flagged `externalCheck` whose checker is not registered yet is waited for (logged), not decided: a node
 * deciding it without its part would differ from the others. The node registers the market's before the ledger
 * starts. Memory: one entry per kind.
 */
import type { Logger } from '../core/logger.ts'
import { DagError } from './errors.ts'
import { type Genesis, orderCheckContextOf } from './genesis.ts'
import type { TxInfo } from './tx.ts'
import { getTxKind, type OrderCheckContext } from './tx-kinds.ts'

/** What the commit rule's order checks read: the validators and quorum (TxKind.orderCheck), the parts' checkers. */
export type OrderRules = Pick<OrderCheckContext, 'validators' | 'quorum'> & {
  checkers?: OrderCheckers
  /** The final clock as of the round's start (it moves only after a round commits): OrderPoint.sealedThroughMs. */
  sealedThroughMs?: () => bigint | undefined
}

/** Where the order reached a transaction, as its check reads it: the same at every node. */
export interface OrderPoint { vertexTimeMs: bigint, sealedThroughMs: bigint | undefined }

export interface OrderChecker {
  /** Resolves once this part's state holds every transaction committed before the call. */
  ready: () => Promise<void>
  /**
   * Undefined when valid where the order reached it, else why not (the checker logs it; the ledger records
   * `order-check`). `at`: the carrying vertex's signed time, and the final clock as of the slot's start (each
   * validator's latest ordered vertex time, the earliest of them; final-clock.ts), undefined until every validator
   * has an ordered vertex.
   */
  check: (tx: TxInfo, at: OrderPoint) => Promise<string | undefined>
}

export class OrderCheckers {
  private readonly checkers = new Map<number, OrderChecker>()
  private readonly waiting = new Map<number, Array<{ resolve: () => void, reject: (err: Error) => void }>>()
  private readonly log: Logger
  private closed = false

  constructor (log: Logger) { this.log = log }

  /** Registers (or with undefined removes) the checker of a kind flagged `externalCheck`. */
  set (kind: number, checker: OrderChecker | undefined): void {
    if (checker === undefined) { this.checkers.delete(kind); return }
    this.checkers.set(kind, checker)
    for (const w of this.waiting.get(kind) ?? []) w.resolve()
    this.waiting.delete(kind)
  }

  get (kind: number): OrderChecker | undefined { return this.checkers.get(kind) }
  has (kind: number): boolean { return this.checkers.has(kind) }

  /**
   * What must happen before a slot carrying these transactions is applied: undefined when none of them has an outside
   * check, else a wait for each such kind's checker (its registration, then its `ready`).
   */
  readyFor (txs: Iterable<TxInfo>): (() => Promise<void>) | undefined {
    const kinds = new Set<number>()
    for (const t of txs) if (getTxKind(t.tx.kind)?.externalCheck === true && getTxKind(t.tx.kind)?.orderCheck === undefined) kinds.add(t.tx.kind)
    if (kinds.size === 0) return undefined
    return async () => {
      for (const kind of kinds) await (await this.registered(kind)).ready()
    }
  }

  /** Fails every wait for a registration (the ledger stops). */
  close (): void {
    this.closed = true
    for (const list of this.waiting.values()) for (const w of list) w.reject(new DagError('NOT_RUNNING', 'the ledger stopped'))
    this.waiting.clear()
  }

  private async registered (kind: number): Promise<OrderChecker> {
    const have = this.checkers.get(kind)
    if (have !== undefined) return have
    if (this.closed) throw new DagError('NOT_RUNNING', 'the ledger stopped')
    this.log.warn({ kind }, 'a committed slot carries a kind whose order check is not registered: waiting for it')
    let list = this.waiting.get(kind)
    if (list === undefined) this.waiting.set(kind, list = [])
    await new Promise<void>((resolve, reject) => { list.push({ resolve, reject }) })
    return this.checkers.get(kind) as OrderChecker
  }
}

/**
 * The commit rule's wiring of a ledger: what LedgerState's order checks read (validators, quorum, these checkers, the
 * final clock) and the decision writer's wait before a slot (`ready` of the slot's vertices, their transactions read
 * through `txsOf`). Undefined under Avalanche.
 */
export function orderWiring (genesis: Pick<Genesis, 'validators' | 'consensus'>, checkers: OrderCheckers, sealedThroughMs: () => bigint | undefined, txsOf: (vertexId: string) => readonly TxInfo[] | undefined): { rules: OrderRules, ready: (vertexIds: readonly string[]) => (() => Promise<void>) | undefined } | undefined {
  const order = orderCheckContextOf(genesis)
  if (order === undefined) return undefined
  return { rules: { ...order, checkers, sealedThroughMs }, ready: ids => checkers.readyFor(ids.flatMap(id => txsOf(id) ?? [])) }
}
