/**
 * Every final market transaction leaves a queue record in the decision's own batch (TxKind.finalRecords), so the
 * market state can never miss one whatever moment a kill -9 hits: `MarketState` applies the queue in finality
 * order and deletes each entry in the batch that applies it (docs/market.md, src/market/state/).
 */
import { KEY_PREFIXES } from '../../core/storage.ts'
import { fromHex, Reader, toHex, Writer } from '../../core/codec.ts'
import { MAX_TX_BYTES, type TxInfo } from '../../dag/tx.ts'
import type { FinalPlace, FinalRecord, FinalTxContext } from '../../dag/tx-kinds.ts'

const PREFIX = KEY_PREFIXES.market.queue

/** One queued final market transaction, or one entry of a bid batch (`entry` set: bid.ts). */
export interface QueuedTx {
  key: Uint8Array
  txIdHex: string
  vertexIdHex: string
  vertexTimeMs: bigint
  /** the signed transaction */
  encoded: Uint8Array
  /** the entry of a batch this record is (0-based); undefined for a transaction of a single kind */
  entry?: number
  /** the transaction decoded, when the entry came from the ledger's event rather than from disk (`queuedEntries`) */
  info?: TxInfo
}

/**
 * The queue key: finality order on this node (vertex acceptance sequence, then position in the vertex, then the
 * entry of a batch: a batch's entries sort after nothing but each other, in entry order).
 */
export function queueKey (seq: bigint, position: number, entry?: number): Uint8Array {
  const at = `${PREFIX}${seq.toString().padStart(20, '0')}/${position.toString().padStart(5, '0')}`
  return new TextEncoder().encode(entry === undefined ? at : `${at}/${entry.toString().padStart(3, '0')}`)
}

export function marketFinalRecords (at: FinalTxContext): FinalRecord[] {
  return [queueRecord(at)]
}

/**
 * A bid batch's records: one per entry, so that each entry waits (parks) for its own task alone. The payload's
 * first byte is its entry count, checked (1..MAX_BID_BATCH) when the transaction was admitted.
 */
export function batchFinalRecords (at: FinalTxContext): FinalRecord[] {
  const out: FinalRecord[] = []
  for (let entry = 0; entry < at.payload[0]; entry++) out.push(queueRecord(at, entry))
  return out
}

/** The queue record of a final market transaction, or of entry `entry` of a bid batch. */
export function queueRecord (at: Omit<FinalTxContext, 'payload'>, entry?: number): FinalRecord {
  const w = new Writer(81 + at.encoded.length).fixed(fromHex(at.idHex), 32).fixed(fromHex(at.vertexIdHex), 32).u64(at.vertexTimeMs).varBytes(at.encoded)
  if (entry !== undefined) w.u8(entry)
  return { sublevel: 'market', key: queueKey(at.seq, at.position, entry), value: w.finish() }
}

/**
 * The queue entries a final market transaction's records hold (keys included: what `marketFinalRecords` or
 * `batchFinalRecords` wrote for it), from the ledger's `tx:final` event, so the market state need not read back what
 * the decision just wrote (queue-cursor.ts). `entries`: a bid batch's entry count, undefined for a single kind.
 */
export function queuedEntries (tx: TxInfo, vertexIdHex: string, at: FinalPlace, entries: number | undefined): QueuedTx[] {
  const base = { txIdHex: tx.idHex, vertexIdHex, vertexTimeMs: at.vertexTimeMs, encoded: tx.encoded, info: tx }
  if (entries === undefined) return [{ key: queueKey(at.seq, at.position), ...base }]
  return Array.from({ length: entries }, (_, entry) => ({ key: queueKey(at.seq, at.position, entry), ...base, entry }))
}

export function decodeQueued (key: Uint8Array, value: Uint8Array): QueuedTx {
  const r = new Reader(value, 'market queue record')
  const txIdHex = toHex(r.fixed(32))
  const vertexIdHex = toHex(r.fixed(32))
  const vertexTimeMs = r.u64()
  const encoded = r.varBytes(MAX_TX_BYTES)
  const entry = r.remaining > 0 ? r.u8() : undefined
  r.end()
  return { key, txIdHex, vertexIdHex, vertexTimeMs, encoded, ...(entry !== undefined ? { entry } : {}) }
}

export const QUEUE_PREFIX = PREFIX
