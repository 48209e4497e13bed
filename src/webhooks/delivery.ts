import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { VERSION } from '../core/version.ts'
import type { WebhookMetrics } from './metrics.ts'
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signWebhook } from './signature.ts'
import { guardedLookup, privateAddressTarget } from './target.ts'
import type { HookRecord, QueuedDelivery } from './types.ts'

/** One attempt's result; `aborted` when the service stopped or the hook was removed mid-attempt. */
export type AttemptResult = { ok: boolean, httpStatus: number | null, error: string | null }

// what webhook_list shows of a network error: its code, never the receiver's text
const MAX_ERROR_CHARS = 120
// idle connections kept per receiver (host:port), and how long: under the 60-75 s that common servers (nginx, ALBs)
// keep one open, so we close it first; a Node receiver's `Keep-Alive: timeout=5` hint shortens it (http.Agent)
const MAX_FREE_SOCKETS_PER_HOST = 4
const FREE_SOCKET_TIMEOUT_MS = 15_000

/**
 * The service's keep-alive connection pools, one per scheme: consecutive deliveries to a receiver reuse a connection
 * instead of opening one per attempt (TCP and TLS handshakes). Guarded, every new connection resolves its host
 * through guardedLookup, so it is checked against private addresses as it is made; a reused one was checked then.
 * `destroy` closes every socket (the service's stop): no connection outlives the service.
 */
export class DeliveryAgents {
  readonly http: HttpAgent
  readonly https: HttpsAgent

  /** `maxSockets`: connections open at once, per receiver and in all (the service: one POST in flight per hook). */
  constructor (options: { guarded: boolean, maxSockets: number }) {
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.maxSockets,
      maxTotalSockets: options.maxSockets,
      maxFreeSockets: MAX_FREE_SOCKETS_PER_HOST,
      // http.Agent's `timeout` is its free sockets' idle timeout: one idle that long is destroyed
      timeout: FREE_SOCKET_TIMEOUT_MS,
      ...(options.guarded ? { lookup: guardedLookup } : {})
    }
    this.http = new HttpAgent(agentOptions)
    this.https = new HttpsAgent(agentOptions)
  }

  for (url: URL): HttpAgent {
    return url.protocol === 'https:' ? this.https : this.http
  }

  destroy (): void {
    this.http.destroy()
    this.https.destroy()
  }
}

export interface AttemptOptions {
  timeoutMs: number
  /** Stop or remove: the attempt is abandoned and does not count. */
  signal: AbortSignal
  metrics: WebhookMetrics
  /** Deliver to loopback, private and link-local addresses too (src/webhooks/target.ts). @default false */
  allowPrivateTargets?: boolean
  /**
   * Keep-alive pools to send through; built with `guarded: !allowPrivateTargets` (a pool's sockets were checked, or
   * not, as that pool makes them). @default none: a new connection per attempt, never node:http's global agent,
   * whose idle sockets other code of the process opened without the guard
   */
  agents?: DeliveryAgents
}

/**
 * POSTs one delivery, signed now (the timestamp is the attempt's, so a receiver's replay window holds for
 * retries too). 2xx is delivered; any other status, a redirect, a timeout, a network error or a host that is (or
 * resolves to) a private address the node may not reach is a failure.
 */
export async function attemptDelivery (hook: HookRecord, delivery: QueuedDelivery, options: AttemptOptions): Promise<AttemptResult | 'aborted'> {
  const timestamp = Math.floor(Date.now() / 1000)
  const timer = options.metrics.attemptSeconds.startTimer()
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)])
  try {
    const url = new URL(hook.url)
    const guard = options.allowPrivateTargets === true ? undefined : privateAddressTarget(url)
    if (guard !== undefined) throw guard
    const status = await post(url, {
      'content-type': 'application/json',
      'user-agent': `harmonyd/${VERSION}`,
      [SIGNATURE_HEADER]: signWebhook(hook.secret, timestamp, delivery.body),
      [DELIVERY_HEADER]: delivery.id,
      [EVENT_HEADER]: delivery.kind
    }, delivery.body, signal, options.allowPrivateTargets !== true, options.agents?.for(url))
    const ok = status >= 200 && status < 300
    return { ok, httpStatus: status, error: ok ? null : `HTTP ${status}` }
  } catch (err) {
    if (options.signal.aborted) return 'aborted'
    return { ok: false, httpStatus: null, error: signal.aborted ? 'timeout' : describe(err) }
  } finally {
    timer()
  }
}

/**
 * POSTs `body` and resolves with the answer's status once its head arrives (the answer's body is read and dropped,
 * within the same signal). A redirect is not followed: it could move a signed body to a host the operator did not
 * name. `guarded`: the host name is resolved through guardedLookup, so the connection never reaches a private address.
 * The answer's body is read to its end so that a keep-alive `agent` gets the connection back for the next POST.
 */
async function post (url: URL, headers: Record<string, string>, body: string, signal: AbortSignal, guarded: boolean, agent: HttpAgent | undefined): Promise<number> {
  return await new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest
    const req = request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      signal,
      agent: agent ?? false,
      ...(guarded ? { lookup: guardedLookup } : {})
    }, (res) => {
      res.on('error', () => {})
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end(body)
  })
}

function describe (err: unknown): string {
  // a socket error (ECONNREFUSED, ENOTFOUND...), or the refusal of a private target, carries its code; fetch-style
  // errors wrap it in their cause, sometimes in an AggregateError
  let cause: unknown = err
  for (let depth = 0; depth < 4 && cause !== undefined && cause !== null; depth++) {
    const c = cause as { code?: unknown, errors?: unknown[], cause?: unknown }
    if (typeof c.code === 'string') return c.code.slice(0, MAX_ERROR_CHARS)
    cause = c.errors?.[0] ?? c.cause
  }
  return ((err as { message?: string }).message ?? 'network error').slice(0, MAX_ERROR_CHARS)
}
