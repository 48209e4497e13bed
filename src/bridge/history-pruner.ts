import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import type { BridgeChain } from './dag-bridge-options.ts'

export interface HistoryPrunerInit {
  /** How often the last anchored checkpoint is looked up and history below it pruned. @default 60000 */
  intervalMs?: number
}

export interface HistoryPrunerComponents {
  /** `lastEpoch`: the last checkpoint anchored on chain. */
  chain: Pick<BridgeChain, 'info'>
  /** The DAG vertex of an epoch's state cut (its close), when this node still holds it. */
  cutVertex: (epoch: bigint) => Promise<string | undefined>
  /** The DAG's prune: deletes vertex bodies in the causal past of the cut; returns how many. */
  prune: (cutVertexId: string) => Promise<number>
  logger: Logger
}

/**
 * A pruned node (`archive` off) keeps vertex bodies only above the last checkpoint anchored on chain: below it,
 * the state is fixed by a root the contract accepted under the validators' signatures, and the DAG keeps the graph
 * index, decisions and transaction records (tx_get answers `pruned`). The DAG (floor 2) exposes the prune; this
 * bridge-side service (floor 3) knows which cut is anchored and calls it.
 */
export class HistoryPruner implements Startable {
  private readonly c: HistoryPrunerComponents
  private readonly intervalMs: number
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private lastPrunedEpoch = 0n

  constructor (components: HistoryPrunerComponents, init: HistoryPrunerInit = {}) {
    this.c = components
    this.intervalMs = init.intervalMs ?? 60_000
  }

  async start (): Promise<void> {
    this.timer = setInterval(() => { this.running ??= this.tick().then(() => undefined, () => undefined).finally(() => { this.running = undefined }) }, this.intervalMs)
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.running
  }

  /** One round: prunes below the last anchored epoch's cut if it moved since the last round. Returns bodies deleted. */
  async tick (): Promise<number> {
    try {
      const last = (await this.c.chain.info()).lastEpoch
      if (last === undefined) return 0
      const epoch = BigInt(last)
      if (epoch <= this.lastPrunedEpoch) return 0
      const vertex = await this.c.cutVertex(epoch)
      if (vertex === undefined) return 0 // this node has not computed that cut (yet): never prune past what it checked
      const deleted = await this.c.prune(vertex)
      this.lastPrunedEpoch = epoch
      if (deleted > 0) this.c.logger.info({ epoch: epoch.toString(), deleted }, 'history pruned below the anchored checkpoint')
      return deleted
    } catch (err) {
      this.c.logger.warn({ err }, 'pruning history failed; retrying next round')
      return 0
    }
  }
}
