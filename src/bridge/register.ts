import { registerCutPart } from '../dag/cut-parts.ts'
import { registerBridgeKinds as registerKinds } from './kinds/index.ts'
import { withdrawalCutPart } from './withdrawal-cut.ts'

/**
 * Registers the bridge's transaction kinds and its part of the state cut (the unsettled withdrawals): every node, at
 * composition, with or without an EVM chain. Again: a no-op. (Its own module: the bridge's index also reaches the
 * chain client, which a node without a chain does not load; src/node/chain-part.ts.)
 */
export function registerBridge (): void {
  registerKinds()
  registerCutPart(withdrawalCutPart)
}
