/**
 * Every final market transaction leaves a queue record in the decision's own batch (TxKind.finalRecords), so the
 * market state can never miss one whatever moment a kill -9 hits: `MarketState` applies the queue in finality
 * order and deletes each entry in the batch that applies it (docs/market.md, src/market/state/).
 */
import { KEY_PREFIXES } from '../../core/storage.ts'
import { fromHex, Reader, toHex, Writer } from '../../core/codec.ts'
import type { FinalRecord, FinalTxContext } from '../../dag/tx-kinds.ts'

const PREFIX = KEY_PREFIXES.market.queue

/** One queued final market transaction. */
export interface QueuedTx {
  key: Uint8Array
  txIdHex: string
  vertexIdHex: string
  vertexTimeMs: bigint
}

/** The queue key: finality order on this node (vertex acceptance sequence, then position in the vertex). */
export function queueKey (seq: bigint, position: number): Uint8Array {
  return new TextEncoder().encode(`${PREFIX}${seq.toString().padStart(20, '0')}/${position.toString().padStart(5, '0')}`)
}

export function marketFinalRecords (at: FinalTxContext): FinalRecord[] {
  const value = new Writer(72).fixed(fromHex(at.idHex), 32).fixed(fromHex(at.vertexIdHex), 32).u64(at.vertexTimeMs).finish()
  return [{ sublevel: 'market', key: queueKey(at.seq, at.position), value }]
}

export function decodeQueued (key: Uint8Array, value: Uint8Array): QueuedTx {
  const r = new Reader(value, 'market queue record')
  const txIdHex = toHex(r.fixed(32))
  const vertexIdHex = toHex(r.fixed(32))
  const vertexTimeMs = r.u64()
  r.end()
  return { key, txIdHex, vertexIdHex, vertexTimeMs }
}

export const QUEUE_PREFIX = PREFIX
