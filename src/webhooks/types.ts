import type { Registry } from 'prom-client'
import { z } from 'zod'
import { HarmonyError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { BinaryDb } from '../core/storage.ts'

import { WEBHOOK_EVENT_KINDS, type WebhookEventKind } from './kinds.ts'

export { WEBHOOK_EVENT_KINDS, type WebhookEventKind }

/**
 * Bounded codes of the webhook service's refusals (the API maps them to JSON-RPC codes). WEBHOOK_TARGET_PRIVATE: the
 * URL's host is, or resolves to, a loopback, private or link-local address and the node does not allow those.
 */
export type WebhookErrorCode = 'WEBHOOK_URL_INVALID' | 'WEBHOOK_ACCOUNT_INVALID' | 'WEBHOOK_TARGET_PRIVATE' | 'WEBHOOK_LIMIT' | 'WEBHOOK_NOT_RUNNING'

export class WebhookError extends HarmonyError<WebhookErrorCode> {
  constructor (code: WebhookErrorCode, message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta)
    this.name = 'WebhookError'
  }
}

/** Where the market (and any other domain) hands its events to the webhooks: `node.webhooks.publish(...)`. */
export interface WebhookPublisher {
  /**
   * Queues `payload` (JSON-serialisable; bigints become decimal strings) for every hook registered for `kind`
   * whose account filter is empty or names one of `accounts`. Never throws and never waits: the event is
   * persisted and delivered in the background.
   */
  publish: (kind: WebhookEventKind, payload: unknown, match?: WebhookMatch) => void
}

export interface WebhookMatch {
  /** The accounts (hmy1… addresses) the event concerns; hooks with an account filter get only these. */
  accounts?: readonly string[]
}

/** The outcome of one delivery attempt, as `webhook_list` shows it. */
export type DeliveryOutcome = 'delivered' | 'retrying' | 'failed'

/** A registered hook as stored (the secret never leaves the node after `webhook_add`). */
export const hookRecordSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENT_KINDS)).min(1),
  accounts: z.array(z.string()),
  label: z.string(),
  secret: z.string(),
  createdAtMs: z.number()
})
export type HookRecord = z.infer<typeof hookRecordSchema>

/** One event waiting for its hook, as stored: the body is fixed at enqueue so every retry sends the same bytes. */
export const queuedDeliverySchema = z.object({
  id: z.string(),
  seq: z.number().int().nonnegative(),
  kind: z.enum(WEBHOOK_EVENT_KINDS),
  body: z.string(),
  attempts: z.number().int().nonnegative(),
  nextAttemptAtMs: z.number(),
  createdAtMs: z.number()
})
export type QueuedDelivery = z.infer<typeof queuedDeliverySchema>

export const lastDeliverySchema = z.object({
  id: z.string(),
  kind: z.enum(WEBHOOK_EVENT_KINDS),
  atMs: z.number(),
  outcome: z.enum(['delivered', 'retrying', 'failed']),
  attempts: z.number().int(),
  httpStatus: z.number().int().nullable(),
  error: z.string().nullable()
})
export type LastDelivery = z.infer<typeof lastDeliverySchema>

/** A hook's counters and last delivery, as stored. */
export const hookStatusSchema = z.object({
  nextSeq: z.number().int().nonnegative(),
  delivered: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  dropped: z.number().int().nonnegative(),
  last: lastDeliverySchema.nullable()
})
export type HookStatus = z.infer<typeof hookStatusSchema>

/** A hook as `webhook_list` shows it: no secret. */
export interface HookView {
  id: string
  url: string
  events: WebhookEventKind[]
  accounts: string[]
  label: string
  createdAtMs: number
  /** Deliveries waiting (including one being retried). */
  queued: number
  delivered: number
  /** Deliveries given up after the last retry. */
  failed: number
  /** Deliveries dropped because the queue was full (oldest first). */
  dropped: number
  last: LastDelivery | null
}

/** Deliveries kept waiting per hook unless the node's `webhook-queue` setting says otherwise. */
export const DEFAULT_MAX_QUEUE_PER_HOOK = 1000
/** The most `webhook-queue` may be: 100,000 small events are tens of MiB per hook (memory and disk). */
export const MAX_QUEUE_PER_HOOK = 100_000

export interface WebhookServiceInit {
  /** Hooks one node keeps. @default 64 */
  maxHooks?: number
  /** Deliveries waiting per hook; past it the oldest is dropped (counted in the hook's `dropped`).
   * @default DEFAULT_MAX_QUEUE_PER_HOOK (1000) */
  maxQueuePerHook?: number
  /** Attempts per delivery before it is given up (counted in `failed`). @default 12 */
  maxAttempts?: number
  /** Delay before the first retry; each retry doubles it (with jitter), up to `retryMaxMs`. @default 1000 */
  retryBaseMs?: number
  /** Longest delay between two attempts. @default 600000 (10 min): 12 attempts span about an hour */
  retryMaxMs?: number
  /** Time one POST may take (connect, send, status line). @default 10000 */
  requestTimeoutMs?: number
  /** Largest event payload (serialised); larger events are dropped and logged. @default 65536 */
  maxPayloadBytes?: number
  /** Events accepted by `publish` but not yet persisted; past it new events are dropped. @default 10000 */
  maxPendingPublishes?: number
  /**
   * Accept and deliver to hosts that are, or resolve to, loopback, private or link-local addresses. Off, such a URL
   * is refused at registration (WEBHOOK_TARGET_PRIVATE) and a delivery whose host resolves to one fails, so that
   * admin credentials cannot make the node POST into its own network. The node sets it from allow-private-webhooks.
   * @default false
   */
  allowPrivateTargets?: boolean
}

export interface WebhookServiceComponents {
  /** The node's database; the service keeps to its `webhooks` sublevel. */
  db: BinaryDb
  logger: Logger
  registry?: Registry
}
