import { z } from 'zod'
import { hexString, RpcErrorCode, type RpcErrorCodeValue, RpcMethodError, type RpcRegistry } from '../rpc/registry.ts'
import { fromHex } from '../core/codec.ts'
import { isDagError, type DagErrorCode } from '../dag/errors.ts'
import type { DagService } from '../dag/service.ts'
import { txToJSON } from '../dag/tx.ts'

/** How each ledger error reaches a JSON-RPC caller (also usable as the dispatcher's `errorCodes`). */
export const DAG_RPC_ERROR_CODES: Readonly<Record<DagErrorCode, RpcErrorCodeValue>> = {
  ENCODING_INVALID: RpcErrorCode.INVALID_PARAMS,
  KIND_UNKNOWN: RpcErrorCode.INVALID_PARAMS,
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
  INSUFFICIENT_BALANCE: RpcErrorCode.TRANSACTION_REJECTED,
  FEE_TOO_LOW: RpcErrorCode.TRANSACTION_REJECTED,
  MEMPOOL_FULL: RpcErrorCode.LIMIT_EXCEEDED,
  QUEUE_FULL: RpcErrorCode.LIMIT_EXCEEDED,
  GENESIS_INVALID: RpcErrorCode.INTERNAL_ERROR,
  KEY_FILE_INVALID: RpcErrorCode.INTERNAL_ERROR,
  NOT_RUNNING: RpcErrorCode.RESOURCE_UNAVAILABLE,
  NOT_VALIDATOR: RpcErrorCode.METHOD_NOT_SUPPORTED,
  PROTOCOL_ERROR: RpcErrorCode.INTERNAL_ERROR
}

async function mapped<T> (fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (isDagError(err)) throw new RpcMethodError(DAG_RPC_ERROR_CODES[err.code], err.message, { reason: err.code, ...err.meta })
    throw err
  }
}

const address = z.string().min(1).max(64).meta({ title: 'address', description: 'a hmy1… account address' })
const id32 = hexString.refine(s => s.length === 66, 'expected 32 bytes of 0x-prefixed hex')
/** A signed transaction is ~5.3 KB; 16 KiB of hex bounds the body. */
const signedTx = hexString.max(2 + 2 * 8192).meta({ title: 'transaction', description: 'the signed transaction, hex-encoded canonical bytes' })

/** The ledger's JSON-RPC methods. */
export function registerDagRpc (registry: RpcRegistry, dag: DagService): void {
  registry.register({
    name: 'account_getBalance',
    summary: 'Balance of an account in AGC base units (decimal string), from finalized state.',
    params: z.tuple([address]),
    result: z.string(),
    handler: async ([a]) => await mapped(async () => (await dag.getBalance(a)).toString())
  })
  registry.register({
    name: 'account_getNonce',
    summary: 'Number of finalized transactions of an account (the next nonce when nothing is pending).',
    params: z.tuple([address]),
    result: z.string(),
    handler: async ([a]) => await mapped(async () => (await dag.getNonce(a)).toString())
  })
  registry.register({
    name: 'account_sendTransaction',
    summary: 'Submits a signed transaction (hex of its canonical encoding). Returns its id; poll tx_get for status.',
    params: z.tuple([signedTx]),
    result: z.string(),
    handler: async ([hex]) => await mapped(async () => await dag.submitTransaction(fromHex(hex, 'transaction')))
  })
  registry.register({
    name: 'tx_get',
    summary: 'A transaction and its status: pending, final or rejected (with a reason). Null when unknown.',
    params: z.tuple([id32]),
    result: z.object({ id: z.string(), status: z.enum(['pending', 'final', 'rejected']), vertex: z.string().nullable(), reason: z.string().nullable(), tx: z.record(z.string(), z.unknown()).nullable() }).nullable(),
    handler: async ([id]) => await mapped(async () => {
      const s = await dag.getTx(id)
      if (s === undefined) return null
      return {
        id: id.toLowerCase(),
        status: s.status,
        vertex: s.vertexId !== undefined ? `0x${s.vertexId}` : null,
        reason: s.reason ?? null,
        tx: s.tx !== undefined ? txToJSON(s.tx) : null
      }
    })
  })
  registry.register({
    name: 'dag_getVertex',
    summary: 'A vertex: status, height, author, parents and transactions. Null when unknown.',
    params: z.tuple([id32]),
    result: z.record(z.string(), z.unknown()).nullable(),
    handler: async ([id]) => await mapped(async () => (await dag.getVertex(id)) ?? null)
  })
  registry.register({
    name: 'dag_tips',
    summary: 'Current tips of the DAG (vertices without children).',
    params: z.tuple([]),
    result: z.array(z.string()),
    handler: () => dag.tips()
  })
  registry.register({
    name: 'dag_stats',
    summary: 'Vertex counts (stored, finalized, rejected, processing), final transactions and the state root.',
    params: z.tuple([]),
    result: z.object({ vertices: z.number(), finalized: z.number(), rejected: z.number(), processing: z.number(), finalTxs: z.number(), stateRoot: z.string(), mempool: z.number(), peers: z.number() }),
    handler: async () => await dag.stats()
  })
}
