/**
 * `MarketService`: the market's ledger side composed (docs/market.md "Rooms"): the market state (final market
 * transactions → the `market` sublevel), its metrics, the coordinator (validators issue awards, settles and
 * slashes in turn; every node checks them before it votes), and the admission check of clients' bids, results and
 * cancels (state/admission.ts), installed with the ledger once the state is started. Started in that order by one
 * LifecycleRunner and stopped in reverse. It exposes `reader` (MarketReader) to the API and the provider and
 * requester sides.
 */
import type { Registry } from 'prom-client'
import type { LedgerRegistration } from '../dag/reader.ts'
import type { BinaryDb } from '../core/storage.ts'
import type { Logger } from '../core/logger.ts'
import { LifecycleRunner, type Startable } from '../core/lifecycle.ts'
import { MarketCoordinator, type CoordinatorComponents, type CoordinatorInit, type Reexecute } from './coordinator.ts'
import { createMarketMetrics, type MarketMetrics } from './metrics.ts'
import { ADMISSION_CHECKED_KINDS, marketAdmissionCheck } from './state/admission.ts'
import { MarketState, type MarketStateComponents, type MarketStateInit } from './state/market-state.ts'
import type { MarketReader } from './state/reader.ts'
import { auctionSealed } from './rules/plan.ts'
import type { SignerKeys } from './kinds/index.ts'

export interface MarketServiceInit extends MarketStateInit, CoordinatorInit {}

export interface MarketServiceComponents {
  /**
   * The DAG: its read side, finalized stream, submit, and the registration of the decisions' checks and of the
   * admission check of clients' bids, results and cancels (DagService satisfies it).
   */
  dag: MarketStateComponents['dag'] & CoordinatorComponents['dag'] & Pick<LedgerRegistration, 'setStateCheck'>
  db: BinaryDb
  /** The node's ledger key: a validator signs its awards, settles and slashes with it. */
  identity: SignerKeys
  logger: Logger
  registry?: Registry
  /** Dispute re-execution (the compute side); without it a dispute stays pending on this node. */
  reexecute?: Reexecute
  /** Records committed with each task change (MarketStateComponents.taskChangeRecords: the webhook outbox). */
  taskChangeRecords?: MarketStateComponents['taskChangeRecords']
  /** The ledger's inserted vertices (CoordinatorComponents.vertices). */
  vertices?: CoordinatorComponents['vertices']
}

export class MarketService implements Startable {
  readonly state: MarketState
  readonly coordinator: MarketCoordinator
  readonly metrics?: MarketMetrics
  private readonly detachMetrics?: () => void
  private readonly log: Logger
  private readonly dag: MarketServiceComponents['dag']
  private runner: LifecycleRunner | undefined

  constructor (components: MarketServiceComponents, init: MarketServiceInit = {}) {
    this.log = components.logger.child({ module: 'market' })
    this.dag = components.dag
    this.state = new MarketState({ db: components.db, dag: components.dag, logger: components.logger, ...(components.taskChangeRecords !== undefined ? { taskChangeRecords: components.taskChangeRecords } : {}) }, init)
    if (components.registry !== undefined) {
      const { metrics, detach } = createMarketMetrics(components.registry, this.state)
      this.metrics = metrics
      this.detachMetrics = detach
    }
    const metrics = this.metrics
    this.coordinator = new MarketCoordinator({
      dag: components.dag,
      state: this.state,
      identity: components.identity,
      logger: components.logger,
      ...(components.reexecute !== undefined ? { reexecute: components.reexecute } : {}),
      ...(components.vertices !== undefined ? { vertices: components.vertices } : {}),
      onIssued: (kind, detail) => { metrics?.issued.inc({ kind, detail }) },
      onOrderRefused: (kind, verdict) => { metrics?.orderRefused.inc({ kind, verdict }) },
      onFinalizingHeld: (tasks) => { metrics?.finalizingHeld.set(tasks) },
      onFinalizingCut: (kind) => { metrics?.finalizingCut.inc({ kind }) }
    }, init)
  }

  /** The admission check of ADMISSION_CHECKED_KINDS, installed with the ledger while the market state runs. */
  private readonly admission: Startable = {
    start: async () => {
      const check = marketAdmissionCheck({
        precheck: async (tx, timeMs, entry) => await this.state.precheck(tx, timeMs, entry),
        onRefused: (code) => { this.metrics?.admissionRefused.inc({ code }) }
      })
      for (const kind of ADMISSION_CHECKED_KINDS) this.dag.setStateCheck(kind, check)
    },
    stop: async () => { for (const kind of ADMISSION_CHECKED_KINDS) this.dag.setStateCheck(kind, undefined) }
  }

  /** What the API and the market's other parts read. */
  get reader (): MarketReader { return this.state }

  /**
   * True once no bid or reveal still to come can change a task's first award, on this node's final clock (the
   * coordinator's rule, rules/plan.ts): the award is due, and the task's bids as read after this call are the ones
   * it ranks. Undefined for an unknown task.
   */
  async auctionSealed (taskId: string): Promise<boolean | undefined> {
    // read before the drain, as the coordinator does: every vertex that moved the clock is then applied to the state
    const sealed = this.dag.reader.sealedThroughMs()
    await this.state.caughtUp()
    const t = await this.state.taskRecord(taskId)
    return t === undefined ? undefined : auctionSealed(t, sealed === undefined ? undefined : Number(sealed))
  }

  async start (): Promise<void> {
    const runner = new LifecycleRunner({ logger: this.log })
    this.runner = runner
    try {
      await runner.start('market-state', this.state)
      await runner.start('market-admission', this.admission)
      await runner.start('market-coordinator', this.coordinator)
    } catch (err) {
      await runner.stopAll()
      throw err
    }
  }

  async stop (): Promise<void> {
    await this.runner?.stopAll()
    this.runner = undefined
    this.detachMetrics?.()
  }
}
