/** DAG <-> chain: deposit credits, withdrawal burns, epochs and their checkpoints. */
export { type BridgeChain, connectChainToDag, DagBridge, type DagBridgeComponents, type DagBridgeInit, epochWithdrawals, withdrawalLeafOf, withdrawalNonceOf } from './dag-bridge.ts'
