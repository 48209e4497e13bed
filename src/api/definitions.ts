/**
 * The one definition of Harmony's JSON-RPC surface: every method's name, summary, params schema and result
 * schema, and every subscription topic's filter and payload. The API handlers are typed from it
 * (src/api/method.ts), the node validates params with it, and the SDK derives its types from it, so
 * `client.call('account_getBalance', [address])` is checked end to end. It imports zod and plain lists only, so the
 * SDK can carry it without the daemon.
 */
import { z } from 'zod'
import type { MethodClass } from '../rpc/method-class.ts'
import { WEBHOOK_EVENT_KINDS } from '../webhooks/kinds.ts'

export type { MethodClass }
import { BID_STATUSES, MARKET_MAX_INPUT_BYTES, MARKET_MAX_INPUTS, MARKET_MAX_PAGE, MARKET_MAX_SUBMIT_BYTES, MarketBidsResult, PageParams, ProviderResult, ProviderStatusResult, TaskListFilter, TaskOutputResult, TaskResult, TaskSubmitParams } from './market-definitions.ts'

/** One JSON-RPC method: what `rpc.discover` and docs/rpc.md say about it, and its schemas. */
export interface MethodDefinition<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  summary: string
  /**
   * Who may call it: `public` (reads), `spending` (moves funds), `admin` (changes the node). Required, so a
   * method added without one fails the typecheck. The dispatcher enforces it; rpc.discover shows it as
   * `x-harmony-class`.
   */
  class: MethodClass
  /** A tuple (by position) or an object (by name); the dispatcher maps one onto the other. */
  params: P
  result: R
}

function method<P extends z.ZodType, R extends z.ZodType> (methodClass: MethodClass, summary: string, params: P, result: R): MethodDefinition<P, R> {
  return { summary, class: methodClass, params, result }
}

// ---- shared schemas ----

export const hexString = z.string().regex(/^0x[0-9a-fA-F]*$/, 'expected a 0x-prefixed hex string')
/** Token amounts travel as decimal strings of base units (bigint safe). */
export const amountString = z.string().regex(/^[0-9]{1,78}$/, 'expected a decimal string of base units')
const noParams = z.union([z.tuple([]), z.object({}).strict()]).optional()
const address = z.string().min(1).max(64).meta({ title: 'address', description: 'a hmy1… account address' })
const id32 = hexString.refine(s => s.length === 66, 'expected 32 bytes of 0x-prefixed hex')
/** A signed transaction is ~5.3 KB; 16 KiB of hex bounds the body. */
const signedTx = hexString.max(2 + 2 * 8192).meta({ title: 'transaction', description: 'the signed transaction, hex-encoded canonical bytes' })
const evmAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 0x-prefixed 20-byte EVM address')
const nonceString = z.string().regex(/^[0-9]{1,78}$/, 'expected a decimal nonce')
const epochString = z.string().regex(/^[1-9][0-9]{0,19}$/, 'expected a decimal epoch ≥ 1')

/**
 * Characters in one operator announcement. The network floor enforces the same bound on gossip
 * (`MAX_ANNOUNCEMENT_CHARS` in src/network/announce.ts; test/unit/rpc-definitions checks they agree).
 */
export const ANNOUNCEMENT_MAX_CHARS = 1024
// in UTF-16 code units, as the network floor counts them: zod's max() counts code points, so 1024 emoji (2048 units)
// passed it, were published, and every peer rejected them as malformed (lowering this node's gossip score)
const announcementText = z.string().max(ANNOUNCEMENT_MAX_CHARS)
  .refine((text) => text.length <= ANNOUNCEMENT_MAX_CHARS, `Too big: expected at most ${ANNOUNCEMENT_MAX_CHARS} UTF-16 code units (an emoji counts 2)`)
/** Checkpoints per chain_checkpoints call. */
export const MAX_CHECKPOINTS_PER_CALL = 100
const checkpointLimit = z.number().int().min(1).max(MAX_CHECKPOINTS_PER_CALL)
const announcementsLimit = z.number().int().min(1).max(256)

// ---- result shapes ----

const PeerResult = z.object({
  peerId: z.string(),
  addrs: z.array(z.string()),
  direction: z.enum(['inbound', 'outbound']),
  /** True when the peer proved its ML-DSA ledger key. */
  bound: z.boolean(),
  ledgerKey: z.string().optional(),
  latencyMs: z.number().optional()
})

const AnnouncementResult = z.object({ origin: z.string(), text: z.string(), sentAtMs: z.number(), receivedAtMs: z.number(), via: z.string() })

// the fields other floors add (ledger address, chain id, executor, EVM key, capability) are listed too, so a
// client can read them typed; more may follow (the object is loose)
const NodeInfoResult = z.object({
  peerId: z.string(),
  ledgerKey: z.string(),
  version: z.string(),
  network: z.string(),
  listenAddrs: z.array(z.string()),
  rpc: z.string(),
  address: z.string().optional(),
  chainId: z.string().optional(),
  executor: z.object({}).loose().optional(),
  evmAddress: z.string().nullable().optional(),
  capability: z.object({}).loose().optional()
}).loose()

const TxStatusResult = z.object({
  id: z.string(),
  status: z.enum(['pending', 'final', 'rejected', 'pruned']),
  vertex: z.string().nullable(),
  reason: z.string().nullable(),
  tx: z.record(z.string(), z.unknown()).nullable(),
  /** with status `pruned`: the transaction's decided outcome (its vertex's body was pruned) */
  outcome: z.enum(['final', 'rejected']).optional()
})

const DagStatsResult = z.object({ vertices: z.number(), finalized: z.number(), rejected: z.number(), processing: z.number(), finalTxs: z.number(), stateRoot: z.string(), mempool: z.number(), peers: z.number(), finalityP50Ms: z.number(), busyRefusals: z.number() })

const ChainInfoResult = z.object({
  chainId: z.number(),
  contracts: z.object({ agc: z.string(), staking: z.string(), settlement: z.string() }),
  deployBlock: z.number(),
  headBlock: z.number(),
  lastEpoch: z.string(),
  validatorCount: z.number(),
  totalStake: z.string(),
  totalDeposited: z.string(),
  totalWithdrawn: z.string(),
  feePool: z.string(),
  depositCursorBlock: z.number().nullable(),
  depositConfirmations: z.number()
})

const CheckpointResult = z.object({
  epoch: z.string(),
  dagRoot: z.string(),
  stateRoot: z.string(),
  withdrawalsRoot: z.string(),
  submittedAt: z.number(),
  signedStake: z.string(),
  totalStake: z.string()
})

const AccountProofResult = z.object({
  epoch: z.string(),
  address: z.string(),
  balance: z.string(),
  nonce: z.string(),
  proof: z.array(z.string()),
  root: z.string()
})
const WithdrawalProofResult = z.object({
  epoch: z.string(),
  account: z.string(),
  amount: z.string(),
  nonce: z.string(),
  proof: z.array(z.string()),
  withdrawalsRoot: z.string(),
  anchored: z.boolean()
})

// ---- webhooks (src/api/webhooks.ts over src/webhooks) ----

const webhookUrl = z.string().min(1).max(2048).meta({ title: 'url', description: 'http:// or https:// URL that receives the signed POSTs' })
const webhookEvents = z.array(z.enum(WEBHOOK_EVENT_KINDS)).min(1).max(WEBHOOK_EVENT_KINDS.length).meta({ title: 'events' })
const webhookAccounts = z.array(address).max(64).meta({ title: 'accounts', description: 'only events concerning these accounts (empty: all)' })
const webhookLabel = z.string().max(128).meta({ title: 'label' })
const webhookId = z.string().regex(/^wh_[0-9a-f]{24}$/, 'expected a webhook id (wh_…)')
const WebhookResult = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENT_KINDS)),
  accounts: z.array(z.string()),
  label: z.string(),
  createdAtMs: z.number(),
  queued: z.number(),
  delivered: z.number(),
  failed: z.number(),
  dropped: z.number(),
  last: z.object({
    id: z.string(),
    kind: z.enum(WEBHOOK_EVENT_KINDS),
    atMs: z.number(),
    outcome: z.enum(['delivered', 'retrying', 'failed']),
    attempts: z.number(),
    httpStatus: z.number().nullable(),
    error: z.string().nullable()
  }).nullable()
})

// ---- methods ----

/** Every method the API floor serves, by name. The server adds rpc.discover and the subscription methods. */
export const RPC_METHODS = {
  // node (src/api/node.ts)
  node_info: method('public', 'Identity, version, listen addresses and executor of this node', noParams, NodeInfoResult),
  node_health: method('public', 'Lifecycle state, uptime, peer count, and whether the ledger can finalize (consensus.live)', noParams,
    z.object({
      state: z.string(),
      uptimeSeconds: z.number(),
      peers: z.number(),
      boundPeers: z.number(),
      // live: the validators this node reaches hold the quorum of stake; a node that is not live never finalizes
      consensus: z.object({ live: z.boolean(), reachableStake: z.number(), quorumStake: z.number(), totalStake: z.number(), halted: z.string().optional(), historyGap: z.string().optional() }).optional()
    })),
  net_peers: method('public', 'Connected peers, with whether each proved its ledger key', noParams, z.array(PeerResult)),
  net_announce: method('admin', 'Publish an operator announcement to the network over gossip',
    z.union([
      z.tuple([announcementText]),
      z.object({ text: announcementText }).strict()
    ]),
    z.object({ recipients: z.number() })),
  net_announcements: method('public', 'Announcements received from the network, newest first',
    z.union([
      z.tuple([]),
      z.tuple([announcementsLimit]),
      z.object({ limit: announcementsLimit.optional() }).strict()
    ]).optional(),
    z.array(AnnouncementResult)),

  // ledger (src/api/dag.ts)
  account_getBalance: method('public', 'Balance of an account in AGC base units (decimal string), from finalized state.', z.tuple([address]), z.string()),
  account_getNonce: method('public', 'Number of finalized transactions of an account (the next nonce when nothing is pending).', z.tuple([address]), z.string()),
  account_getProof: method('public', 'Merkle proof of an account\'s balance and nonce against the state root of the last checkpoint anchored on chain: leaf (bytes20 address, uint256 balance, uint64 nonce) of an OpenZeppelin StandardMerkleTree (docs/protocol.md, State roots of checkpoints). Null when this node holds no anchored epoch or the account is empty there.', z.tuple([address]), AccountProofResult.nullable()),
  account_sendTransaction: method('spending', 'Submits a signed transaction (hex of its canonical encoding). Returns its id; poll tx_get for status. A refusal is TRANSACTION_REJECTED (or LIMIT_EXCEEDED for BUSY, with `data.retryAfterMs`) with the ledger\'s code in `data.reason`; `TX_REFUSED` names in `data.rule` the rule of the transaction\'s kind that refuses it on this node\'s state (the market\'s BID_LATE, REVEAL_MISMATCH, RESULT_NOT_AWARDED...), and its nonce stays unused.', z.tuple([signedTx]), z.string()),
  tx_get: method('public', 'A transaction and its status: pending, final or rejected (with a reason), or pruned (decided, `outcome` says how; a pruned node deleted its vertex below an anchored checkpoint, `tx` is null). Null when unknown.', z.tuple([id32]), TxStatusResult.nullable()),
  dag_getVertex: method('public', 'A vertex: status, height, author, parents and transactions. Null when unknown.', z.tuple([id32]), z.record(z.string(), z.unknown()).nullable()),
  dag_tips: method('public', 'Current tips of the DAG (vertices without children).', z.tuple([]), z.array(z.string())),
  dag_stats: method('public', 'Vertex counts (stored, finalized, rejected, processing), final transactions, the state root, the median vertex finality of the last 10 s and the new transactions refused as busy since start.', z.tuple([]), DagStatsResult),

  // settlement chain (src/api/chain.ts)
  chain_withdrawalProof: method('public', 'Merkle proof of a DAG withdrawal (EVM account, nonce) in its checkpoint epoch, for HarmonySettlement.withdraw, with `anchored` once the epoch\'s checkpoint is on chain (claim only then); null if unknown.',
    z.union([
      z.tuple([evmAddress, nonceString]),
      z.object({ account: evmAddress, nonce: nonceString }).strict()
    ]),
    WithdrawalProofResult.nullable()),
  chain_info: method('public', 'Settlement chain: chain id, contract addresses, last checkpoint epoch, stake, escrow totals and deposit watcher progress.', noParams, ChainInfoResult),
  chain_checkpoints: method('public', `Checkpoints accepted on chain, ascending: [fromEpoch, fromEpoch + limit), or the latest \`limit\` (default 20, max ${MAX_CHECKPOINTS_PER_CALL}).`,
    z.union([
      z.tuple([]),
      z.tuple([epochString.nullable()]),
      z.tuple([epochString.nullable(), checkpointLimit]),
      z.object({ fromEpoch: epochString.optional(), limit: checkpointLimit.optional() }).strict()
    ]).optional(),
    z.array(CheckpointResult)),

  // webhooks (src/api/webhooks.ts): admin
  webhook_add: method('admin', 'Registers a URL for event kinds (tx, payment, task), optionally only for some accounts. Returns the hook with its signing secret, shown this once: deliveries carry X-Harmony-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>. A host that is, or resolves to, a loopback, private or link-local address is refused (-32000, reason WEBHOOK_TARGET_PRIVATE) and checked again on every delivery, unless the node allows private webhooks (allow-private-webhooks; on for devnets).',
    z.union([
      z.tuple([webhookUrl, webhookEvents]),
      z.tuple([webhookUrl, webhookEvents, z.object({ accounts: webhookAccounts.optional(), label: webhookLabel.optional() }).strict()]),
      z.object({ url: webhookUrl, events: webhookEvents, accounts: webhookAccounts.optional(), label: webhookLabel.optional() }).strict()
    ]),
    WebhookResult.extend({ secret: z.string() })),
  webhook_list: method('admin', 'Registered webhooks with their queue depth, counters and last delivery status (no secrets).', noParams, z.array(WebhookResult)),
  webhook_remove: method('admin', 'Removes a webhook and drops its queued deliveries. False when no hook has this id.',
    z.union([z.tuple([webhookId]), z.object({ id: webhookId }).strict()]),
    z.boolean()),
  // compute market (src/api/market.ts; schemas in src/api/market-definitions.ts; the contract is docs/market.md)
  task_submit: method('spending', `Submits a client-signed task-announce transaction with its input blobs (base64; at most ${MARKET_MAX_INPUTS} of ${MARKET_MAX_INPUT_BYTES} bytes, ${MARKET_MAX_SUBMIT_BYTES} in all). The node stores the inputs and serves them to the winner (sealed to its ML-KEM key when the task is private). Returns the task and transaction ids; follow the task with the task_status topic (or task_get).`,
    z.union([z.tuple([TaskSubmitParams]), TaskSubmitParams]),
    z.object({ taskId: id32, txId: id32 })),
  task_get: method('public', 'A task as the DAG records it: spec, escrow, state, award rounds, results and settlement. Null when unknown.', z.tuple([id32]), TaskResult.nullable()),
  task_list: method('public', `Tasks, newest first, filtered by state, requester or provider; paged (at most ${MARKET_MAX_PAGE} per call; pass \`next\` back as \`cursor\`).`,
    z.union([z.tuple([]), z.tuple([TaskListFilter]), TaskListFilter]).optional(),
    z.object({ tasks: z.array(TaskResult), next: z.string().nullable() })),
  task_cancel: method('spending', 'Submits a client-signed task-cancel transaction (the coordinator refunds the escrow when no award is final). Returns its transaction id.', z.tuple([signedTx]), z.string()),
  task_result: method('public', 'The output of a task with a verified result, base64: plain for a public task, the envelope sealed to the requester\'s ML-KEM-768 key for a private one (the client opens it). Null while there is none. A task whose providers found its inputs do not fit it (an input fault, paid as work done) has no output: error -32000, reason TASK_INPUT_FAULT.', z.tuple([id32]), TaskOutputResult.nullable()),
  market_bids: method('public', `Every bid of a task: commit and reveal times, price, status (${BID_STATUSES.join(', ')}) and, for one that lost, is invalid or was excluded, its reason (price, tie-reputation, tie-hash, capability, late, reveal-mismatch, unrevealed, …; docs/market.md, Award rule). Null when the task is unknown.`, z.tuple([id32]), MarketBidsResult.nullable()),
  market_providers: method('public', `Registered providers: bond, capability, attestation and reputation; paged (at most ${MARKET_MAX_PAGE} per call).`,
    z.union([z.tuple([]), z.tuple([PageParams]), PageParams]).optional(),
    z.object({ providers: z.array(ProviderResult), next: z.string().nullable() })),
  provider_status: method('public', 'This node\'s provider: registration, bond, capability, attestation, pricing, why it did not bid on recent tasks, payments owed, received and stuck, slashes.', noParams, ProviderStatusResult)
} as const satisfies Record<string, MethodDefinition>

export type RpcMethods = typeof RPC_METHODS
export type RpcMethodName = keyof RpcMethods
/** What a caller passes: a tuple by position or an object by name (`undefined` where the params are optional). */
export type RpcParamsOf<M extends RpcMethodName> = z.input<RpcMethods[M]['params']>
/** What a handler receives once the params passed their schema. */
export type RpcParsedParamsOf<M extends RpcMethodName> = z.output<RpcMethods[M]['params']>
export type RpcResultOf<M extends RpcMethodName> = z.output<RpcMethods[M]['result']>

// ---- subscription topics (harmony_subscribe) ----

/** One subscription topic: its filter (the second harmony_subscribe param) and the events it carries. */
export interface TopicDefinition<F extends z.ZodType = z.ZodType, E extends z.ZodType = z.ZodType> {
  summary: string
  filter?: F
  payload: E
}

/** Every topic the API floor registers. */
export const RPC_TOPICS = {
  tx_status: {
    summary: 'Transactions as they become final or rejected on this node',
    filter: z.object({ id: z.string().regex(/^0x[0-9a-f]{64}$/) }).strict().optional(),
    payload: z.object({ id: z.string(), status: z.enum(['final', 'rejected']), vertex: z.string().nullable(), reason: z.string().nullable() })
  },
  net_announcements: {
    summary: 'Operator announcements received over gossip',
    payload: AnnouncementResult
  },
  task_status: {
    summary: 'Tasks as final market transactions change them on this node (announce, bids, award, results, settlement): after each change, the task as task_get returns it. Filter by task id or by requester; without a filter, every task.',
    filter: z.object({ id: id32.optional(), requester: address.optional() }).strict().optional(),
    payload: TaskResult
  }
} as const satisfies Record<string, TopicDefinition>

export type RpcTopics = typeof RPC_TOPICS
export type RpcTopicName = keyof RpcTopics
export type RpcTopicFilterOf<T extends RpcTopicName> = RpcTopics[T] extends { filter: infer F extends z.ZodType } ? z.input<F> : undefined
/** A subscriber's filter once parsed (what a topic's `matches` sees). */
export type RpcTopicParsedFilterOf<T extends RpcTopicName> = RpcTopics[T] extends { filter: infer F extends z.ZodType } ? Exclude<z.output<F>, undefined> : never
export type RpcTopicEventOf<T extends RpcTopicName> = z.output<RpcTopics[T]['payload']>
