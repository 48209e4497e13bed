import { RpcErrorCode, type RpcErrorCodeValue, RpcMethodError, type RpcRegistry } from '../rpc/registry.ts'
import { ChainError, type ChainErrorCode } from '../chain/errors.ts'
import { MAX_CHECKPOINTS_PER_CALL, type RpcResultOf } from './definitions.ts'
import { registerMethod } from './method.ts'

export { MAX_CHECKPOINTS_PER_CALL }

/** How each chain error reaches a JSON-RPC caller (registered with the methods; also usable by a dispatcher). */
export const CHAIN_RPC_ERROR_CODES: Readonly<Record<ChainErrorCode, RpcErrorCodeValue>> = {
  ANVIL_START_FAILED: RpcErrorCode.INTERNAL_ERROR,
  ARTIFACT_INVALID: RpcErrorCode.INTERNAL_ERROR,
  CONTRACTS_FILE_INVALID: RpcErrorCode.INTERNAL_ERROR,
  EVM_KEY_INVALID: RpcErrorCode.INTERNAL_ERROR,
  DEPLOY_FAILED: RpcErrorCode.INTERNAL_ERROR,
  CHAIN_UNREACHABLE: RpcErrorCode.RESOURCE_UNAVAILABLE,
  CHAIN_ID_MISMATCH: RpcErrorCode.RESOURCE_UNAVAILABLE,
  CHAIN_ANSWER_INVALID: RpcErrorCode.RESOURCE_UNAVAILABLE,
  TX_REVERTED: RpcErrorCode.TRANSACTION_REJECTED,
  TX_STUCK: RpcErrorCode.TRANSACTION_REJECTED,
  TX_FAILED: RpcErrorCode.TRANSACTION_REJECTED,
  CHECKPOINT_INVALID: RpcErrorCode.INVALID_INPUT,
  CHECKPOINT_MESSAGE_INVALID: RpcErrorCode.INVALID_INPUT,
  WITHDRAWAL_INVALID: RpcErrorCode.INVALID_PARAMS,
  DEPOSIT_INVALID: RpcErrorCode.INVALID_PARAMS,
  GENESIS_LOCK_MISMATCH: RpcErrorCode.RESOURCE_UNAVAILABLE
}

/** The chain's subscription topics (none yet). */
export const CHAIN_RPC_TOPICS = [] as const

/** What `chain_info` and `chain_checkpoints` read; ChainService and ChainView satisfy it. */
export interface ChainRpcSource {
  info: () => Promise<RpcResultOf<'chain_info'>>
  /** Checkpoints [fromEpoch, fromEpoch + limit) that exist, ascending; the latest `limit` when fromEpoch is undefined. */
  checkpoints: (fromEpoch: bigint | undefined, limit: number) => Promise<RpcResultOf<'chain_checkpoints'>>
}

/** A withdrawal leaf with its Merkle proof, and whether its epoch's checkpoint is on chain. */
export interface AnchoredProof {
  epoch: bigint
  leaf: { account: string, amount: bigint, nonce: bigint }
  proof: string[]
  root: string
  anchored: boolean
}

/** Where withdrawal proofs come from (ChainService). */
export interface WithdrawalProofSource {
  proofFor: (account: string, nonce: bigint) => Promise<AnchoredProof | null>
}

function toRpcError (err: unknown): never {
  if (err instanceof ChainError && err.code === 'CHAIN_UNREACHABLE') {
    throw new RpcMethodError(RpcErrorCode.RESOURCE_UNAVAILABLE, 'the EVM chain is unreachable from this node; try again later')
  }
  throw err
}

/**
 * Registers `chain_info` and `chain_checkpoints`, and `chain_withdrawalProof` when a proof source is given
 * (what `harmonyd wallet withdraw` asks for before claiming), with the chain's error codes.
 */
export function registerChainRpc (registry: RpcRegistry, chain: ChainRpcSource, withdrawals?: WithdrawalProofSource): void {
  registry.registerErrorCodes(CHAIN_RPC_ERROR_CODES)
  if (withdrawals !== undefined) {
    registerMethod(registry, 'chain_withdrawalProof', async (params) => {
      const [account, nonce] = Array.isArray(params) ? params : [params.account, params.nonce]
      const found = await withdrawals.proofFor(account, BigInt(nonce))
      if (found === null) return null
      return {
        epoch: found.epoch.toString(),
        account: found.leaf.account,
        amount: found.leaf.amount.toString(),
        nonce: found.leaf.nonce.toString(),
        proof: found.proof,
        withdrawalsRoot: found.root,
        anchored: found.anchored
      }
    })
  }
  registerMethod(registry, 'chain_info', async () => await chain.info().catch(toRpcError))
  registerMethod(registry, 'chain_checkpoints', async (params) => {
    let fromEpoch: string | null | undefined
    let count: number | undefined
    if (Array.isArray(params)) {
      fromEpoch = params[0]
      count = params[1]
    } else if (params !== undefined) {
      fromEpoch = params.fromEpoch
      count = params.limit
    }
    return await chain.checkpoints(fromEpoch == null ? undefined : BigInt(fromEpoch), count ?? 20).catch(toRpcError)
  })
}
