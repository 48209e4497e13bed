import type { z } from 'zod'
import { RpcErrorCode, type RpcErrorCodeValue, RpcMethodError } from './errors.ts'
import { SubscriptionHub, type TopicDefinition } from './subscriptions.ts'
import type { RpcGrant } from './auth.ts'
import type { MethodClass } from './method-class.ts'

export { RpcErrorCode, type RpcErrorCodeValue, RpcMethodError }

/** Context handed to every method call. */
export interface RpcContext {
  /** 'http' or 'ws' */
  transport: 'http' | 'ws'
  /** Aborted when the connection closes or the server stops. */
  signal: AbortSignal
  /** Set for WebSocket calls: pushes a JSON-RPC notification to this client. */
  notify?: (method: string, params: unknown) => void
  /** Set for WebSocket calls: runs when the connection closes (for subscription cleanup). */
  onClose?: (fn: () => void) => void
  /** What the caller's credentials allow (src/rpc/auth.ts); undefined when the server runs without auth. */
  grant?: RpcGrant
  /**
   * Rate limit: spends `calls` tokens of the caller's bucket; returns 0 when allowed, else the milliseconds until
   * it may call again (every call of the message is then refused with -32005). Undefined: no limit.
   */
  admit?: (calls: number) => number
  /**
   * Largest answer the transport delivers (a WebSocket connection's send queue); a message whose answer is larger
   * gets -32005 for each of its calls instead. Undefined: no bound.
   */
  maxAnswerBytes?: number
}

export interface RpcMethod<P extends z.ZodType = z.ZodType, R = unknown> {
  name: string
  summary: string
  /**
   * Who may call it (src/rpc/method-class.ts). The API floor always declares it (api/definitions.ts requires it);
   * a method registered without one is treated as `admin`, so an oversight refuses rather than exposes.
   * @default 'admin'
   */
  class?: MethodClass
  /** Params schema: a tuple (by position) or an object (by name). */
  params: P
  /** Result schema, used for the OpenRPC document. */
  result: z.ZodType
  handler: (params: z.output<P>, ctx: RpcContext) => Promise<R> | R
}

export interface RpcRegistryComponents {
  /** Where registered topics publish; the server subscribes WebSocket clients to it. @default a new hub */
  hub?: SubscriptionHub
}

/**
 * Everything the API floor registers and the transport serves (geth's `RegisterAPIs`): methods (the server
 * validates params before the handler runs), subscription topics (in `hub`) and each domain's error-code table
 * (typed errors whose `code` is listed reach the caller with that JSON-RPC code).
 */
export class RpcRegistry {
  /** Where modules publish the events of the topics they register. */
  readonly hub: SubscriptionHub
  private readonly methods = new Map<string, RpcMethod>()
  private readonly codes = new Map<string, RpcErrorCodeValue>()

  constructor (components: RpcRegistryComponents = {}) {
    this.hub = components.hub ?? new SubscriptionHub()
  }

  register<P extends z.ZodType, R>(method: RpcMethod<P, R>): void {
    if (this.methods.has(method.name)) throw new Error(`RPC method ${method.name} registered twice`)
    this.methods.set(method.name, method as unknown as RpcMethod)
  }

  /** Adds a subscription topic (published through `hub`). */
  registerTopic<F extends z.ZodType>(definition: TopicDefinition<F>): void {
    this.hub.registerTopic(definition)
  }

  /** Adds a domain's error-code table; one error code mapped to two JSON-RPC codes is a programming error. */
  registerErrorCodes (table: Readonly<Record<string, RpcErrorCodeValue>>): void {
    for (const [code, rpcCode] of Object.entries(table)) {
      const known = this.codes.get(code)
      if (known !== undefined && known !== rpcCode) throw new Error(`error code ${code} mapped to both ${known} and ${rpcCode}`)
      this.codes.set(code, rpcCode)
    }
  }

  /** The JSON-RPC code a typed error with this `code` reaches the caller with; undefined when unlisted. */
  errorCodeOf (code: string): RpcErrorCodeValue | undefined {
    return this.codes.get(code)
  }

  get (name: string): RpcMethod | undefined {
    return this.methods.get(name)
  }

  list (): RpcMethod[] {
    return [...this.methods.values()].sort((a, b) => a.name.localeCompare(b.name))
  }
}
