/**
 * The webhooks' outbox: one record per decided transaction, written by the ledger in the batch that commits the
 * decision (DagLedgerInit.txDecisionRecords), and one per domain event, written by its domain in the batch that
 * commits the change it reports (the market's task changes: `eventRecord`); each deleted by WebhookService in the
 * batch that queues its deliveries. So at any moment an event is either still in the outbox or queued (with its
 * delivery ids), never both and never neither, whatever moment a kill -9 hits.
 */
import { randomBytes } from 'node:crypto'
import { Reader, Writer, fromHex, toHex } from '../core/codec.ts'
import { KEY_PREFIXES, keyBytes } from '../core/storage.ts'
import type { TxDecision } from '../dag/decisions.ts'
import type { FinalRecord } from '../dag/tx-kinds.ts'
import { MAX_TX_BYTES, txInfo, type TxInfo } from '../dag/tx.ts'
import type { LedgerDecision } from './ledger-events.ts'
import { WEBHOOK_EVENT_KINDS, type WebhookEventKind } from './types.ts'

const P = KEY_PREFIXES.webhooks.outbox
const MAX_REASON_BYTES = 256
/** Bounds of a stored domain event: its JSON payload and the accounts it is matched by. */
const MAX_EVENT_DATA_BYTES = 1 << 20
const MAX_EVENT_ACCOUNTS = 256
const MAX_ACCOUNT_BYTES = 64
const EVENT_TAG = 3
let eventCounter = 0
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A stored outbox record of a decided transaction, decoded. */
export interface OutboxDecision {
  type: 'decision'
  key: Uint8Array
  tx: TxInfo
  decision: LedgerDecision
  decidedAtMs: number
}

/** A stored outbox record of a domain event, decoded: its JSON payload as written. */
export interface OutboxEvent {
  type: 'event'
  key: Uint8Array
  kind: WebhookEventKind
  data: string
  accounts: string[]
  createdAtMs: number
}

export type OutboxEntry = OutboxDecision | OutboxEvent

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

/**
 * The record of one domain event (`data`: its payload as JSON, already bounded by the caller), keyed after every
 * decision record, in creation order on this node (time, then a per-process counter, then randomness, so two
 * processes on one datadir never share a key).
 */
export function eventRecord (kind: WebhookEventKind, data: string, accounts: readonly string[], createdAtMs: number): FinalRecord {
  const at = Math.max(0, Math.floor(createdAtMs))
  eventCounter = (eventCounter + 1) % 1_000_000
  const key = keyBytes(P, `e/${String(at).padStart(15, '0')}/${String(eventCounter).padStart(6, '0')}/${randomBytes(4).toString('hex')}`)
  const body = encoder.encode(data)
  if (body.length > MAX_EVENT_DATA_BYTES) throw new RangeError(`webhook event of ${body.length} bytes exceeds ${MAX_EVENT_DATA_BYTES}`)
  const kept = accounts.slice(0, MAX_EVENT_ACCOUNTS).map((a) => encoder.encode(a).subarray(0, MAX_ACCOUNT_BYTES))
  const w = new Writer(32 + body.length + kept.reduce((n, a) => n + a.length + 4, 0))
    .u8(EVENT_TAG)
    .u8(WEBHOOK_EVENT_KINDS.indexOf(kind))
    .u64(BigInt(at))
    .varBytes(body)
    .u16(kept.length)
  for (const a of kept) w.varBytes(a)
  return { sublevel: 'webhooks', key, value: w.finish() }
}

/** Decodes a stored record; throws on bytes this code did not write. */
export function decodeOutboxRecord (key: Uint8Array, value: Uint8Array): OutboxEntry {
  const r = new Reader(value, 'webhook outbox record')
  const status = r.u8()
  if (status === EVENT_TAG) {
    const kind = WEBHOOK_EVENT_KINDS[r.u8()]
    if (kind === undefined) r.fail('unknown event kind')
    const createdAtMs = Number(r.u64())
    const data = decoder.decode(r.varBytes(MAX_EVENT_DATA_BYTES))
    const count = r.u16()
    if (count > MAX_EVENT_ACCOUNTS) r.fail(`${count} accounts`)
    const accounts: string[] = []
    for (let i = 0; i < count; i++) accounts.push(decoder.decode(r.varBytes(MAX_ACCOUNT_BYTES)))
    r.end()
    return { type: 'event', key, kind, data, accounts, createdAtMs }
  }
  if (status !== 1 && status !== 2) r.fail(`unknown status ${status}`)
  const vertexIdHex = toHex(r.fixed(32))
  const decidedAtMs = Number(r.u64())
  const reason = decoder.decode(r.varBytes(MAX_REASON_BYTES))
  const encoded = r.varBytes(MAX_TX_BYTES)
  r.end()
  return { type: 'decision', key, tx: txInfo(encoded), decision: { status: status === 1 ? 'final' : 'rejected', vertexIdHex, reason }, decidedAtMs }
}
