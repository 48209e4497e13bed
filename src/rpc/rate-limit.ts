/**
 * Per-client token buckets: each client (an API key, the operator's JWT, or an IP address) earns `ratePerSecond`
 * tokens a second up to `burst`, and each JSON-RPC call spends one. The table is bounded: past `maxClients` the
 * least recently seen client is dropped (it starts again with a full bucket, which costs a flooder nothing it
 * could not get by waiting, and costs the node no memory).
 */

export interface TokenBucketInit {
  /** Tokens a client earns per second. @default 1000 */
  ratePerSecond?: number
  /** Most tokens a client can hold (its burst). @default ratePerSecond */
  burst?: number
  /** Clients tracked at once; the least recently seen is evicted beyond this. @default 10000 */
  maxClients?: number
  /** Clock in milliseconds (tests). @default performance.now */
  now?: () => number
}

interface Bucket {
  tokens: number
  updatedMs: number
}

export class TokenBuckets {
  readonly ratePerSecond: number
  readonly burst: number
  private readonly maxClients: number
  private readonly now: () => number
  // a Map iterates in insertion order: deleting and re-inserting on use keeps the least recent first
  private readonly buckets = new Map<string, Bucket>()

  constructor (init: TokenBucketInit = {}) {
    this.ratePerSecond = init.ratePerSecond ?? 1000
    this.burst = init.burst ?? this.ratePerSecond
    this.maxClients = init.maxClients ?? 10_000
    this.now = init.now ?? (() => performance.now())
    if (!(this.ratePerSecond > 0) || !(this.burst >= 1) || !(this.maxClients >= 1)) throw new RangeError('rate, burst and maxClients must be positive')
  }

  /** Clients tracked now. */
  get size (): number {
    return this.buckets.size
  }

  /**
   * Spends `cost` tokens of `client`. Returns 0 when allowed, else the milliseconds until enough tokens are back
   * (nothing is spent then). A cost above the burst (a large batch) passes on a full bucket and leaves it in debt,
   * so it is neither refused forever nor free.
   */
  take (client: string, cost = 1): number {
    const now = this.now()
    let bucket = this.buckets.get(client)
    if (bucket === undefined) {
      bucket = { tokens: this.burst, updatedMs: now }
      if (this.buckets.size >= this.maxClients) {
        const oldest = this.buckets.keys().next()
        if (oldest.done !== true) this.buckets.delete(oldest.value)
      }
    } else {
      this.buckets.delete(client)
      bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.updatedMs) * this.ratePerSecond / 1000)
      bucket.updatedMs = now
    }
    this.buckets.set(client, bucket)
    const needed = Math.min(cost, this.burst)
    if (bucket.tokens >= needed) {
      bucket.tokens -= cost
      return 0
    }
    const missing = needed - bucket.tokens
    return Math.max(1, Math.ceil(missing * 1000 / this.ratePerSecond))
  }
}
