/**
 * Every libp2p protocol id and gossip topic Harmony speaks, in one table (docs/protocol.md is the byte-level
 * spec). Ids are versioned; a changed wire format gets a new id, and a retired id is never reused.
 */

/** libp2p stream protocols. */
export const PROTOCOLS = {
  /** Private DHT: Harmony peers never join the public IPFS DHT. */
  kad: '/harmony/kad/1.0.0',
  /** Peer id ↔ ML-DSA ledger key binding, once per connection (src/network/peer-binding.ts). */
  peerBinding: '/harmony/id/1.0.0',
  /** Vertices by id and tips (src/dag). */
  dagSync: '/harmony/dag/sync/3.0.0',
  /** Avalanche consensus queries (src/dag). */
  avalanche: '/harmony/avalanche/1.0.0',
  /** A node outside the validator set hands a transaction to a validator (src/dag). */
  dagTx: '/harmony/dag/tx/1.0.0',
  /** The same over one long-lived channel per validator (query-channel.ts framing; s40): no stream per transaction. */
  dagTxChannel: '/harmony/dag/tx/2.0.0',
  /** Task inputs and results, content-addressed (src/market). */
  blob: '/harmony/blob/1.0.0',
  /** Benchmark challenge of a provider's claimed capability (src/market/provider/challenge.ts). */
  marketChallenge: '/harmony/market/challenge/1.0.0',
  /** State sync: the state cut of an anchored checkpoint epoch (src/bridge/state-sync.ts). */
  stateSync: '/harmony/state/2.0.0'
} as const

/** Every gossip topic; gossipsub drops messages on any other. */
export const GOSSIP_TOPICS = {
  vertex: 'harmony/1/vertex',
  task: 'harmony/1/task',
  bid: 'harmony/1/bid',
  result: 'harmony/1/result',
  checkpoint: 'harmony/1/checkpoint',
  /** Free-form operator announcements; used by the network smoke tests and the gossip bench. */
  announce: 'harmony/1/announce',
  /** A private task's inputs sealed to an awarded provider: where to fetch them (src/market/sealed-inputs.ts). */
  inputs: 'harmony/1/inputs',
  /** Signed provider heartbeats: a registered provider is up and how loaded it is (src/market/provider/heartbeat.ts). */
  provider: 'harmony/1/provider'
} as const

export type GossipTopicName = keyof typeof GOSSIP_TOPICS
export type GossipTopic = typeof GOSSIP_TOPICS[GossipTopicName]

/**
 * Largest gossip payload accepted on any topic: the largest vertex (1 MiB, src/dag/vertex.ts asserts it fits)
 * plus 64 KiB of headroom for the other topics' framing.
 */
export const MAX_GOSSIP_BYTES = (1 << 20) + 64 * 1024
