/** The JSON-RPC methods of each domain, each over a narrow source interface. */
export { type ChainRpcSource, CHAIN_RPC_ERROR_CODES, MAX_CHECKPOINTS_PER_CALL, registerChainRpc, type WithdrawalProofSource } from './chain.ts'
export { DAG_RPC_ERROR_CODES, registerDagRpc } from './dag.ts'
export { registerNodeRpc } from './node.ts'
