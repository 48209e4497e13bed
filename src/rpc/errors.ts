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
  LIMIT_EXCEEDED: -32005,
  // Harmony: a call whose method class (admin, spending) needs credentials it did not carry or that were refused;
  // `data.reason` says which (auth_required, scope, token_expired, token_signature, key_revoked...)
  UNAUTHORIZED: -32010
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
