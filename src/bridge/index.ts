/** DAG <-> chain: deposit credits, withdrawal burns, epochs and their checkpoints. */
import { registerCutPart } from '../dag/cut-parts.ts'
import { registerBridgeKinds as registerKinds } from './kinds/index.ts'
import { withdrawalCutPart } from './withdrawal-cut.ts'

/**
 * Registers the bridge's transaction kinds and its part of the state cut (the unsettled withdrawals): every node, at
 * composition, with or without an EVM chain. Again: a no-op.
 */
export function registerBridge (): void {
  registerKinds()
  registerCutPart(withdrawalCutPart)
}

export { type BridgeChain, connectChainToDag, DagBridge, type DagBridgeComponents, type DagBridgeInit } from './dag-bridge.ts'
export { epochWithdrawals, feeLeafOf, withdrawalLeafOf, withdrawalNonceOf } from './withdrawals.ts'
export { checkGenesisLock, genesisBacking, genesisLockMatches, genesisSupply } from './genesis-lock.ts'
export { BRIDGE_KINDS, buildDepositCredit, buildEpochClose, buildWithdraw, depositAccount, EPOCH_ACCOUNT, registerBridgeKinds, TX_KIND_DEPOSIT_CREDIT, TX_KIND_EPOCH_CLOSE, TX_KIND_WITHDRAW, type WithdrawInit } from './kinds/index.ts'
export { type BridgeMetrics, createBridgeMetrics } from './metrics.ts'
export { type AnchoredCheckpoint, fetchCheckpointCut, MAX_CUT_BYTES, StateSyncServer } from './state-sync.ts'
export { syncedEpochWrites } from './state-cuts.ts'
