/**
 * Everything the node runs on the chain side, composed in dependency order: provider → (chain id and contract
 * checks) → ChainClient → DepositWatcher → CheckpointAggregator. Stopped in reverse. Also the RPC source.
 */
import { getAddress, type Wallet } from 'ethers'
import type { Registry } from 'prom-client'
import { type BinaryDb, sublevel } from '../core/storage.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import { connectContracts, type HarmonyContracts } from './bindings.ts'
import { type ChainInfo, type ChainRpcSource, ChainView, type CheckpointRecord } from './chain-view.ts'
import { CheckpointAggregator, type CheckpointAggregatorInit, type CheckpointTransport } from './checkpoint-aggregator.ts'
import type { Checkpoint } from './checkpoint-digest.ts'
import { ChainClient, type ChainClientInit } from './client.ts'
import type { ContractsFile } from './contracts-file.ts'
import type { GenesisBacking } from './deploy.ts'
import { checkDeposit, type Deposit, type DepositCheck, type DepositSink, DepositWatcher } from './deposit-watcher.ts'
import { ChainError } from './errors.ts'
import { ProposedCheckpoints } from './proposed-checkpoints.ts'
import { createProvider } from './provider.ts'
import { SettlementSubmitter } from './settlement-submitter.ts'
import { StakingValidatorSet } from './validator-set.ts'
import { type WithdrawalProof, WithdrawalStore } from './withdrawal-store.ts'
import type { WithdrawalLeaf, WithdrawalTree } from './withdrawals.ts'

export interface ChainServiceInit {
  /** EVM JSON-RPC URL (`--chain-rpc`). @default contractsFile.rpcUrl */
  rpcUrl?: string
  /** Confirmations before a deposit is credited, and before a validator votes for a credit. @default 12 */
  depositConfirmations?: number
  /** Chain polling interval (blocks, deposits). @default 2000 */
  pollIntervalMs?: number
  client?: ChainClientInit
  aggregator?: CheckpointAggregatorInit
}

export interface ChainServiceComponents {
  contractsFile: ContractsFile
  /** The node's database; the watcher uses the `chain` sublevel. */
  db: BinaryDb
  /** Receives confirmed deposits (the DAG side turns them into deposit credits). */
  depositSink: DepositSink
  /** The node's EVM key (loadOrCreateEvmKey). Without it the node watches deposits but neither signs nor submits. */
  evmKey?: Wallet
  /**
   * The ML-DSA-65 public keys of the ledger's genesis validators. Only checkpoint signers whose registration is
   * bound to one of these keys weigh (validator-set.ts); passed as bytes so src/chain never imports the DAG.
   */
  genesisValidatorKeys: Uint8Array[]
  /** Gossip on harmony/1/checkpoint. Without it no checkpoint loop runs. */
  checkpointTransport?: CheckpointTransport
  logger: Logger
  registry?: Registry
}

export interface AnchoredWithdrawalProof extends WithdrawalProof {
  /** The settlement contract holds the epoch's checkpoint with this withdrawals root: the proof can be claimed. */
  anchored: boolean
}

export class ChainService implements Startable, ChainRpcSource {
  readonly contracts: HarmonyContracts
  readonly watcher: DepositWatcher
  readonly client?: ChainClient
  readonly aggregator?: CheckpointAggregator
  /** Withdrawal leaves per epoch, to serve proofs (chain_withdrawalProof). */
  readonly withdrawals: WithdrawalStore
  /** The checkpoints this validator proposed, signed again after a restart until the chain holds them. */
  private readonly proposed: ProposedCheckpoints
  private readonly c: ChainServiceComponents
  private readonly provider: ReturnType<typeof createProvider>
  private readonly view: ChainView
  private readonly depositConfirmations: number
  private readonly log: Logger
  private readonly started: Startable[] = []

  constructor (components: ChainServiceComponents, init: ChainServiceInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'chain' })
    const file = components.contractsFile
    const rpcUrl = init.rpcUrl ?? file.rpcUrl
    if (rpcUrl === undefined || rpcUrl === '') throw new ChainError('CONTRACTS_FILE_INVALID', 'no chain RPC URL: pass --chain-rpc or put rpcUrl in the contracts file')
    this.provider = createProvider(rpcUrl, file.chainId, { pollingIntervalMs: init.pollIntervalMs ?? 2000 })
    this.contracts = connectContracts(file, this.provider)
    this.depositConfirmations = init.depositConfirmations ?? 12
    this.watcher = new DepositWatcher({
      provider: this.provider, settlement: file.settlement, db: sublevel(components.db, 'chain'), sink: components.depositSink,
      logger: components.logger, registry: components.registry
    }, { confirmations: this.depositConfirmations, pollIntervalMs: init.pollIntervalMs, startBlock: file.deployBlock })
    if (components.evmKey !== undefined) {
      this.client = new ChainClient({ provider: this.provider, wallet: components.evmKey, logger: components.logger, registry: components.registry }, init.client)
      if (components.checkpointTransport !== undefined) {
        this.aggregator = new CheckpointAggregator({
          transport: components.checkpointTransport,
          validators: new StakingValidatorSet({
            staking: this.contracts.staking,
            domain: { chainId: file.chainId, staking: file.staking },
            genesisValidatorKeys: components.genesisValidatorKeys,
            fromBlock: file.deployBlock,
            logger: this.log
          }),
          submitter: new SettlementSubmitter(this.contracts.settlement, file.settlement, this.client),
          domain: { chainId: file.chainId, settlement: file.settlement },
          signingKey: components.evmKey.signingKey,
          logger: components.logger,
          registry: components.registry
        }, init.aggregator)
      }
    }
    this.withdrawals = new WithdrawalStore(sublevel(components.db, 'chain'))
    this.proposed = new ProposedCheckpoints(sublevel(components.db, 'chain'))
    this.view = new ChainView({ provider: this.provider, contracts: this.contracts, contractsFile: file, watcher: this.watcher }, { depositConfirmations: this.depositConfirmations })
  }

  /** The node's EVM address (null without a key). */
  get evmAddress (): string | null {
    return this.c.evmKey === undefined ? null : getAddress(this.c.evmKey.address)
  }

  async start (): Promise<void> {
    await this.checkChain()
    for (const service of [this.client, this.watcher, this.aggregator]) {
      if (service === undefined) continue
      await service.start()
      this.started.push(service)
    }
    await this.resumeCheckpoints()
    this.log.info({ chainId: this.c.contractsFile.chainId, settlement: this.c.contractsFile.settlement, evm: this.evmAddress }, 'chain client started')
  }

  async stop (): Promise<void> {
    while (this.started.length > 0) await this.started.pop()?.stop()
    this.provider.destroy()
  }

  /**
   * The ledger finalized an epoch: sign and gossip its checkpoint (no-op without a key or transport). It is recorded
   * first, so a restart before the chain holds it signs and gossips it again (the aggregator's state is in memory).
   */
  async proposeCheckpoint (checkpoint: Checkpoint): Promise<void> {
    if (this.aggregator === undefined) return
    await this.proposed.record(checkpoint)
    await this.aggregator.propose(checkpoint)
  }

  /**
   * The ledger closed `epoch`: record its withdrawals (to serve proofs), then sign and gossip the checkpoint with
   * their root. Returns the tree.
   */
  async closeEpoch (epoch: bigint, dagRoot: string, stateRoot: string, withdrawals: readonly WithdrawalLeaf[]): Promise<WithdrawalTree> {
    const tree = await this.withdrawals.record(epoch, withdrawals)
    await this.proposeCheckpoint({ epoch, dagRoot, stateRoot, withdrawalsRoot: tree.root })
    return tree
  }

  /** The settlement contract's address (checksummed): the account of an epoch's fee leaf. */
  get settlementAddress (): string {
    return getAddress(this.c.contractsFile.settlement)
  }

  /** The genesis the settlement contract backs and the AGC it locked for it (docs/chain.md "Solvency"). */
  async genesisLock (): Promise<GenesisBacking> {
    const [id, total] = await Promise.all([this.contracts.settlement.genesisId(), this.contracts.settlement.genesisLocked()])
    return { id, total }
  }

  /** A validator's check of a deposit credit against its own chain view (see docs/chain.md). */
  async checkDeposit (claim: Pick<Deposit, 'txHash' | 'logIndex' | 'dagAccount' | 'amount'>): Promise<DepositCheck> {
    return await checkDeposit(this.provider, this.c.contractsFile.settlement, claim, this.depositConfirmations)
  }

  /**
   * The proof of a withdrawal, and whether its epoch's checkpoint is anchored on chain with this root: a claim
   * before that reverts with UnknownEpoch, so a wallet waits for `anchored`.
   */
  async proofFor (account: string, nonce: bigint): Promise<AnchoredWithdrawalProof | null> {
    const found = await this.withdrawals.proofFor(account, nonce)
    if (found === null) return null
    return { ...found, anchored: await this.view.isAnchored(found.epoch, found.root) }
  }

  async info (): Promise<ChainInfo> {
    return await this.view.info()
  }

  async checkpoints (fromEpoch: bigint | undefined, limit: number): Promise<CheckpointRecord[]> {
    return await this.view.checkpoints(fromEpoch, limit)
  }

  /**
   * After a restart: signs and gossips again the checkpoints this validator proposed that the chain does not hold yet
   * (the bridge will not hand those epochs over again), and forgets those it holds. A failure is logged, not fatal:
   * the aggregator's re-publish and quorum rounds continue from what was proposed.
   */
  private async resumeCheckpoints (): Promise<void> {
    const aggregator = this.aggregator
    if (aggregator === undefined) return
    const anchored = aggregator.lastOnchainEpoch()
    await this.proposed.prune(anchored)
    for (const checkpoint of await this.proposed.above(anchored)) {
      try {
        await aggregator.propose(checkpoint)
        this.log.info({ epoch: checkpoint.epoch.toString() }, 'checkpoint not yet on chain signed again after the restart')
      } catch (err) {
        this.log.warn({ epoch: checkpoint.epoch.toString(), err: (err as Error).message }, 'checkpoint not yet on chain could not be proposed again')
      }
    }
    aggregator.on('onchain', ({ epoch }) => {
      this.proposed.prune(epoch).catch((err: unknown) => { this.log.debug({ err: (err as Error).message }, 'anchored checkpoint records not pruned') })
    })
  }

  private async checkChain (): Promise<void> {
    let chainId: bigint
    try {
      chainId = BigInt(await this.provider.send('eth_chainId', []) as string)
    } catch (err) {
      throw new ChainError('CHAIN_UNREACHABLE', `cannot reach the chain RPC: ${(err as Error).message}; check --chain-rpc`, {}, { cause: err })
    }
    if (chainId !== BigInt(this.c.contractsFile.chainId)) {
      throw new ChainError('CHAIN_ID_MISMATCH', `the chain RPC serves chain ${chainId} but the contracts file is for chain ${this.c.contractsFile.chainId}`)
    }
    for (const [name, address] of [['AGC', this.c.contractsFile.agc], ['HarmonyStaking', this.c.contractsFile.staking], ['HarmonySettlement', this.c.contractsFile.settlement]] as const) {
      if (await this.provider.getCode(address) === '0x') {
        throw new ChainError('CONTRACTS_FILE_INVALID', `no ${name} contract at ${address} on chain ${chainId}; is the contracts file for this chain?`)
      }
    }
  }
}
