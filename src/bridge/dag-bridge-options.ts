/** The bridge's service shape: what it needs from the chain side and the DAG, and its options (dag-bridge.ts). */
import type { Registry } from 'prom-client'
import type { BinaryDb } from '../core/storage.ts'
import type { Logger } from '../core/logger.ts'
import type { Genesis } from '../dag/genesis.ts'
import type { DagService } from '../dag/service.ts'
import type { GenesisBacking } from '../chain/deploy.ts'
import type { Deposit, DepositCheck } from '../chain/deposit-watcher.ts'
import type { WithdrawalLeaf, WithdrawalTree } from '../chain/withdrawals.ts'

/** What the bridge needs from ChainService. */
export interface BridgeChain {
  /** The settlement contract: the account of each epoch's fee leaf. */
  readonly settlementAddress: string
  /** The genesis the settlement contract backs and the AGC it locked for it. */
  genesisLock: () => Promise<GenesisBacking>
  checkDeposit: (claim: Pick<Deposit, 'txHash' | 'logIndex' | 'dagAccount' | 'amount'>) => Promise<DepositCheck>
  closeEpoch: (epoch: bigint, dagRoot: string, stateRoot: string, withdrawals: readonly WithdrawalLeaf[]) => Promise<WithdrawalTree>
  /** `lastEpoch`: the last checkpoint on chain (decimal), for balance proofs against it. */
  info: () => Promise<{ chainId: number, lastEpoch?: string }>
}

export interface DagBridgeComponents {
  /** The DAG through its read interface, its registration point, its submit and its finalized stream. */
  dag: Pick<DagService, 'reader' | 'setExternalChecker' | 'submitTransaction' | 'on' | 'off'>
  chain: BridgeChain
  /** The node's genesis: the bridge runs only against a settlement contract that locked its allocations. */
  genesis: Genesis
  /** The node's ledger key (the same as the DagService's): signs deposit credits and epoch closes. */
  identity: { publicKey: Uint8Array, secretKey: Uint8Array }
  /** The node's database; the bridge keeps its state under `bridge/` in the `chain` sublevel. */
  db: BinaryDb
  logger: Logger
  registry?: Registry
  /** EVM chain id of the settlement contract (the contracts file's). @default asked from `chain.info()` */
  evmChainId?: number
  /**
   * Set on a pruned node (`archive` off): the DAG's prune, called with the vertex of the last checkpoint anchored
   * on chain (src/bridge/history-pruner.ts). @default undefined (an archive node keeps every vertex body)
   */
  pruneHistory?: (cutVertexId: string) => Promise<number>
}

export interface DagBridgeInit {
  /**
   * A validator proposes deposit credits and epoch closes in its turn. With false it only checks, votes and hands
   * final epochs to the chain side. @default true
   */
  propose?: boolean
  /** Delay per proposer rank before a validator proposes a deposit credit or an epoch close. @default 3000 */
  proposeDelayMs?: number
  /** How often the bridge looks for work. @default 500 */
  tickMs?: number
  /** Least time between the end of one withdrawal epoch and the proposal of the next. @default 30000 */
  epochIntervalMs?: number
  /**
   * With no withdrawal waiting, a close that only sweeps the fee pool is proposed this long after the last epoch
   * (a checkpoint costs gas; the fee pool's pending credits grow until a sweep). @default 300000
   */
  feeSweepIntervalMs?: number
  /** A proposal not final after this long is submitted again (its vertex may have been rejected). @default 10000 */
  resubmitMs?: number
  /** Deposits waiting for their credit; beyond it the sink refuses and the watcher delivers again later. @default 10000 */
  maxPendingDeposits?: number
  /** Final withdrawals waiting for an epoch kept in memory; all are stored, the rest are read back at the next start. @default 100000 */
  maxUnsettled?: number
}
