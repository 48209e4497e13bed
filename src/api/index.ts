/**
 * The API floor: the JSON-RPC methods of each domain, each over a narrow source interface, each registering its
 * methods, subscription topics and error codes into an `RpcRegistry`; and the shared definitions (names + zod
 * schemas) the SDK derives its types from.
 */
export { type AnchoredProof, CHAIN_RPC_ERROR_CODES, CHAIN_RPC_TOPICS, type ChainRpcSource, MAX_CHECKPOINTS_PER_CALL, registerChainRpc, type WithdrawalProofSource } from './chain.ts'
export { DAG_RPC_ERROR_CODES, DAG_RPC_TOPICS, type DagRpcSource, type DagTxStatus, registerDagRpc, registerStateProofRpc, type StateProofSource } from './dag.ts'
export { NODE_RPC_TOPICS, type NodeAnnouncement, type NodeRpcSource, registerNodeRpc } from './node.ts'
export { registerWebhookRpc, WEBHOOK_RPC_ERROR_CODES, type WebhookRpcSource } from './webhooks.ts'
export * from './definitions.ts'
export { type ApiHandler, registerMethod, registerTopic, type TopicPublisher } from './method.ts'
export { taskToRpc } from './market-views.ts'
export { type LocalProviderStatus, MARKET_RPC_ERROR_CODES, MARKET_RPC_TOPICS, type MarketRpcSource, registerMarketRpc, type TaskListFilter } from './market.ts'
