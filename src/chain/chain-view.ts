import type { Provider } from 'ethers'
import type { HarmonyContracts } from './bindings.ts'
import type { ContractsFile } from './contracts-file.ts'
import type { DepositWatcher } from './deposit-watcher.ts'
import { ChainError } from './errors.ts'

/** `chain_info` result. Token amounts are decimal strings of base units. */
export interface ChainInfo {
  chainId: number
  contracts: { agc: string, staking: string, settlement: string }
  deployBlock: number
  headBlock: number
  lastEpoch: string
  validatorCount: number
  totalStake: string
  totalDeposited: string
  totalWithdrawn: string
  feePool: string
  /** Last block the deposit watcher scanned (null when it does not run or has not scanned yet). */
  depositCursorBlock: number | null
  depositConfirmations: number
}

/** One accepted checkpoint, as `chain_checkpoints` returns it. */
export interface CheckpointRecord {
  epoch: string
  dagRoot: string
  stateRoot: string
  withdrawalsRoot: string
  /** Unix seconds of the block that accepted it. */
  submittedAt: number
  signedStake: string
  totalStake: string
}

/** What the chain RPC methods read. */
export interface ChainRpcSource {
  info: () => Promise<ChainInfo>
  /** Checkpoints [fromEpoch, fromEpoch + limit) that exist, ascending; the latest `limit` when fromEpoch is undefined. */
  checkpoints: (fromEpoch: bigint | undefined, limit: number) => Promise<CheckpointRecord[]>
}

export interface ChainViewComponents {
  provider: Provider
  /** Read-only bindings (connected to the provider). */
  contracts: HarmonyContracts
  contractsFile: ContractsFile
  watcher?: DepositWatcher
}

export interface ChainViewInit {
  /** Reported in chain_info. @default 12 */
  depositConfirmations?: number
}

/** Reads chain state for RPC; every failure becomes CHAIN_UNREACHABLE. */
export class ChainView implements ChainRpcSource {
  private readonly c: ChainViewComponents
  private readonly depositConfirmations: number

  constructor (components: ChainViewComponents, init: ChainViewInit = {}) {
    this.c = components
    this.depositConfirmations = init.depositConfirmations ?? 12
  }

  async info (): Promise<ChainInfo> {
    return await this.guard(async () => {
      const { agc, staking, settlement } = this.c.contracts
      const [headBlock, lastEpoch, validatorCount, totalStake, totalDeposited, totalWithdrawn, feePool] = await Promise.all([
        this.c.provider.getBlockNumber(), settlement.lastEpoch(), staking.validatorCount(), staking.totalStake(),
        settlement.totalDeposited(), settlement.totalWithdrawn(), settlement.feePool()
      ])
      return {
        chainId: this.c.contractsFile.chainId,
        contracts: { agc: await agc.getAddress(), staking: await staking.getAddress(), settlement: await settlement.getAddress() },
        deployBlock: this.c.contractsFile.deployBlock,
        headBlock,
        lastEpoch: lastEpoch.toString(),
        validatorCount: Number(validatorCount),
        totalStake: totalStake.toString(),
        totalDeposited: totalDeposited.toString(),
        totalWithdrawn: totalWithdrawn.toString(),
        feePool: feePool.toString(),
        depositCursorBlock: this.c.watcher?.scannedBlock() ?? null,
        depositConfirmations: this.depositConfirmations
      }
    })
  }

  async checkpoints (fromEpoch: bigint | undefined, limit: number): Promise<CheckpointRecord[]> {
    return await this.guard(async () => {
      const last = await this.c.contracts.settlement.lastEpoch()
      const first = fromEpoch ?? (last - BigInt(limit) + 1n > 1n ? last - BigInt(limit) + 1n : 1n)
      const out: CheckpointRecord[] = []
      for (let e = first < 1n ? 1n : first; e <= last && out.length < limit; e++) {
        const cp = await this.c.contracts.settlement.getCheckpoint(e)
        out.push({
          epoch: e.toString(),
          dagRoot: cp.dagRoot,
          stateRoot: cp.stateRoot,
          withdrawalsRoot: cp.withdrawalsRoot,
          submittedAt: Number(cp.submittedAt),
          signedStake: cp.signedStake.toString(),
          totalStake: cp.totalStake.toString()
        })
      }
      return out
    })
  }

  /** Whether the settlement contract holds a checkpoint for `epoch` with exactly this withdrawals root. */
  async isAnchored (epoch: bigint, withdrawalsRoot: string): Promise<boolean> {
    return await this.guard(async () => {
      if (epoch > await this.c.contracts.settlement.lastEpoch()) return false
      const cp = await this.c.contracts.settlement.getCheckpoint(epoch)
      return cp.withdrawalsRoot.toLowerCase() === withdrawalsRoot.toLowerCase()
    })
  }

  private async guard<T> (fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      if (err instanceof ChainError) throw err
      throw new ChainError('CHAIN_UNREACHABLE', `cannot read the chain: ${(err as Error).message}`, {}, { cause: err })
    }
  }
}
