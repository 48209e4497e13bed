/**
 * The glue between the chain side and the DAG ledger (docs/chain.md "Connecting the DAG side", docs/protocol.md
 * "Chain bridge kinds"): one round and one store for both directions.
 *
 * - **Deposits in** (deposit-credits.ts): `depositSink` keeps the watcher's confirmed deposits until their credit is
 *   final on the DAG, and a validator proposes the credits in turn.
 * - **Outside validity**: the bridge registers the deposit side's check as the ledger's checker of deposit credits,
 *   so this node does not prefer or vote for a vertex with a credit its own chain view has not confirmed (under the
 *   commit rule: attestations, deposit-attestations.ts).
 * - **Withdrawals out**: final `withdraw` burns wait in an unsettled set; a validator (in turn, rank rotated by
 *   epoch) proposes an `epoch-close` E listing them. When close E is final, every node derives the epoch's leaves
 *   with `epochWithdrawals` (deterministic: the listed burns that are final, lie in the close's causal past and
 *   were in no earlier epoch), plus a fee leaf to the settlement contract for the fees the close swept from the
 *   fee pool, and the state root and sync digest of the close's cut (state-cuts.ts), and calls
 *   `chain.closeEpoch(E, syncDigest, stateRoot, leaves)`: the leaves are stored for proofs and the checkpoint
 *   is signed and gossiped. A close with no withdrawal sweeps fees every `feeSweepIntervalMs`.
 * - **Solvency**: the bridge runs only against a settlement contract whose genesis lock backs this node's genesis
 *   (`genesis-lock.ts`, docs/chain.md "Solvency"); a mismatch refuses the start.
 */
import { type BinarySublevel, KEY_PREFIXES, sublevel } from '../core/storage.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import { fromHex, toHex } from '../core/codec.ts'
import { DagError } from '../dag/errors.ts'
import type { LedgerReader } from '../dag/reader.ts'
import type { StateCut } from '../dag/state-cut.ts'
import type { TxInfo } from '../dag/tx.ts'
import { buildEpochClose } from './kinds/builders.ts'
import { EPOCH_ACCOUNT, epochCloseKind, MAX_WITHDRAWALS_PER_EPOCH, TX_KIND_DEPOSIT_CREDIT, TX_KIND_EPOCH_CLOSE, TX_KIND_WITHDRAW } from './kinds/index.ts'
import { type BridgeMetrics, createBridgeMetrics } from './metrics.ts'
import { genesisLockMatches } from './genesis-lock.ts'
import { KEY_BRIDGE_EPOCH, StateCuts, type StateProof } from './state-cuts.ts'
import { HistoryPruner } from './history-pruner.ts'
import { DepositCredits } from './deposit-credits.ts'
// a refusal of an epoch close for one of these means someone's close for that slot is already pending or final
import { TAKEN_CODES } from './deposit-attestations.ts'
import { epochWithdrawals, feeLeafOf, withdrawalLeafOf } from './withdrawals.ts'
import { storedWithdrawal } from './withdrawal-cut.ts'
import type { DepositSink } from '../chain/deposit-watcher.ts'
import type { BridgeChain, DagBridgeComponents, DagBridgeInit } from './dag-bridge-options.ts'

export type { BridgeChain, DagBridgeComponents, DagBridgeInit }

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array): string => new TextDecoder().decode(b)
// key layouts from the storage table (src/core/storage.ts), in the `chain` sublevel
const KEY_EPOCH = KEY_BRIDGE_EPOCH
const PREFIX_UNSETTLED = KEY_PREFIXES.chain.bridgeUnsettled
const PREFIX_SETTLED = KEY_PREFIXES.chain.bridgeSettled

export class DagBridge implements Startable {
  /** Pass to ChainService as `depositSink`. Idempotent on (txHash, logIndex). */
  readonly depositSink: DepositSink
  private readonly c: DagBridgeComponents
  private readonly db: BinarySublevel
  private readonly log: Logger
  private readonly propose: boolean
  private readonly proposeDelayMs: number
  private readonly tickMs: number
  private readonly epochIntervalMs: number
  private readonly feeSweepIntervalMs: number
  /** The settlement contract's genesis lock matches this node's genesis (checked once the chain answers). */
  private genesisChecked = false
  private readonly resubmitMs: number
  private readonly maxUnsettled: number
  /** final withdraws not yet in an epoch: id hex -> time seen */
  private readonly unsettled = new Map<string, number>()
  private evmChainId: bigint | undefined
  private processedEpoch = 0n
  private lastEpochAtMs = 0
  private startedAtMs = 0
  private closeDue: { epoch: bigint, atMs: number, lastSubmitMs: number } | undefined
  private timer: NodeJS.Timeout | undefined
  private tickRunning: Promise<void> | undefined
  private running = false
  private loaded = false
  private readonly metrics?: BridgeMetrics
  /** State cuts of recent epochs: their roots go into checkpoints, their trees answer balance proofs. */
  private readonly cuts: StateCuts
  /** A pruned node's pruner (`pruneHistory` given); undefined on an archive node. */
  readonly pruner: HistoryPruner | undefined
  /** Deposits in: the sink's records, the credits and this node's verdict on them (deposit-credits.ts). */
  private readonly deposits: DepositCredits

  private readonly onFinal = (e: { tx: TxInfo }): void => {
    if (e.tx.tx.kind !== TX_KIND_WITHDRAW) return
    // the stored record was committed in the decision's own batch (withdrawKind.finalRecords): a separate write
    // here could be lost to a kill -9 after the decision, and the withdrawal with it
    if (this.unsettled.size < this.maxUnsettled) this.unsettled.set(e.tx.idHex, Date.now())
  }

  constructor (components: DagBridgeComponents, init: DagBridgeInit = {}) {
    this.c = components
    this.db = sublevel(components.db, 'chain')
    this.cuts = new StateCuts(components.dag.reader, this.db)
    this.log = components.logger.child({ module: 'dag-bridge' })
    this.propose = init.propose ?? true
    this.proposeDelayMs = init.proposeDelayMs ?? 3000
    this.tickMs = init.tickMs ?? 500
    this.epochIntervalMs = init.epochIntervalMs ?? 30_000
    this.feeSweepIntervalMs = init.feeSweepIntervalMs ?? 300_000
    this.resubmitMs = init.resubmitMs ?? 10_000
    this.maxUnsettled = init.maxUnsettled ?? 100_000
    this.depositSink = async (deposit) => { await this.deposits.accept(deposit) }
    const prune = components.pruneHistory
    this.pruner = prune === undefined ? undefined : new HistoryPruner({ chain: components.chain, cutVertex: async (e) => await this.cuts.vertexOf(e), prune, logger: this.log })
    if (components.registry !== undefined) {
      this.metrics = createBridgeMetrics(components.registry, {
        pendingDeposits: () => this.deposits.size,
        unsettled: () => this.unsettled.size,
        heldVertices: () => this.ledger.heldCount()
      })
    }
    this.deposits = new DepositCredits({
      dag: components.dag,
      chain: components.chain,
      genesis: components.genesis,
      identity: components.identity,
      db: this.db,
      logger: this.log,
      ...(this.metrics !== undefined ? { metrics: this.metrics } : {}),
      bridge: {
        load: async () => { await this.load() },
        running: () => this.running,
        evmChainId: () => this.evmChainId,
        genesisChecked: () => this.genesisChecked,
        validatorIndex: () => this.myValidatorIndex()
      }
    }, { propose: this.propose, proposeDelayMs: this.proposeDelayMs, resubmitMs: this.resubmitMs, maxPendingDeposits: init.maxPendingDeposits ?? 10_000 })
    // Registered at once: the node holds credits it cannot check yet until this checker answers.
    components.dag.setExternalChecker(TX_KIND_DEPOSIT_CREDIT, async (tx) => await this.deposits.check(tx))
    components.dag.on('tx:final', this.onFinal)
  }

  private get ledger (): LedgerReader { return this.c.dag.reader }

  /**
   * Final withdraws as epochs list them: the ledger's records, and for a node started from a checkpoint the
   * withdraws below its cut that no epoch had settled, which came with the cut (withdrawal-cut.ts).
   */
  private readonly withdrawals: Pick<LedgerReader, 'finalTx' | 'isAncestor'> = {
    finalTx: async (idHex) => {
      const final = await this.ledger.finalTx(idHex)
      if (final !== undefined) return final
      const stored = await this.db.get(enc(PREFIX_UNSETTLED + idHex))
      return stored === undefined ? undefined : storedWithdrawal(stored)
    },
    isAncestor: async (ancestor, of) => await this.ledger.isAncestor(ancestor, of)
  }

  async start (): Promise<void> {
    if (this.running) return
    await this.load()
    if (this.c.evmChainId !== undefined) this.evmChainId = BigInt(this.c.evmChainId)
    await this.checkGenesis() // a mismatch refuses the start (GENESIS_LOCK_MISMATCH says why)
    this.startedAtMs = Date.now() // a fee-only sweep waits a whole interval after a (re)start
    this.running = true
    this.schedule()
    await this.pruner?.start()
    this.log.info({ pendingDeposits: this.deposits.size, unsettled: this.unsettled.size, epoch: this.processedEpoch.toString() }, 'chain bridge started')
  }

  async stop (): Promise<void> {
    await this.pruner?.stop()
    this.running = false
    clearTimeout(this.timer)
    this.timer = undefined
    await this.tickRunning
    this.c.dag.off('tx:final', this.onFinal)
    this.c.dag.setExternalChecker(TX_KIND_DEPOSIT_CREDIT, undefined)
  }

  /** The last withdrawal epoch this node has handed to the chain side. */
  get epoch (): bigint { return this.processedEpoch }
  pendingDeposits (): number { return this.deposits.size }

  /** Runs one round now (tests; the loop runs it every tickMs). */
  async tick (): Promise<void> {
    while (this.tickRunning !== undefined) await this.tickRunning
    this.tickRunning = this.round().finally(() => { this.tickRunning = undefined })
    await this.tickRunning
  }

  private schedule (): void {
    if (!this.running) return
    this.timer = setTimeout(() => {
      void this.tick().catch(err => { this.log.warn({ err }, 'bridge round failed') }).finally(() => { this.schedule() })
    }, this.tickMs)
  }

  private async round (): Promise<void> {
    if (!(await this.checkGenesis())) return
    if (this.evmChainId === undefined) {
      try {
        this.evmChainId = BigInt((await this.c.chain.info()).chainId)
      } catch (err) {
        this.log.debug({ err }, 'chain unreachable; deposits wait')
      }
    }
    await this.deposits.credit()
    await this.processEpochs()
    await this.proposeEpoch()
  }

  // ---------------------------------------------------------------- withdrawals

  /** Hands every epoch that became final (in order) to the chain side. */
  private async processEpochs (): Promise<void> {
    const finalEpochs = (await this.ledger.account(EPOCH_ACCOUNT)).nonce
    while (this.running && this.processedEpoch < finalEpochs) {
      const epoch = this.processedEpoch + 1n
      const decision = await this.ledger.conflictDecision(EPOCH_ACCOUNT, epoch - 1n)
      if (decision === undefined) return
      const closeVertexHex = decision.vertexId
      const close = await this.ledger.finalTx(decision.txId)
      let listed: Uint8Array[] = []
      let fees = 0n
      if (close?.vertexId === closeVertexHex && close.tx.tx.kind === TX_KIND_EPOCH_CLOSE) ({ withdrawals: listed, fees } = epochCloseKind.decode(close.tx.tx.payload))
      else this.log.warn({ epoch: epoch.toString() }, 'the epoch-close was rejected (its fee sweep was above the pool\'s proven balance) or is unreadable; closing the epoch without leaves')
      const txs = await epochWithdrawals(this.withdrawals, closeVertexHex, listed, async (idHex) => await this.db.get(enc(PREFIX_SETTLED + idHex)) !== undefined)
      const leaves = txs.map(withdrawalLeafOf)
      // the swept fees (debited from the pool by the final close) go to the stakers through the same checkpoint
      if (fees > 0n) leaves.push(feeLeafOf(decision.txId, fees, this.c.chain.settlementAddress))
      // the state root and sync digest of the close's cut (equal on every node); chain side first (idempotent), then the cursor and
      // the cut in one batch: a crash in between hands the epoch over again
      const { stateRoot, dagRoot } = await this.cuts.rootOf(epoch, closeVertexHex)
      await this.c.chain.closeEpoch(epoch, dagRoot, stateRoot, leaves)
      await this.db.batch([
        ...txs.map(t => ({ type: 'put' as const, key: enc(PREFIX_SETTLED + t.idHex), value: enc(epoch.toString()) })),
        ...txs.map(t => ({ type: 'del' as const, key: enc(PREFIX_UNSETTLED + t.idHex) })),
        ...this.cuts.batchOps(epoch),
        { type: 'put', key: KEY_EPOCH, value: enc(epoch.toString()) }
      ])
      this.cuts.committed(epoch)
      for (const t of txs) this.unsettled.delete(t.idHex)
      this.processedEpoch = epoch
      this.lastEpochAtMs = Date.now()
      this.metrics?.epochs.inc()
      this.metrics?.withdrawals.inc(leaves.length)
      this.log.info({ epoch: epoch.toString(), withdrawals: leaves.length, dagRoot: closeVertexHex }, 'withdrawal epoch closed')
    }
  }

  /** A validator proposes the next epoch-close when final withdrawals wait, in turn by rank. */
  private async proposeEpoch (): Promise<void> {
    if (!this.ledger.isValidator || !this.propose) return
    const pool = await this.ledger.account(EPOCH_ACCOUNT)
    const now = Date.now()
    const sweepDue = pool.balance > 0n && now >= Math.max(this.lastEpochAtMs, this.startedAtMs) + this.feeSweepIntervalMs
    if (this.unsettled.size === 0 && !sweepDue) { this.closeDue = undefined; return }
    const finalEpochs = pool.nonce
    if (this.processedEpoch < finalEpochs) return
    const epoch = finalEpochs + 1n
    if (this.closeDue?.epoch !== epoch) this.closeDue = { epoch, atMs: Math.max(now, this.lastEpochAtMs + this.epochIntervalMs), lastSubmitMs: 0 }
    const validators = this.ledger.validatorKeys().length
    const rank = (this.myValidatorIndex() - Number(epoch % BigInt(validators)) + validators) % validators
    if (now < this.closeDue.atMs + rank * this.proposeDelayMs) return
    if (this.closeDue.lastSubmitMs !== 0 && now < this.closeDue.lastSubmitMs + this.resubmitMs) return
    this.closeDue.lastSubmitMs = now
    const ids: Uint8Array[] = []
    for (const [idHex] of this.unsettled) {
      if (ids.length >= MAX_WITHDRAWALS_PER_EPOCH) break
      if (await this.db.get(enc(PREFIX_SETTLED + idHex)) !== undefined) { this.unsettled.delete(idHex); continue }
      ids.push(fromHex(idHex))
    }
    if (ids.length === 0 && !sweepDue) return
    try {
      // every close sweeps the whole pool as this node sees it; fees not yet in the close's causal past make the
      // ledger reject the close (the same on every node), and its withdrawals wait for the next epoch
      const id = await this.c.dag.submitTransaction(buildEpochClose(this.ledger.chainId, this.c.identity, epoch, ids, pool.balance))
      this.metrics?.proposals.inc({ kind: 'epoch-close' })
      this.log.info({ epoch: epoch.toString(), withdrawals: ids.length, id }, 'epoch close proposed')
    } catch (err) {
      if (err instanceof DagError && TAKEN_CODES.has(err.code)) return
      this.log.warn({ err, epoch: epoch.toString() }, 'epoch close refused')
    }
  }

  /** `account_getProof`: a balance proof against the last anchored checkpoint's state root (null when none). */
  async stateProof (address: Uint8Array): Promise<StateProof | null> {
    const lastEpoch = (await this.c.chain.info()).lastEpoch
    return lastEpoch === undefined ? null : this.cuts.proof(address, BigInt(lastEpoch))
  }

  /** Epoch `epoch`'s state cut while this node holds it: what StateSyncServer serves to a syncing peer. */
  async stateCut (epoch: bigint): Promise<StateCut | undefined> { return await this.cuts.cut(epoch) }

  // ---------------------------------------------------------------- state

  /** True once the contract's genesis lock is known to match; throws GENESIS_LOCK_MISMATCH; false while unreachable. */
  private async checkGenesis (): Promise<boolean> {
    if (!this.genesisChecked) this.genesisChecked = await genesisLockMatches(this.c.chain, this.c.genesis, this.log)
    return this.genesisChecked
  }

  private myValidatorIndex (): number {
    const me = toHex(this.c.identity.publicKey)
    const sorted = this.ledger.validatorKeys().map(k => toHex(k)).sort()
    return Math.max(0, sorted.indexOf(me))
  }

  private async load (): Promise<void> {
    if (this.loaded) return
    this.loaded = true
    await this.cuts.load()
    const epoch = await this.db.get(KEY_EPOCH)
    if (epoch !== undefined) this.processedEpoch = BigInt(dec(epoch))
    await this.deposits.load()
    for await (const k of this.db.keys({ gte: enc(PREFIX_UNSETTLED), lt: enc(`${PREFIX_UNSETTLED}\xff`) })) {
      if (this.unsettled.size >= this.maxUnsettled) break
      this.unsettled.set(dec(k).slice(PREFIX_UNSETTLED.length), 0)
    }
  }
}

/**
 * Connects a node's ChainService to its DagService. Build it before the ChainService and pass
 * `bridge.depositSink` as the service's `depositSink`; start it after both, stop it before them.
 */
export function connectChainToDag (components: DagBridgeComponents, init: DagBridgeInit = {}): DagBridge {
  return new DagBridge(components, init)
}
