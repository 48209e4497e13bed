/**
 * The webhooks' ledger outbox: one record per decided transaction, written by the ledger in the batch that commits
 * the decision (DagLedgerInit.txDecisionRecords), and deleted by WebhookService in the batch that queues the
 * decision's deliveries. So at any moment a decision's events are either still in the outbox or queued (with their
 * delivery ids), never both and never neither, whatever moment a kill -9 hits.
 */
import { Reader, Writer, fromHex, toHex } from '../core/codec.ts'
import { KEY_PREFIXES, keyBytes } from '../core/storage.ts'
import type { TxDecision } from '../dag/decisions.ts'
import type { FinalRecord } from '../dag/tx-kinds.ts'
import { MAX_TX_BYTES, txInfo, type TxInfo } from '../dag/tx.ts'
import type { LedgerDecision } from './ledger-events.ts'

const P = KEY_PREFIXES.webhooks.outbox
const MAX_REASON_BYTES = 256
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A stored outbox record, decoded. */
export interface OutboxEntry {
  key: Uint8Array
  tx: TxInfo
  decision: LedgerDecision
  decidedAtMs: number
}

/** The record of one decision: keyed in this node's decision order (seq, position), then by tx id (unique). */
export function outboxRecord (tx: TxInfo, decision: TxDecision): FinalRecord {
  const key = keyBytes(P, `${decision.seq.toString().padStart(20, '0')}/${String(decision.position).padStart(5, '0')}/${tx.idHex}`)
  const reason = encoder.encode(decision.reason).subarray(0, MAX_REASON_BYTES)
  const value = new Writer(64 + tx.encoded.length)
    .u8(decision.status === 'final' ? 1 : 2)
    .fixed(fromHex(decision.vertexIdHex), 32)
    .u64(BigInt(Math.max(0, Math.floor(decision.decidedAtMs))))
    .varBytes(reason)
    .varBytes(tx.encoded)
    .finish()
  return { sublevel: 'webhooks', key, value }
}

/** Decodes a stored record; throws on bytes this code did not write. */
export function decodeOutboxRecord (key: Uint8Array, value: Uint8Array): OutboxEntry {
  const r = new Reader(value, 'webhook outbox record')
  const status = r.u8()
  if (status !== 1 && status !== 2) r.fail(`unknown status ${status}`)
  const vertexIdHex = toHex(r.fixed(32))
  const decidedAtMs = Number(r.u64())
  const reason = decoder.decode(r.varBytes(MAX_REASON_BYTES))
  const encoded = r.varBytes(MAX_TX_BYTES)
  r.end()
  return { key, tx: txInfo(encoded), decision: { status: status === 1 ? 'final' : 'rejected', vertexIdHex, reason }, decidedAtMs }
}
