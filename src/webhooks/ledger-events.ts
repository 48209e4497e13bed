import { formatAddress } from '../core/address.ts'
import type { TxDecision } from '../dag/decisions.ts'
import { requireTxKind } from '../dag/tx-kinds.ts'
import { txToJSON, type TxInfo } from '../dag/tx.ts'
import type { WebhookEventKind } from './types.ts'

/** The ledger's finalized stream as DagService emits it (the webhooks use it only as a "something committed" signal). */
export interface LedgerEventSource {
  on: ((event: 'tx:final', listener: (e: { id: string, vertexId: string, tx: TxInfo }) => void) => unknown) &
    ((event: 'tx:rejected', listener: (e: { id: string, reason: string, tx: TxInfo }) => void) => unknown)
}

/** What drains the ledger's outbox: WebhookService. */
export interface LedgerOutboxDrain {
  drainOutbox: () => void
}

/** The `tx` event: a transaction became final or was rejected on this node. */
export interface TxWebhookEvent {
  id: string
  status: 'final' | 'rejected'
  vertex: string | null
  reason: string | null
  /** As tx_get shows it (kind, from, nonce, fee and the kind's fields). */
  tx: Record<string, unknown>
}

/** The `payment` event: one final transaction moved `amount` base units into or out of `account`. */
export interface PaymentWebhookEvent {
  account: string
  direction: 'credit' | 'debit'
  /** Decimal base units (18 decimals); a debit includes the fee. */
  amount: string
  txId: string
  txKind: string
  vertex: string
}

/** One event a decision produces, with the accounts a hook's filter matches it by. */
export interface LedgerWebhookEvent {
  kind: WebhookEventKind
  payload: TxWebhookEvent | PaymentWebhookEvent
  accounts: string[]
}

/** The decision as the events need it. */
export type LedgerDecision = Pick<TxDecision, 'status' | 'vertexIdHex' | 'reason'>

/**
 * The ledger's decision of one transaction as webhook events: `tx` (matched by its sender and recipients), and
 * for a final one a `payment` per account whose balance it changed (the debit includes the fee).
 */
export function ledgerEvents (tx: TxInfo, decision: LedgerDecision): LedgerWebhookEvent[] {
  const id = `0x${tx.idHex}`
  const from = formatAddress(tx.account)
  if (decision.status === 'rejected') {
    const event: TxWebhookEvent = { id, status: 'rejected', vertex: null, reason: decision.reason, tx: txToJSON(tx) }
    return [{ kind: 'tx', payload: event, accounts: [from] }]
  }
  const vertex = `0x${decision.vertexIdHex}`
  const effects = effectsOf(tx)
  const recipients = effects?.credits.map((c) => formatAddress(c.to)) ?? []
  const events: LedgerWebhookEvent[] = [{ kind: 'tx', payload: { id, status: 'final', vertex, reason: null, tx: txToJSON(tx) }, accounts: [from, ...recipients] }]
  if (effects === undefined) return events
  const txKind = requireTxKind(tx.tx.kind).name
  const debit = effects.debit + tx.tx.fee
  if (debit > 0n) events.push({ kind: 'payment', payload: { account: from, direction: 'debit', amount: debit.toString(), txId: id, txKind, vertex }, accounts: [from] })
  effects.credits.forEach((credit, i) => {
    events.push({ kind: 'payment', payload: { account: recipients[i], direction: 'credit', amount: credit.amount.toString(), txId: id, txKind, vertex }, accounts: [recipients[i]] })
  })
  return events
}

/** The accounts a decision concerns (its sender and, when final, its recipients): what account filters match. */
export function ledgerAccounts (tx: TxInfo, status: TxDecision['status']): string[] {
  const from = formatAddress(tx.account)
  if (status === 'rejected') return [from]
  return [from, ...(effectsOf(tx)?.credits.map((c) => formatAddress(c.to)) ?? [])]
}

/**
 * Drains the webhooks' ledger outbox whenever the ledger commits decisions: the events themselves were recorded in
 * each decision's own batch (WebhookService.txDecisionRecords), so the stream only says "there is more".
 */
export function drainLedgerEvents (source: LedgerEventSource, webhooks: LedgerOutboxDrain): void {
  source.on('tx:final', () => { webhooks.drainOutbox() })
  source.on('tx:rejected', () => { webhooks.drainOutbox() })
}

function effectsOf (info: TxInfo): ReturnType<ReturnType<typeof requireTxKind>['effects']> | undefined {
  try {
    const kind = requireTxKind(info.tx.kind)
    return kind.effects(kind.decode(info.tx.payload), { account: info.account, nonce: info.tx.nonce })
  } catch {
    // a final transaction always decodes; if a kind ever failed here, the tx event still goes out
    return undefined
  }
}
