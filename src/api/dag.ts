import { RpcErrorCode, type RpcErrorCodeValue, RpcMethodError, type RpcRegistry } from '../rpc/registry.ts'
import { parseAddress } from '../core/address.ts'
import { fromHex } from '../core/codec.ts'
import { AddressError } from '../core/errors.ts'
import { isDagError, type DagErrorCode } from '../dag/errors.ts'
import { txToJSON, type TxInfo } from '../dag/tx.ts'
import type { RpcResultOf } from './definitions.ts'
import { registerMethod, registerTopic } from './method.ts'
import type { StateProof } from '../bridge/state-cuts.ts'

/** How each ledger error reaches a JSON-RPC caller (registered with the methods; also usable by a dispatcher). */
export const DAG_RPC_ERROR_CODES: Readonly<Record<DagErrorCode, RpcErrorCodeValue>> = {
  ENCODING_INVALID: RpcErrorCode.INVALID_PARAMS,
  KIND_UNKNOWN: RpcErrorCode.INVALID_PARAMS,
  KIND_UNSUPPORTED: RpcErrorCode.INVALID_PARAMS,
  TOO_LARGE: RpcErrorCode.INVALID_PARAMS,
  ADDRESS_INVALID: RpcErrorCode.INVALID_PARAMS,
  AMOUNT_INVALID: RpcErrorCode.INVALID_PARAMS,
  PARENTS_INVALID: RpcErrorCode.INVALID_PARAMS,
  PARENT_MISSING: RpcErrorCode.INVALID_INPUT,
  TIMESTAMP_FUTURE: RpcErrorCode.INVALID_INPUT,
  AUTHOR_UNKNOWN: RpcErrorCode.INVALID_INPUT,
  SIGNATURE_INVALID: RpcErrorCode.TRANSACTION_REJECTED,
  NONCE_TOO_LOW: RpcErrorCode.TRANSACTION_REJECTED,
  NONCE_GAP: RpcErrorCode.TRANSACTION_REJECTED,
  NONCE_UNCHAINED: RpcErrorCode.TRANSACTION_REJECTED,
  TX_CONFLICT: RpcErrorCode.TRANSACTION_REJECTED,
  TX_KNOWN: RpcErrorCode.TRANSACTION_REJECTED,
  // data carries { reason: 'TX_REFUSED', rule } (the market's BID_LATE, REVEAL_MISMATCH...)
  TX_REFUSED: RpcErrorCode.TRANSACTION_REJECTED,
  INSUFFICIENT_BALANCE: RpcErrorCode.TRANSACTION_REJECTED,
  FEE_TOO_LOW: RpcErrorCode.TRANSACTION_REJECTED,
  MEMPOOL_FULL: RpcErrorCode.LIMIT_EXCEEDED,
  QUEUE_FULL: RpcErrorCode.LIMIT_EXCEEDED,
  GENESIS_INVALID: RpcErrorCode.INTERNAL_ERROR,
  KEY_FILE_INVALID: RpcErrorCode.INTERNAL_ERROR,
  NOT_RUNNING: RpcErrorCode.RESOURCE_UNAVAILABLE,
  NOT_VALIDATOR: RpcErrorCode.METHOD_NOT_SUPPORTED,
  PROTOCOL_ERROR: RpcErrorCode.INTERNAL_ERROR,
  VERIFY_TIMEOUT: RpcErrorCode.RESOURCE_UNAVAILABLE,
  VERIFIER_FAILED: RpcErrorCode.RESOURCE_UNAVAILABLE,
  STORAGE_FAILED: RpcErrorCode.RESOURCE_UNAVAILABLE,
  TIMESTAMP_BEFORE_PARENT: RpcErrorCode.INVALID_INPUT,
  // retryable: data carries { reason: 'BUSY', retryAfterMs }
  BUSY: RpcErrorCode.LIMIT_EXCEEDED,
  SYNC_BASE_TOO_SHALLOW: RpcErrorCode.RESOURCE_UNAVAILABLE,
  SYNC_FAILED: RpcErrorCode.RESOURCE_UNAVAILABLE,
  HISTORY_PRUNED: RpcErrorCode.RESOURCE_UNAVAILABLE
}

/** The ledger's subscription topics. */
export const DAG_RPC_TOPICS = ['tx_status'] as const

/** A transaction's state as the ledger reports it. */
export interface DagTxStatus {
  /** `pruned`: decided (`outcome`) in a vertex whose body a pruned node deleted below an anchored checkpoint */
  status: 'pending' | 'final' | 'rejected' | 'pruned'
  outcome?: 'final' | 'rejected'
  vertexId?: string
  reason?: string
  tx?: TxInfo
}

/** What the ledger's RPC methods read and listen to; DagService satisfies it. */
export interface DagRpcSource {
  getBalance: (address: string) => Promise<bigint>
  getNonce: (address: string) => Promise<bigint>
  /** Validates and queues a signed transaction; resolves with its 0x id. */
  submitTransaction: (encoded: Uint8Array, opts?: { client?: boolean }) => Promise<string>
  getTx: (id: string) => Promise<DagTxStatus | undefined>
  getVertex: (id: string) => Promise<Record<string, unknown> | undefined>
  tips: () => string[]
  stats: () => Promise<RpcResultOf<'dag_stats'>>
  on: ((event: 'tx:final', listener: (e: { id: string, vertexId: string }) => void) => unknown) &
    ((event: 'tx:rejected', listener: (e: { id: string, reason: string }) => void) => unknown)
}

/**
 * Runs `fn`, turning a ledger error into its JSON-RPC error with every detail the ledger gave (`retryAfterMs` and
 * `rule` of a BUSY refusal): what a client needs to retry well. Methods of other parts that submit to the ledger
 * (task_submit) use it too.
 */
export async function mapped<T> (fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (isDagError(err)) throw new RpcMethodError(DAG_RPC_ERROR_CODES[err.code], err.message, { reason: err.code, ...err.meta })
    throw err
  }
}

/** The ledger's JSON-RPC methods, its `tx_status` topic and its error codes. */
export function registerDagRpc (registry: RpcRegistry, dag: DagRpcSource): void {
  registry.registerErrorCodes(DAG_RPC_ERROR_CODES)
  registerMethod(registry, 'account_getBalance', async ([a]) => await mapped(async () => (await dag.getBalance(a)).toString()))
  registerMethod(registry, 'account_getNonce', async ([a]) => await mapped(async () => (await dag.getNonce(a)).toString()))
  registerMethod(registry, 'account_sendTransaction', async ([hex]) => await mapped(async () => await dag.submitTransaction(fromHex(hex, 'transaction'), { client: true })))
  registerMethod(registry, 'tx_get', async ([id]) => await mapped(async () => {
    const s = await dag.getTx(id)
    if (s === undefined) return null
    return {
      id: id.toLowerCase(),
      status: s.status,
      vertex: s.vertexId !== undefined ? `0x${s.vertexId}` : null,
      reason: s.reason ?? null,
      tx: s.tx !== undefined ? txToJSON(s.tx) : null,
      ...(s.outcome !== undefined ? { outcome: s.outcome } : {})
    }
  }))
  registerMethod(registry, 'dag_getVertex', async ([id]) => await mapped(async () => (await dag.getVertex(id)) ?? null))
  registerMethod(registry, 'dag_tips', () => dag.tips())
  registerMethod(registry, 'dag_stats', async () => await dag.stats())

  const txStatus = registerTopic(registry, 'tx_status', (filter, event) => event.id === filter.id)
  dag.on('tx:final', (e) => { txStatus({ id: e.id, status: 'final', vertex: e.vertexId, reason: null }) })
  dag.on('tx:rejected', (e) => { txStatus({ id: e.id, status: 'rejected', vertex: null, reason: e.reason }) })
}

/** Where `account_getProof` reads (the DAG bridge; a node without a chain answers null). */
export interface StateProofSource {
  stateProof: (address: Uint8Array) => Promise<StateProof | null>
}

/** `account_getProof`: registered by the node whether or not it runs a chain bridge. */
export function registerStateProofRpc (registry: RpcRegistry, source: StateProofSource): void {
  registerMethod(registry, 'account_getProof', async ([a]) => {
    let address: Uint8Array
    try {
      address = parseAddress(a)
    } catch (err) {
      if (err instanceof AddressError) throw new RpcMethodError(RpcErrorCode.INVALID_PARAMS, err.message, { reason: err.code })
      throw err
    }
    const p = await mapped(async () => await source.stateProof(address))
    if (p === null) return null
    return { epoch: p.epoch.toString(), address: p.address, balance: p.balance.toString(), nonce: p.nonce.toString(), proof: p.proof, root: p.root }
  })
}
