import { Counter, Gauge, Histogram } from 'prom-client'
import { defineMetrics } from '../core/metrics.ts'

/** Bounded outcome label of one delivery attempt or of an event that never got one. */
export type DeliveryMetricOutcome = 'delivered' | 'retry' | 'failed' | 'dropped'

export interface WebhookMetrics {
  /** `delivered`: 2xx; `retry`: failed, will retry; `failed`: gave up after the last retry; `dropped`: queue full. */
  deliveries: Counter<'outcome'>
  attemptSeconds: Histogram
  queueDepth: Gauge
  hooks: Gauge
}

/** The webhooks' metrics; the gauges are set by the service as its queues change. */
export const createWebhookMetrics = defineMetrics<WebhookMetrics>((registers) => ({
  deliveries: new Counter({ name: 'harmony_webhook_deliveries_total', help: 'webhook delivery attempts and dropped events, by outcome', labelNames: ['outcome'], registers }),
  attemptSeconds: new Histogram({ name: 'harmony_webhook_attempt_seconds', help: 'duration of one webhook POST', buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10], registers }),
  queueDepth: new Gauge({ name: 'harmony_webhook_queue_depth', help: 'webhook deliveries waiting, over all hooks', registers }),
  hooks: new Gauge({ name: 'harmony_webhook_hooks', help: 'registered webhooks', registers })
}))
