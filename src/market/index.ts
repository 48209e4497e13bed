/** The compute market (docs/market.md): kinds, accounts, state, rules, coordinator, service. */
import { registerCutPart } from '../dag/cut-parts.ts'
import { registerMarketKinds as registerKinds } from './kinds/index.ts'
import { marketCutPart } from './state/snapshot.ts'

/**
 * Registers the market's transaction kinds into the DAG's registry and its part of the state cut (every node, at
 * composition: one that decodes market transactions also folds them into its cuts). Again: a no-op.
 */
export function registerMarket (): void {
  registerKinds()
  registerCutPart(marketCutPart)
}

export { bondAccount, escrowAccount, reexecAccount, taskIdHexOf, taskIdOf } from './accounts.ts'
export * from './kinds/index.ts'
export * from './state/reader.ts'
export { MarketState, type MarketStateComponents, type MarketStateInit, type ApplyListener } from './state/market-state.ts'
export type { ApplyOutcome } from './state/apply.ts'
export * as marketRules from './rules/index.ts'
export { MarketCoordinator, type CoordinatorInit, type Reexecute } from './coordinator.ts'
export { MarketService, type MarketServiceComponents, type MarketServiceInit } from './service.ts'
export { createMarketMetrics, type MarketMetrics } from './metrics.ts'
