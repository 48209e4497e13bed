import { VERSION } from '../core/version.ts'
import type { WebhookMetrics } from './metrics.ts'
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signWebhook } from './signature.ts'
import type { HookRecord, QueuedDelivery } from './types.ts'

/** One attempt's result; `aborted` when the service stopped or the hook was removed mid-attempt. */
export type AttemptResult = { ok: boolean, httpStatus: number | null, error: string | null }

// what webhook_list shows of a network error: its code, never the receiver's text
const MAX_ERROR_CHARS = 120

export interface AttemptOptions {
  timeoutMs: number
  /** Stop or remove: the attempt is abandoned and does not count. */
  signal: AbortSignal
  metrics: WebhookMetrics
}

/**
 * POSTs one delivery, signed now (the timestamp is the attempt's, so a receiver's replay window holds for
 * retries too). 2xx is delivered; any other status, a redirect, a timeout or a network error is a failure.
 */
export async function attemptDelivery (hook: HookRecord, delivery: QueuedDelivery, options: AttemptOptions): Promise<AttemptResult | 'aborted'> {
  const timestamp = Math.floor(Date.now() / 1000)
  const timer = options.metrics.attemptSeconds.startTimer()
  try {
    const response = await fetch(hook.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': `harmonyd/${VERSION}`,
        [SIGNATURE_HEADER]: signWebhook(hook.secret, timestamp, delivery.body),
        [DELIVERY_HEADER]: delivery.id,
        [EVENT_HEADER]: delivery.kind
      },
      body: delivery.body,
      // a redirect could move a signed body to a host the operator did not name
      redirect: 'manual',
      signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)])
    })
    // the body is not read: free the connection
    await response.body?.cancel().catch(() => {})
    const ok = response.status >= 200 && response.status < 300
    return { ok, httpStatus: response.status, error: ok ? null : `HTTP ${response.status}` }
  } catch (err) {
    if (options.signal.aborted) return 'aborted'
    return { ok: false, httpStatus: null, error: describe(err) }
  } finally {
    timer()
  }
}

function describe (err: unknown): string {
  const e = err as { name?: string, message?: string }
  if (e.name === 'TimeoutError') return 'timeout'
  // fetch wraps the socket error (ECONNREFUSED, ENOTFOUND...) in its cause, sometimes in an AggregateError
  let cause: unknown = (err as { cause?: unknown }).cause
  for (let depth = 0; depth < 3 && cause !== undefined && cause !== null; depth++) {
    const c = cause as { code?: unknown, errors?: unknown[], cause?: unknown }
    if (typeof c.code === 'string') return c.code.slice(0, MAX_ERROR_CHARS)
    cause = c.errors?.[0] ?? c.cause
  }
  return (e.message ?? 'network error').slice(0, MAX_ERROR_CHARS)
}
