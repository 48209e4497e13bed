import { HarmonyError } from '../core/errors.ts'

/** The node answered with a JSON-RPC error: `code` is the JSON-RPC / EIP-1474 code, `data` its detail. */
export class RpcClientError extends Error {
  readonly code: number
  readonly data?: unknown
  /** The method that was called. */
  readonly method: string

  constructor (method: string, code: number, message: string, data?: unknown) {
    super(message)
    this.name = 'RpcClientError'
    this.method = method
    this.code = code
    this.data = data
  }
}

export type RpcTransportErrorCode =
  | 'RPC_TIMEOUT'
  | 'RPC_ABORTED'
  | 'RPC_CONNECTION_FAILED'
  | 'RPC_CONNECTION_CLOSED'
  | 'RPC_HTTP_STATUS'
  | 'RPC_BAD_RESPONSE'

/** The call did not get a JSON-RPC answer: timeout, abort, connection failure or a reply that is not JSON-RPC. */
export class RpcTransportError extends HarmonyError<RpcTransportErrorCode> {
  constructor (code: RpcTransportErrorCode, message: string, meta: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(code, message, meta, options)
    this.name = 'RpcTransportError'
  }
}

export type TaskOutputErrorCode = 'OUTPUT_KEY_REQUIRED'

/**
 * A task's output cannot be handed over as asked: `OUTPUT_KEY_REQUIRED`, the task is private and its output is
 * sealed to the requester's ML-KEM-768 key, which was not given (`meta.taskId` names the task).
 */
export class TaskOutputError extends HarmonyError<TaskOutputErrorCode> {
  constructor (code: TaskOutputErrorCode, message: string, meta: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(code, message, meta, options)
    this.name = 'TaskOutputError'
  }
}
