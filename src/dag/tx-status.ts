import { fromHex, toHex } from '../core/codec.ts'
import type { DagHistory } from './history.ts'
import type { Mempool } from './mempool.ts'
import type { ProcessingIndex } from './processing.ts'
import type { DagStore } from './store.ts'
import type { TxInfo } from './tx.ts'
import { vertexInfo } from './vertex.ts'

export interface TxStatusView {
  /** `pruned`: decided (see `outcome`) in a vertex whose body this pruned node deleted below an anchored checkpoint */
  status: 'pending' | 'final' | 'rejected' | 'pruned'
  outcome?: 'final' | 'rejected'
  vertexId?: string
  reason?: string
  tx?: TxInfo
}

export interface TxStatusParts {
  store: DagStore
  history: Pick<DagHistory, 'record'>
  mempool: Pick<Mempool, 'get'>
  processing: Pick<ProcessingIndex, 'txOf'>
}

/** A transaction's status (`tx_get`): its decision record, else queued or in an undecided vertex, else unknown. */
export async function txStatus (c: TxStatusParts, idHex: string): Promise<TxStatusView | undefined> {
  const recorded = await recordedTx(c, idHex)
  if (recorded !== undefined) return recorded
  const inMempool = c.mempool.get(idHex)
  if (inMempool !== undefined) return { status: 'pending', tx: inMempool }
  const p = c.processing.txOf(idHex)
  if (p !== undefined) return { status: 'pending', ...p }
  // This read runs outside the ledger's lock: a decision committed while we looked drops the processing entry only
  // after its record is on disk, so a second read finds it (without it, a transaction just decided was reported
  // unknown for a moment).
  return await recordedTx(c, idHex)
}

async function recordedTx (c: TxStatusParts, idHex: string): Promise<TxStatusView | undefined> {
  const rec = await c.store.getTxRecord(fromHex(idHex))
  if (rec === undefined) return undefined
  const vid = toHex(rec.vertexId)
  const reason = rec.reason !== 'none' ? { reason: rec.reason } : {}
  const bytes = await c.store.getVertex(rec.vertexId)
  // a record whose vertex is indexed but has no body: pruned (a stale-nonce refusal names no vertex at all)
  if (bytes === undefined && rec.status !== 'pending' && await c.history.record(vid) !== undefined) return { status: 'pruned', outcome: rec.status, vertexId: vid, ...reason }
  const tx = bytes === undefined ? undefined : vertexInfo(bytes).txs.find(t => t.idHex === idHex)
  return { status: rec.status, vertexId: vid, ...reason, ...(tx !== undefined ? { tx } : {}) }
}
