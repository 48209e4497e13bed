import type { Message } from '@libp2p/gossipsub'
import { sha256 } from '../core/crypto.ts'
import { GOSSIP_TOPICS, type GossipTopic } from './protocols.ts'

/**
 * Gossip message ids (docs/protocol.md §5), 20 bytes. With StrictNoSign there is no (from, seqno) pair; a content id
 * makes gossipsub drop re-published duplicates for free.
 * - `harmony/1/vertex`: the first 20 bytes of sha256(data), which is the vertex id: the vertex's own checks hash
 *   those bytes anyway, so the id costs no extra pass over up to 1 MiB (`GossipMessageIds` hints).
 * - every other topic: the first 20 bytes of sha256(topic || 0x00 || data), the topic in UTF-8.
 */
export const MESSAGE_ID_BYTES = 20

/** Topics whose message id is sha256(data), the id their payload already has. */
const DATA_HASH_TOPICS: ReadonlySet<string> = new Set<GossipTopic>([GOSSIP_TOPICS.vertex])

/** The message id by the rule above, hashing what it needs. */
export function gossipMessageId (msg: Pick<Message, 'topic' | 'data'>): Uint8Array {
  if (DATA_HASH_TOPICS.has(msg.topic)) return sha256(msg.data).subarray(0, MESSAGE_ID_BYTES)
  return sha256(textEncoder.encode(msg.topic), ZERO, msg.data).subarray(0, MESSAGE_ID_BYTES)
}
const textEncoder = new TextEncoder()
const ZERO = new Uint8Array([0])

/** Hashes a data-hash topic's payload: returns sha256(data), nothing else (checked in test/unit/network-message-id). */
export type PayloadHasher = (data: Uint8Array) => Uint8Array

/**
 * `gossipMessageId` for gossipsub's `msgIdFn`, with the topic owner's hasher where it registered one: a hasher
 * returns the same sha256(data) and may keep work for its decode (the vertex topic's hashes the unsigned prefix and
 * the whole in one pass, and keeps the prefix digest its signature check needs), or know the hash already (a
 * vertex this node built). One per libp2p node, given to the host and to the gossip registry.
 */
export class GossipMessageIds {
  private readonly hashers = new Map<string, PayloadHasher>()

  /** Installs `topic`'s hasher (a data-hash topic only); returns a function that removes it. */
  setHasher (topic: GossipTopic, hasher: PayloadHasher): () => void {
    if (!DATA_HASH_TOPICS.has(topic)) throw new Error(`gossip topic ${topic} has a content message id, not its payload's hash`)
    this.hashers.set(topic, hasher)
    return () => { if (this.hashers.get(topic) === hasher) this.hashers.delete(topic) }
  }

  readonly msgIdFn = (msg: Message): Uint8Array => {
    const hasher = this.hashers.get(msg.topic)
    return hasher === undefined ? gossipMessageId(msg) : hasher(msg.data).subarray(0, MESSAGE_ID_BYTES)
  }
}
