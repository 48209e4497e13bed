import { createHmac, timingSafeEqual } from 'node:crypto'

/** The header every delivery carries: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`. */
export const SIGNATURE_HEADER = 'x-harmony-signature'
/** The delivery id (the same on every retry of one event): a receiver drops a delivery it has already seen. */
export const DELIVERY_HEADER = 'x-harmony-delivery'
/** The event kind (`tx`, `payment`, `task`). */
export const EVENT_HEADER = 'x-harmony-event'

// Stripe's default tolerance: long enough for clock skew, short enough that a captured request goes stale
const DEFAULT_TOLERANCE_SECONDS = 300

/** The signature header value for `body` sent at `timestampSeconds` (the timestamp is signed with the body). */
export function signWebhook (secret: string, timestampSeconds: number, body: string): string {
  return `t=${timestampSeconds},v1=${hmacHex(secret, timestampSeconds, body)}`
}

export interface VerifyWebhookOptions {
  /** Seconds a signature stays acceptable (against replay). @default 300 */
  toleranceSeconds?: number
  /** The receiver's clock, in unix seconds. @default now */
  nowSeconds?: number
}

/**
 * Whether `header` (the `X-Harmony-Signature` value) signs `body` with `secret` within the tolerance. For
 * receivers: verify the raw body bytes as received, before parsing them. Constant-time comparison.
 */
export function verifyWebhookSignature (secret: string, header: string | undefined, body: string, options: VerifyWebhookOptions = {}): boolean {
  if (header === undefined) return false
  let timestamp: number | undefined
  const signatures: string[] = []
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2)
    if (key === 't' && value !== undefined && /^[0-9]{1,12}$/.test(value)) timestamp = Number(value)
    else if (key === 'v1' && value !== undefined && /^[0-9a-f]{64}$/.test(value)) signatures.push(value)
  }
  if (timestamp === undefined || signatures.length === 0) return false
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000)
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return false
  const expected = Buffer.from(hmacHex(secret, timestamp, body), 'hex')
  return signatures.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected))
}

function hmacHex (secret: string, timestampSeconds: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex')
}
