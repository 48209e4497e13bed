import type { GossipSub } from '@libp2p/gossipsub'
import { type Logger, silentLogger } from '../core/logger.ts'
import { GossipRegistry } from '../network/gossip.ts'
import { GOSSIP_TOPICS } from '../network/protocols.ts'
import type { CheckpointTransport } from './checkpoint-aggregator.ts'

/**
 * The checkpoint transport over the node's gossip registry: the aggregator's handler is the validator of
 * GOSSIP_TOPICS.checkpoint (accept propagates, reject penalises the sender, ignore drops), counted with every other
 * topic in `harmony_gossip_validations_total`.
 */
export function gossipCheckpointTransport (gossip: GossipRegistry): CheckpointTransport {
  const topic = GOSSIP_TOPICS.checkpoint
  return {
    publish: async (data) => { await gossip.publish(topic, data) },
    subscribe: (handler) => gossip.register<Uint8Array>({
      topic,
      // the aggregator decodes (and rejects malformed messages) itself, so it counts every message it is handed
      decode: (data) => data,
      validate: async (data) => await handler(data)
    })
  }
}

/**
 * The same transport for a bare libp2p host without a node (tests, tools): a gossip registry of its own over
 * `pubsub`. A node passes `node.gossip` to gossipCheckpointTransport instead.
 */
export function gossipsubCheckpointTransport (pubsub: GossipSub, logger: Logger = silentLogger()): CheckpointTransport {
  return gossipCheckpointTransport(new GossipRegistry({ pubsub, logger }))
}
