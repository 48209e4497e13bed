import { type GossipSub, TopicValidatorResult } from '@libp2p/gossipsub'
import { CHECKPOINT_TOPIC, type CheckpointTransport, type GossipVerdict } from './checkpoint-aggregator.ts'

const VERDICTS: Record<GossipVerdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject
}

/**
 * The checkpoint transport over gossipsub: the aggregator's handler is the topic validator of
 * `harmony/1/checkpoint` (accept propagates, reject penalises the sender, ignore drops), as the ledger's vertex
 * topic does.
 */
export function gossipsubCheckpointTransport (pubsub: GossipSub, topic: string = CHECKPOINT_TOPIC): CheckpointTransport {
  return {
    publish: async (data) => { await pubsub.publish(topic, data) },
    subscribe: (handler) => {
      pubsub.topicValidators.set(topic, async (_peer, message) => VERDICTS[await handler(message.data)])
      pubsub.subscribe(topic)
      return () => {
        pubsub.topicValidators.delete(topic)
        pubsub.unsubscribe(topic)
      }
    }
  }
}
