import { z } from 'zod'
import { RpcErrorCode, type RpcErrorCodeValue, RpcMethodError, type RpcRegistry } from '../rpc/registry.ts'
import type { ChainRpcSource } from '../chain/chain-view.ts'

export type { ChainRpcSource }
import { ChainError, type ChainErrorCode } from '../chain/errors.ts'
import type { AnchoredWithdrawalProof } from '../chain/service.ts'

/** How each chain error reaches a JSON-RPC caller (for the dispatcher's `errorCodes`). */
export const CHAIN_RPC_ERROR_CODES: Readonly<Record<ChainErrorCode, RpcErrorCodeValue>> = {
  ANVIL_START_FAILED: RpcErrorCode.INTERNAL_ERROR,
  ARTIFACT_INVALID: RpcErrorCode.INTERNAL_ERROR,
  CONTRACTS_FILE_INVALID: RpcErrorCode.INTERNAL_ERROR,
  EVM_KEY_INVALID: RpcErrorCode.INTERNAL_ERROR,
  DEPLOY_FAILED: RpcErrorCode.INTERNAL_ERROR,
  CHAIN_UNREACHABLE: RpcErrorCode.RESOURCE_UNAVAILABLE,
  CHAIN_ID_MISMATCH: RpcErrorCode.RESOURCE_UNAVAILABLE,
  TX_REVERTED: RpcErrorCode.TRANSACTION_REJECTED,
  TX_STUCK: RpcErrorCode.TRANSACTION_REJECTED,
  TX_FAILED: RpcErrorCode.TRANSACTION_REJECTED,
  CHECKPOINT_INVALID: RpcErrorCode.INVALID_INPUT,
  CHECKPOINT_MESSAGE_INVALID: RpcErrorCode.INVALID_INPUT,
  WITHDRAWAL_INVALID: RpcErrorCode.INVALID_PARAMS,
  DEPOSIT_INVALID: RpcErrorCode.INVALID_PARAMS
}

/** Checkpoints per chain_checkpoints call. */
export const MAX_CHECKPOINTS_PER_CALL = 100

const epochString = z.string().regex(/^[1-9][0-9]{0,19}$/, 'expected a decimal epoch ≥ 1')
const limit = z.number().int().min(1).max(MAX_CHECKPOINTS_PER_CALL)
const noParams = z.union([z.tuple([]), z.object({}).strict()]).optional()
const checkpointsParams = z.union([
  z.tuple([]),
  z.tuple([epochString.nullable()]),
  z.tuple([epochString.nullable(), limit]),
  z.object({ fromEpoch: epochString.optional(), limit: limit.optional() }).strict()
]).optional()

const ChainInfoResult = z.object({
  chainId: z.number(),
  contracts: z.object({ agc: z.string(), staking: z.string(), settlement: z.string() }),
  deployBlock: z.number(),
  headBlock: z.number(),
  lastEpoch: z.string(),
  validatorCount: z.number(),
  totalStake: z.string(),
  totalDeposited: z.string(),
  totalWithdrawn: z.string(),
  feePool: z.string(),
  depositCursorBlock: z.number().nullable(),
  depositConfirmations: z.number()
})

const CheckpointResult = z.array(z.object({
  epoch: z.string(),
  dagRoot: z.string(),
  stateRoot: z.string(),
  withdrawalsRoot: z.string(),
  submittedAt: z.number(),
  signedStake: z.string(),
  totalStake: z.string()
}))

function toRpcError (err: unknown): never {
  if (err instanceof ChainError && err.code === 'CHAIN_UNREACHABLE') {
    throw new RpcMethodError(RpcErrorCode.RESOURCE_UNAVAILABLE, 'the EVM chain is unreachable from this node; try again later')
  }
  throw err
}

const evmAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 0x-prefixed 20-byte EVM address')
const nonceString = z.string().regex(/^[0-9]{1,78}$/, 'expected a decimal nonce')

const WithdrawalProofResult = z.object({
  epoch: z.string(),
  account: z.string(),
  amount: z.string(),
  nonce: z.string(),
  proof: z.array(z.string()),
  withdrawalsRoot: z.string(),
  anchored: z.boolean()
}).nullable()

/** Where withdrawal proofs come from (WithdrawalStore). */
export interface WithdrawalProofSource {
  proofFor: (account: string, nonce: bigint) => Promise<AnchoredWithdrawalProof | null>
}

/**
 * Registers `chain_info` and `chain_checkpoints`, and `chain_withdrawalProof` when a proof source is given
 * (what `harmonyd wallet withdraw` asks for before claiming).
 */
export function registerChainRpc (registry: RpcRegistry, chain: ChainRpcSource, withdrawals?: WithdrawalProofSource): void {
  if (withdrawals !== undefined) {
    registry.register({
      name: 'chain_withdrawalProof',
      summary: 'Merkle proof of a DAG withdrawal (EVM account, nonce) in its checkpoint epoch, for HarmonySettlement.withdraw, with `anchored` once the epoch\'s checkpoint is on chain (claim only then); null if unknown.',
      params: z.union([
        z.tuple([evmAddress, nonceString]),
        z.object({ account: evmAddress, nonce: nonceString }).strict()
      ]),
      result: WithdrawalProofResult,
      handler: async (params) => {
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
      }
    })
  }
  registry.register({
    name: 'chain_info',
    summary: 'Settlement chain: chain id, contract addresses, last checkpoint epoch, stake, escrow totals and deposit watcher progress.',
    params: noParams,
    result: ChainInfoResult,
    handler: async () => await chain.info().catch(toRpcError)
  })
  registry.register({
    name: 'chain_checkpoints',
    summary: `Checkpoints accepted on chain, ascending: [fromEpoch, fromEpoch + limit), or the latest \`limit\` (default 20, max ${MAX_CHECKPOINTS_PER_CALL}).`,
    params: checkpointsParams,
    result: CheckpointResult,
    handler: async (params) => {
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
    }
  })
}
