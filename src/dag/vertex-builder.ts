import type { EventEmitter } from 'node:events'
import { fromHex } from '../core/codec.ts'
import type { ConsensusCore } from './consensus/core.ts'
import type { Genesis } from './genesis.ts'
import type { DagGraph } from './graph.ts'
import type { LedgerEvents } from './events.ts'
import type { LedgerState } from './ledger-state.ts'
import type { Mempool } from './mempool.ts'
import type { DagStore } from './store.ts'
import type { TxInfo } from './tx.ts'
import { buildVertexInfoAsync, MAX_PARENTS, type VertexInfo } from './vertex.ts'

export interface VertexBuilderComponents {
  genesis: Genesis
  identity: { publicKey: Uint8Array, secretKey: Uint8Array }
  store: DagStore
  graph: DagGraph
  core: ConsensusCore
  state: LedgerState
  mempool: Mempool
  events: EventEmitter<LedgerEvents>
}

/**
 * Chooses this node's next vertex: up to maxBatch mempool transactions whose previous nonce is in the causal past
 * of the chosen parents (the strongly preferred tips, plus a parent per transaction when needed), signed by this
 * node. Runs under the ledger's lock.
 */
export class VertexBuilder {
  private readonly c: VertexBuilderComponents

  constructor (components: VertexBuilderComponents) {
    this.c = components
  }

  /**
   * Returns the signed vertex and the transactions it holds, or undefined when nothing can be issued. `round`: the
   * commit rule's next vertex, whose parents are fixed (one per author of the round below): a transaction whose
   * previous nonce is not in their past waits for a later round; `allowEmpty` builds it with none.
   */
  async build (maxBatch: number, lastAccepted: string, round?: { parents: string[], allowEmpty: boolean }): Promise<{ info: VertexInfo, chosen: TxInfo[] } | undefined> {
    const { store, graph, core, state, mempool, events } = this.c
    const memo = new Map<string, boolean>()
    let parents: string[]
    if (round !== undefined) parents = [...round.parents]
    else {
      const tips = graph.tips()
        .filter(t => t.status === 'accepted' || core.isStronglyPreferred(t.id, memo))
        .sort((a, b) => b.height - a.height)
      parents = tips.slice(0, MAX_PARENTS - 2).map(t => t.id)
      if (parents.length === 0) parents.push(lastAccepted)
    }
    const chosen: TxInfo[] = []
    const chosenKeys = new Set<string>()
    for (const accountHex of mempool.accounts()) {
      if (chosen.length >= maxBatch) break
      const queued = mempool.forAccount(accountHex)
      if (queued.length === 0) continue
      // the transactions carry their account's bytes: no hex decode per account per build
      const acct = await state.account(queued[0].account)
      for (const t of queued) {
        if (chosen.length >= maxBatch) break
        const n = t.tx.nonce
        if (n < acct.nonce) {
          const rec = await store.getTxRecord(t.id)
          if (rec === undefined) {
            const b = store.batch()
            store.putTxRecord(b, t.id, { status: 'rejected', vertexId: new Uint8Array(32), reason: 'conflict', decidedAtMs: BigInt(Date.now()) })
            await b.commit()
            events.emit('tx:rejected', t, 'conflict')
          }
          // removed only once its record is on disk: a reader never finds it in neither place
          mempool.remove(t.idHex)
          continue
        }
        if (core.liveTxIds(t.conflictKey).includes(t.idHex)) { mempool.remove(t.idHex); continue }
        if (chosenKeys.has(t.conflictKey)) continue
        if (n > 0n && !chosenKeys.has(`${accountHex}:${n - 1n}`) && round !== undefined) {
          const candidates = core.instanceVertices(`${accountHex}:${n - 1n}`)
          const decided = await state.decidedVertex(t.account, n - 1n)
          if (decided !== undefined) candidates.push(decided)
          if ((await graph.ancestorsAmong(parents, candidates)).size === 0) break
        } else if (n > 0n && !chosenKeys.has(`${accountHex}:${n - 1n}`)) {
          const pref = core.preferredInstance(`${accountHex}:${n - 1n}`)
          let prev = pref !== undefined && core.isStronglyPreferred(pref.vertexId, memo) ? pref.vertexId : undefined
          prev ??= await state.decidedVertex(t.account, n - 1n)
          if (prev === undefined) break
          if (!await graph.isAncestorOrSelf(prev, parents)) {
            if (parents.length >= MAX_PARENTS) break
            parents.push(prev)
          }
        }
        chosen.push(t)
        chosenKeys.add(t.conflictKey)
      }
    }
    if (chosen.length === 0 && round?.allowEmpty !== true) return undefined
    const info = await buildVertexInfoAsync(this.c.genesis.chainId, {
      author: this.c.identity.publicKey,
      secretKey: this.c.identity.secretKey,
      parents: parents.map(p => fromHex(p)),
      txs: chosen,
      // the time rule: never below a parent's timestamp (a parent from a clock ahead of ours is within maxFutureMs)
      timestampMs: maxBig(BigInt(Date.now()), await graph.maxTimestampKnown(parents))
    })
    return { info, chosen }
  }
}

function maxBig (a: bigint, b: bigint): bigint { return a > b ? a : b }
