import { fromHex } from '../core/codec.ts'
import type { RequesterErrorCode } from '../market/requester.ts'
import { RpcErrorCode, type RpcErrorCodeValue, RpcMethodError, type RpcRegistry } from '../rpc/registry.ts'
import type { RpcParsedParamsOf, RpcResultOf } from './definitions.ts'
import { MARKET_MAX_SUBMIT_BYTES } from './market-definitions.ts'
import { registerMethod } from './method.ts'

/** How each requester error reaches a JSON-RPC caller (the DAG's admission errors are mapped by src/api/dag.ts). */
export const MARKET_RPC_ERROR_CODES: Readonly<Record<RequesterErrorCode, RpcErrorCodeValue>> = {
  TASK_ANNOUNCE_INVALID: RpcErrorCode.INVALID_PARAMS,
  TASK_INPUTS_MISMATCH: RpcErrorCode.INVALID_PARAMS,
  TASK_INPUTS_TOO_LARGE: RpcErrorCode.LIMIT_EXCEEDED,
  TASK_CANCEL_INVALID: RpcErrorCode.INVALID_PARAMS,
  REQUESTER_BUSY: RpcErrorCode.LIMIT_EXCEEDED
}

/** The market's subscription topics (none yet: task events reach clients through tx_status and polling). */
export const MARKET_RPC_TOPICS = [] as const

export type TaskListFilter = Pick<Exclude<RpcParsedParamsOf<'task_list'>, undefined | unknown[]>, 'state' | 'requester' | 'provider'>

/**
 * What the market's RPC methods read and do; the node builds it over `MarketService` (its reader and its
 * requester). Task ids are lowercase hex without 0x; records come back in their RPC shape.
 */
export interface MarketRpcSource {
  /** Stores the inputs and submits the signed announce (src/market/requester.ts). */
  submit: (announce: Uint8Array, inputs: Uint8Array[]) => Promise<{ taskId: string, txId: string }>
  /** Submits a signed task-cancel; resolves with its 0x transaction id. */
  cancel: (encoded: Uint8Array) => Promise<string>
  task: (taskId: string) => Promise<RpcResultOf<'task_get'>>
  tasks: (filter: TaskListFilter, cursor: string | undefined, limit: number) => Promise<RpcResultOf<'task_list'>>
  result: (taskId: string) => Promise<RpcResultOf<'task_result'>>
  bids: (taskId: string) => Promise<RpcResultOf<'market_bids'>>
  providers: (cursor: string | undefined, limit: number) => Promise<RpcResultOf<'market_providers'>>
  providerStatus: () => Promise<RpcResultOf<'provider_status'>>
}

const DEFAULT_PAGE = 20

function taskIdOf (hex: string): string {
  return hex.slice(2).toLowerCase()
}

function base64Bytes (text: string, index: number): Uint8Array {
  const bytes = Buffer.from(text, 'base64')
  // Buffer.from skips characters it cannot read; the schema admits only the alphabet, so only padding can differ
  if (bytes.toString('base64').replace(/=+$/, '') !== text.replace(/=+$/, '')) {
    throw new RpcMethodError(RpcErrorCode.INVALID_PARAMS, `input ${index} is not canonical base64`, { reason: 'TASK_INPUTS_MISMATCH' })
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Registers the compute market's methods (task_*, market_*, provider_status) and its error codes. */
export function registerMarketRpc (registry: RpcRegistry, market: MarketRpcSource): void {
  registry.registerErrorCodes(MARKET_RPC_ERROR_CODES)
  registerMethod(registry, 'task_submit', async (params) => {
    const { announce, inputs } = Array.isArray(params) ? params[0] : params
    // the schema bounds each input; the sum is bounded here before anything is decoded
    const encodedLength = inputs.reduce((sum, s) => sum + s.length, 0)
    if (encodedLength > Math.ceil(MARKET_MAX_SUBMIT_BYTES / 3) * 4) {
      throw new RpcMethodError(RpcErrorCode.LIMIT_EXCEEDED, `inputs exceed ${MARKET_MAX_SUBMIT_BYTES} bytes in all`, { reason: 'TASK_INPUTS_TOO_LARGE' })
    }
    return await market.submit(fromHex(announce, 'announce'), inputs.map(base64Bytes))
  })
  registerMethod(registry, 'task_cancel', async ([hex]) => await market.cancel(fromHex(hex, 'transaction')))
  registerMethod(registry, 'task_get', async ([id]) => await market.task(taskIdOf(id)))
  registerMethod(registry, 'task_list', async (params) => {
    const filter = Array.isArray(params) ? params[0] : params
    const { cursor, limit, ...rest } = filter ?? {}
    return await market.tasks(rest, cursor, limit ?? DEFAULT_PAGE)
  })
  registerMethod(registry, 'task_result', async ([id]) => await market.result(taskIdOf(id)))
  registerMethod(registry, 'market_bids', async ([id]) => await market.bids(taskIdOf(id)))
  registerMethod(registry, 'market_providers', async (params) => {
    const page = Array.isArray(params) ? params[0] : params
    return await market.providers(page?.cursor, page?.limit ?? DEFAULT_PAGE)
  })
  registerMethod(registry, 'provider_status', async () => await market.providerStatus())
}
