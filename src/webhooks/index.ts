/**
 * Webhooks (floor 3, beside the bridge and the market): signed, retried, persisted HTTP deliveries of domain
 * events to URLs an operator registers. The ledger's events come in through `publishLedgerEvents`; the market
 * (and any other domain) calls `publish(kind, payload, { accounts })` on the service the node hands it. The
 * admin RPC methods live in src/api/webhooks.ts over the narrow `WebhookRpcSource` this service satisfies.
 */
export { publishLedgerEvents, type LedgerEventSource, type PaymentWebhookEvent, type TxWebhookEvent } from './ledger-events.ts'
export { createWebhookMetrics, type WebhookMetrics } from './metrics.ts'
export { WebhookService, type AddedHook, type AddHookOptions, type WebhookServiceComponents, type WebhookServiceInit } from './service.ts'
export { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signWebhook, verifyWebhookSignature, type VerifyWebhookOptions } from './signature.ts'
export {
  WEBHOOK_EVENT_KINDS, WebhookError, type DeliveryOutcome, type HookView, type LastDelivery, type WebhookErrorCode,
  type WebhookEventKind, type WebhookMatch, type WebhookPublisher
} from './types.ts'
