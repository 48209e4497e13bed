import type { EventEmitter } from 'node:events'
import { toHex } from '../core/codec.ts'
import type { AvalancheCore, Decisions } from './consensus/avalanche-core.ts'
import type { LedgerEvents } from './events.ts'
import type { LedgerState } from './ledger-state.ts'
import type { Mempool } from './mempool.ts'
import type { DagMetrics } from './metrics.ts'
import type { ProcessingIndex } from './processing.ts'
import type { DagBatch, DagStore, TxRecord } from './store.ts'
import type { TxInfo } from './tx.ts'

export interface LedgerCounters { acceptedVertices: bigint, rejectedVertices: bigint, finalTxs: bigint, rejectedTxs: bigint }

export interface DecisionWriterComponents {
  store: DagStore
  state: LedgerState
  core: AvalancheCore
  processing: ProcessingIndex
  mempool: Mempool
  /** The ledger's event emitter: tx:final, tx:rejected, vertex:accepted fire after the commit. */
  events: EventEmitter<LedgerEvents>
  metrics?: DagMetrics
}

/**
 * Persists consensus decisions: one LevelDB batch per round holds, for each accepted vertex (in order), its
 * decision, the account changes (LedgerState.applyVertex) and the transaction outcomes; for each rejected vertex
 * its decision and the transactions that lost their conflict. Events fire and memory is pruned only after the
 * commit, so nothing is reported final before it is on disk.
 */
export class DecisionWriter {
  private readonly c: DecisionWriterComponents
  counters: LedgerCounters = { acceptedVertices: 0n, rejectedVertices: 0n, finalTxs: 0n, rejectedTxs: 0n }
  /** Order of acceptance of the last accepted vertex. */
  seq = 0n
  /** The last accepted vertex (the genesis until one is; the ledger sets it when it loads the graph). */
  lastAccepted = ''

  constructor (components: DecisionWriterComponents) {
    this.c = components
  }

  /** Reloads the counters at start. */
  async load (): Promise<void> {
    this.counters = await this.c.store.getCounters()
    this.seq = this.counters.acceptedVertices
  }

  async persist (d: Decisions): Promise<void> {
    if (d.accepted.length === 0 && d.rejected.length === 0) return
    const { store, state } = this.c
    const b = store.batch()
    const after: Array<() => void> = []
    for (const id of d.accepted) await this.applyAccepted(b, id, after)
    for (const id of d.rejected) await this.applyRejected(b, id, after)
    store.putCounters(b, this.counters)
    await b.commit()
    state.invalidateRoot()
    for (const fn of after) fn()
  }

  private async applyAccepted (b: DagBatch, idHex: string, after: Array<() => void>): Promise<void> {
    const { store, state, core, processing, mempool, events, metrics } = this.c
    const info = processing.get(idHex)
    if (info === undefined) return
    const now = Date.now()
    this.seq++
    store.putDecision(b, info.id, { status: 'accepted', seq: this.seq })
    const outcomes = await state.applyVertex(b, info)
    for (const o of outcomes) {
      store.putConflictDecision(b, o.info.account, o.info.tx.nonce, info.id, o.info.id)
      const rec: TxRecord = { status: o.ok ? 'final' : 'rejected', vertexId: info.id, reason: o.reason, decidedAtMs: BigInt(now) }
      store.putTxRecord(b, o.info.id, rec)
      if (o.ok) this.counters.finalTxs++
      else this.counters.rejectedTxs++
    }
    this.counters.acceptedVertices++
    this.lastAccepted = idHex
    const received = processing.firstSeenMs(idHex)
    after.push(() => {
      processing.drop(info)
      metrics?.verticesAccepted.inc()
      if (received !== undefined) metrics?.finalitySeconds.observe((Date.now() - received) / 1000)
      for (const o of outcomes) {
        mempool.remove(o.info.idHex)
        core.prune(o.info.conflictKey)
        if (o.ok) events.emit('tx:final', o.info, idHex)
        else events.emit('tx:rejected', o.info, o.reason)
      }
      metrics?.txsFinal.inc(outcomes.filter(o => o.ok).length)
      events.emit('vertex:accepted', idHex)
    })
  }

  private async applyRejected (b: DagBatch, idHex: string, after: Array<() => void>): Promise<void> {
    const { store, state, core, processing, mempool, events, metrics } = this.c
    const info = processing.get(idHex)
    if (info === undefined) return
    store.putDecision(b, info.id, { status: 'rejected', seq: 0n })
    const lost: TxInfo[] = []
    const reissue: TxInfo[] = []
    for (const t of info.txs) {
      // The winner of this (account, nonce), if decided: the consensus core still holds the set (pruning
      // happens after this batch), and a decision always consumes the account's nonce.
      let winner = core.decidedTxId(t.conflictKey)
      if (winner === undefined && (await state.account(t.account)).nonce > t.tx.nonce) {
        // decided in an earlier, committed batch and pruned from memory since
        const d = await store.getConflictDecision(t.account, t.tx.nonce)
        if (d !== undefined) winner = toHex(d.txId)
      }
      if (winner !== undefined && winner !== t.idHex) {
        store.putTxRecord(b, t.id, { status: 'rejected', vertexId: info.id, reason: 'conflict', decidedAtMs: BigInt(Date.now()) })
        lost.push(t)
        this.counters.rejectedTxs++
      } else if (winner === undefined && processing.isOwn(idHex)) {
        reissue.push(t)
      }
    }
    this.counters.rejectedVertices++
    after.push(() => {
      processing.drop(info)
      metrics?.verticesRejected.inc()
      for (const t of reissue) {
        try { mempool.add(t) } catch { /* mempool full: the client resubmits */ }
      }
      for (const t of lost) {
        mempool.remove(t.idHex)
        events.emit('tx:rejected', t, 'conflict')
      }
    })
  }
}
