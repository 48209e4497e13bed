import { formatAddress } from '../core/address.ts'
import { requireTxKind } from '../dag/tx-kinds.ts'
import { txToJSON, type TxInfo } from '../dag/tx.ts'
import type { WebhookPublisher } from './types.ts'

/** The ledger's finalized stream as DagService emits it. */
export interface LedgerEventSource {
  on: ((event: 'tx:final', listener: (e: { id: string, vertexId: string, tx: TxInfo }) => void) => unknown) &
    ((event: 'tx:rejected', listener: (e: { id: string, reason: string, tx: TxInfo }) => void) => unknown)
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

/**
 * Publishes the ledger's decisions as webhook events: `tx` for every final or rejected transaction (matched by
 * its sender and recipients), and for a final one a `payment` per account whose balance it changed.
 */
export function publishLedgerEvents (source: LedgerEventSource, webhooks: WebhookPublisher): void {
  source.on('tx:final', ({ id, vertexId, tx }) => {
    const effects = effectsOf(tx)
    const from = formatAddress(tx.account)
    const recipients = effects?.credits.map((c) => formatAddress(c.to)) ?? []
    const event: TxWebhookEvent = { id, status: 'final', vertex: vertexId, reason: null, tx: txToJSON(tx) }
    webhooks.publish('tx', event, { accounts: [from, ...recipients] })
    if (effects === undefined) return
    const kind = requireTxKind(tx.tx.kind).name
    const debit = effects.debit + tx.tx.fee
    if (debit > 0n) {
      const payment: PaymentWebhookEvent = { account: from, direction: 'debit', amount: debit.toString(), txId: id, txKind: kind, vertex: vertexId }
      webhooks.publish('payment', payment, { accounts: [from] })
    }
    effects.credits.forEach((credit, i) => {
      const payment: PaymentWebhookEvent = { account: recipients[i], direction: 'credit', amount: credit.amount.toString(), txId: id, txKind: kind, vertex: vertexId }
      webhooks.publish('payment', payment, { accounts: [recipients[i]] })
    })
  })
  source.on('tx:rejected', ({ id, reason, tx }) => {
    const event: TxWebhookEvent = { id, status: 'rejected', vertex: null, reason, tx: txToJSON(tx) }
    webhooks.publish('tx', event, { accounts: [formatAddress(tx.account)] })
  })
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
