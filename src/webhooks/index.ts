/**
 * Webhooks (floor 3, beside the bridge and the market): signed, retried, persisted HTTP deliveries of domain
 * events to URLs an operator registers. The ledger's events come in through an outbox written in each decision's own batch (`txDecisionRecords`, `drainLedgerEvents`); the market
 * (and any other domain) calls `publish(kind, payload, { accounts })` on the service the node hands it. The
 * admin RPC methods live in src/api/webhooks.ts over the narrow `WebhookRpcSource` this service satisfies.
 */
export { type AddedHook, type AddHookOptions } from './hooks.ts'
export {
  drainLedgerEvents, ledgerEvents, type LedgerDecision, type LedgerEventSource, type LedgerOutboxDrain, type LedgerWebhookEvent,
  type PaymentWebhookEvent, type TxWebhookEvent
} from './ledger-events.ts'
export { decodeOutboxRecord, eventRecord, outboxRecord, type OutboxDecision, type OutboxEntry, type OutboxEvent } from './outbox.ts'
export { createWebhookMetrics, type WebhookMetrics } from './metrics.ts'
export { WebhookService } from './service.ts'
export type { WebhookServiceComponents, WebhookServiceInit } from './types.ts'
export { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signWebhook, verifyWebhookSignature, type VerifyWebhookOptions } from './signature.ts'
export {
  WEBHOOK_EVENT_KINDS, WebhookError, type DeliveryOutcome, type HookView, type LastDelivery, type WebhookErrorCode,
  type WebhookEventKind, type WebhookMatch, type WebhookPublisher
} from './types.ts'
