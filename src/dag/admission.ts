import { toHex } from '../core/codec.ts'
import type { ConsensusCore } from './consensus/core.ts'
import { DagError } from './errors.ts'
import type { Genesis } from './genesis.ts'
import type { DagGraph } from './graph.ts'
import type { LedgerState } from './ledger-state.ts'
import type { DagStore } from './store.ts'
import { txSigningMessageFromEncoded } from './tx.ts'
import { requireTxKind, type TxKind } from './tx-kinds.ts'
import type { SignatureVerifier, VerifyItem } from './verify-pool.ts'
import { MAX_PARENTS, type VertexInfo, vertexSigningMessageOf } from './vertex.ts'

// Standalone verdicts kept per vertex id: a vertex arriving by gossip and by a sync walk (a query about it can
// overtake its gossip) is verified once; enough for the undecided window of 4 nodes at load, bounded.
const CHECKED_CACHE = 2048

export interface VertexAdmissionInit {
  /** Vertices from the future beyond this are ignored (clock skew allowance). @default 10000 */
  maxFutureMs?: number
}

export interface VertexAdmissionComponents {
  genesis: Genesis
  verifier: SignatureVerifier
  store: DagStore
  graph: DagGraph
  core: ConsensusCore
  state: LedgerState
}

/**
 * Whether a vertex may enter the DAG: the standalone checks (author, timestamp, kinds, fees, every signature,
 * batched in the verifier pool) and, once its parents are present, nonce chaining against its causal past.
 */
export class VertexAdmission {
  private readonly c: VertexAdmissionComponents
  private readonly maxFutureMs: number
  private readonly validators: Set<string>
  /** id -> the standalone check under way or passed (an id is the hash of the bytes: one verdict per id) */
  private readonly checked = new Map<string, Promise<void>>()

  constructor (components: VertexAdmissionComponents, init: VertexAdmissionInit = {}) {
    this.c = components
    this.maxFutureMs = init.maxFutureMs ?? 10_000
    this.validators = new Set(components.genesis.validators.map(v => toHex(v.publicKey)))
  }

  isValidator (publicKey: Uint8Array): boolean { return this.validators.has(toHex(publicKey)) }

  /** Fee and signer rules of a transaction's kind (stateless: the genesis fixes them). */
  checkKindRules (kind: TxKind, tx: { fee: bigint, publicKey: Uint8Array }): void {
    if (kind.validatorOnly === true && !this.validators.has(toHex(tx.publicKey))) {
      throw new DagError('AUTHOR_UNKNOWN', `a ${kind.name} transaction must be signed by a genesis validator`)
    }
    if (kind.feeExempt !== true && tx.fee < this.c.genesis.minFee) {
      throw new DagError('FEE_TOO_LOW', `fee ${tx.fee} is below the minimum ${this.c.genesis.minFee}`)
    }
  }

  /**
   * Checks that need no DAG: author, timestamp, signatures (vertex and every transaction, in the pool). Once per
   * vertex id: a second caller shares the check under way or its pass (profiled: about half of the vertices at
   * 1,000 tx/s were checked twice, once from gossip and once from a sync walk; docs/ledger-profile.md).
   */
  async checkStandalone (info: VertexInfo): Promise<void> {
    if (this.c.graph.has(info.idHex)) return // inserted: it passed these checks before
    let check = this.checked.get(info.idHex)
    if (check === undefined) {
      check = this.checkStandaloneOnce(info)
      if (this.checked.size >= CHECKED_CACHE) this.checked.delete(this.checked.keys().next().value as string)
      this.checked.set(info.idHex, check)
      // a failure is not kept: a verifier outage (VERIFIER_FAILED) must not condemn the vertex
      check.catch(() => { if (this.checked.get(info.idHex) === check) this.checked.delete(info.idHex) })
    }
    await check
  }

  private async checkStandaloneOnce (info: VertexInfo): Promise<void> {
    const chainId = this.c.genesis.chainId
    if (!this.validators.has(toHex(info.vertex.author))) throw new DagError('AUTHOR_UNKNOWN', 'vertex author is not a validator of this network')
    if (info.vertex.timestampMs > BigInt(Date.now() + this.maxFutureMs)) throw new DagError('TIMESTAMP_FUTURE', 'vertex timestamp is too far in the future')
    // only the commit rule moves its rounds with empty vertices; under Avalanche one would be polled for nothing
    if (this.c.genesis.consensus.rule !== 'commit') {
      if (info.txs.length === 0) throw new DagError('ENCODING_INVALID', 'a vertex carries at least one transaction under the avalanche rule')
      // the wire allows a round's worth of parents (the commit rule's); Avalanche builds on at most MAX_PARENTS tips
      if (info.vertex.parents.length > MAX_PARENTS) throw new DagError('PARENTS_INVALID', `a vertex has at most ${MAX_PARENTS} parents under the avalanche rule`)
    }
    const keys = new Set<string>()
    for (const t of info.txs) {
      if (keys.has(t.conflictKey)) throw new DagError('TX_CONFLICT', 'vertex holds two transactions of one account with one nonce')
      keys.add(t.conflictKey)
      this.checkKindRules(requireTxKind(t.tx.kind), t.tx)
    }
    const items: VerifyItem[] = [{ sig: info.vertex.signature, msg: vertexSigningMessageOf(chainId, info), publicKey: info.vertex.author }]
    for (const t of info.txs) items.push({ sig: t.tx.signature, msg: txSigningMessageFromEncoded(chainId, t.encoded), publicKey: t.tx.publicKey })
    const ok = await this.c.verifier.verifyBatch(items)
    const bad = ok.indexOf(false)
    if (bad === 0) throw new DagError('SIGNATURE_INVALID', 'vertex signature invalid')
    if (bad > 0) throw new DagError('SIGNATURE_INVALID', `transaction ${bad - 1} signature invalid`)
  }

  /**
   * The time rule (docs/market.md "Time"): a vertex never claims a time before its own past, so a timestamp is a
   * lower bound every descendant respects (the market's bid windows are judged by it). Parents must be present.
   * Throws TIMESTAMP_BEFORE_PARENT.
   */
  checkTimeOrder (info: VertexInfo): void {
    const parentMax = this.c.graph.maxTimestamp(info.parentHex)
    if (info.vertex.timestampMs < parentMax) {
      throw new DagError('TIMESTAMP_BEFORE_PARENT', `vertex timestamp ${info.vertex.timestampMs} is below its parent's ${parentMax}`)
    }
  }

  /**
   * Nonce chaining: (A, n-1) must be earlier in this vertex or in its causal past. Memory first (the processing
   * sets and the account's latest decided vertex), the store's instance index as the fallback. Throws NONCE_UNCHAINED.
   */
  async checkNonceChain (info: VertexInfo): Promise<void> {
    const { core, state, graph, store } = this.c
    const inVertex = new Set<string>()
    for (const t of info.txs) {
      if (t.tx.nonce > 0n && !inVertex.has(`${t.accountHex}:${t.tx.nonce - 1n}`)) {
        const prevKey = `${t.accountHex}:${t.tx.nonce - 1n}`
        const candidates = core.instanceVertices(prevKey)
        const decided = await state.decidedVertex(t.account, t.tx.nonce - 1n)
        if (decided !== undefined) candidates.push(decided)
        if ((await graph.ancestorsAmong(info.parentHex, candidates)).size === 0) {
          const stored = (await store.txInstances(t.account, t.tx.nonce - 1n)).map(p => toHex(p.vertexId))
          if ((await graph.ancestorsAmong(info.parentHex, stored)).size === 0) {
            throw new DagError('NONCE_UNCHAINED', 'a transaction\'s previous nonce is not in the vertex\'s causal past')
          }
        }
      }
      inVertex.add(t.conflictKey)
    }
  }
}
