import { z } from 'zod'
import { HarmonyError } from '../core/errors.ts'

/**
 * JSON-RPC error codes: JSON-RPC 2.0's reserved range and EIP-1474's. One table maps every typed error to a code.
 */
export const RpcErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  // EIP-1474
  INVALID_INPUT: -32000,
  RESOURCE_NOT_FOUND: -32001,
  RESOURCE_UNAVAILABLE: -32002,
  TRANSACTION_REJECTED: -32003,
  METHOD_NOT_SUPPORTED: -32004,
  LIMIT_EXCEEDED: -32005
} as const

export type RpcErrorCodeValue = (typeof RpcErrorCode)[keyof typeof RpcErrorCode]

/** An error a method throws on purpose: its code and message reach the caller unchanged. */
export class RpcMethodError extends HarmonyError<'RPC_METHOD_ERROR'> {
  readonly rpcCode: RpcErrorCodeValue
  readonly data?: unknown

  constructor (rpcCode: RpcErrorCodeValue, message: string, data?: unknown) {
    super('RPC_METHOD_ERROR', message, { rpcCode })
    this.name = 'RpcMethodError'
    this.rpcCode = rpcCode
    this.data = data
  }
}

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
}

export interface RpcMethod<P extends z.ZodType = z.ZodType, R = unknown> {
  name: string
  summary: string
  /** Params schema: a tuple (by position) or an object (by name). */
  params: P
  /** Result schema, used for the OpenRPC document. */
  result: z.ZodType
  handler: (params: z.output<P>, ctx: RpcContext) => Promise<R> | R
}

/** Methods are added by registering them with a params schema; the server validates before the handler runs. */
export class RpcRegistry {
  private readonly methods = new Map<string, RpcMethod>()

  register<P extends z.ZodType, R>(method: RpcMethod<P, R>): void {
    if (this.methods.has(method.name)) throw new Error(`RPC method ${method.name} registered twice`)
    this.methods.set(method.name, method as unknown as RpcMethod)
  }

  get (name: string): RpcMethod | undefined {
    return this.methods.get(name)
  }

  list (): RpcMethod[] {
    return [...this.methods.values()].sort((a, b) => a.name.localeCompare(b.name))
  }
}

/** Shared param schemas. */
export const hexString = z.string().regex(/^0x[0-9a-fA-F]*$/, 'expected a 0x-prefixed hex string')
/** Token amounts travel as decimal strings of base units (bigint safe). */
export const amountString = z.string().regex(/^[0-9]{1,78}$/, 'expected a decimal string of base units')
