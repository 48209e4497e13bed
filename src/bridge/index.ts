/** DAG <-> chain: deposit credits, withdrawal burns, epochs and their checkpoints. */
export { registerBridge } from './register.ts'
export { type BridgeChain, connectChainToDag, DagBridge, type DagBridgeComponents, type DagBridgeInit } from './dag-bridge.ts'
export { epochWithdrawals, feeLeafOf, withdrawalLeafOf, withdrawalNonceOf } from './withdrawals.ts'
export { checkGenesisLock, genesisBacking, genesisLockMatches, genesisSupply } from './genesis-lock.ts'
export { BRIDGE_KINDS, buildDepositCredit, buildEpochClose, buildWithdraw, depositAccount, EPOCH_ACCOUNT, registerBridgeKinds, TX_KIND_DEPOSIT_CREDIT, TX_KIND_EPOCH_CLOSE, TX_KIND_WITHDRAW, type WithdrawInit } from './kinds/index.ts'
export { type BridgeMetrics, createBridgeMetrics } from './metrics.ts'
export { type AnchoredCheckpoint, fetchCheckpointCut, MAX_CUT_BYTES, StateSyncServer } from './state-sync.ts'
export { syncedEpochWrites } from './state-cuts.ts'
