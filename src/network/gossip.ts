import { TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { Registry } from 'prom-client'
import type { Logger } from '../core/logger.ts'
import { createNetworkMetrics, type NetworkMetrics } from './metrics.ts'
import { GOSSIP_TOPICS, MAX_GOSSIP_BYTES, type GossipTopic } from './protocols.ts'
import type { GossipMessageIds, PayloadHasher } from './message-id.ts'

/**
 * One registry for every gossip user (Lodestar's `GossipType` handlers): a user registers its topic with a decoder
 * and a validator; the registry installs the gossipsub topic validator, subscribes, counts every verdict in one
 * metric set and maps verdicts to gossipsub's. Accept propagates the message, reject lowers the sender's score,
 * ignore drops it quietly. An unexpected error in a handler is our bug, so it means ignore, never reject.
 */

export type GossipVerdict = 'accept' | 'ignore' | 'reject'

/** A verdict with a bounded code (a metric label: keep the set of codes finite). */
export interface GossipResult {
  verdict: GossipVerdict
  code: string
}

/** Thrown by a decoder or validator to end validation with a verdict. */
export class GossipValidationError extends Error {
  readonly verdict: Exclude<GossipVerdict, 'accept'>
  readonly code: string

  constructor (verdict: Exclude<GossipVerdict, 'accept'>, code: string, message = code) {
    super(message)
    this.name = 'GossipValidationError'
    this.verdict = verdict
    this.code = code
  }
}

export interface GossipTopicHandler<T> {
  topic: GossipTopic
  /** Largest payload on this topic; larger messages are rejected before decoding. @default MAX_GOSSIP_BYTES */
  maxBytes?: number
  /** Strict decode; throw (any error) for a malformed message: it is rejected with code MALFORMED. */
  decode: (data: Uint8Array) => T
  /** Decides the verdict; may throw GossipValidationError. Runs before the message is forwarded. */
  validate: (message: T, from: PeerId, data: Uint8Array) => Promise<GossipVerdict | GossipResult> | GossipVerdict | GossipResult
  /**
   * The topic's payload hash, for a topic whose message id is that hash (`message-id.ts`): must return sha256(data);
   * may keep what its decode reuses. The plain sha256 when omitted.
   */
  hash?: PayloadHasher
  /** Called after an accept, with the decoded message (never for our own publications). */
  onAccepted?: (message: T, from: PeerId) => void
}

export interface GossipRegistryComponents {
  pubsub: GossipSub
  logger: Logger
  registry?: Registry
  /** The host's message ids, where handlers' hashers go; without it the host hashes by the plain rule. */
  messageIds?: GossipMessageIds
}

const VERDICTS: Record<GossipVerdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject
}

export class GossipRegistry {
  private readonly c: GossipRegistryComponents
  private readonly log: Logger
  private readonly topics = new Set<GossipTopic>()
  private readonly metrics: NetworkMetrics

  constructor (components: GossipRegistryComponents) {
    this.c = components
    this.log = components.logger.child({ module: 'gossip' })
    this.metrics = createNetworkMetrics(components.registry)
  }

  /** Installs the handler and subscribes to its topic; returns a function that removes both. */
  register<T>(handler: GossipTopicHandler<T>): () => void {
    const { pubsub } = this.c
    const { topic } = handler
    if (!Object.values(GOSSIP_TOPICS).includes(topic)) throw new Error(`gossip topic ${topic} is not in the protocol table`)
    if (this.topics.has(topic)) throw new Error(`gossip topic ${topic} registered twice`)
    this.topics.add(topic)
    pubsub.topicValidators.set(topic, async (from, msg) => {
      const result = await this.validate(handler, from, msg.data)
      this.metrics.gossipValidations.inc({ topic, verdict: result.verdict, code: result.code })
      return VERDICTS[result.verdict]
    })
    const unhash = handler.hash === undefined ? undefined : this.c.messageIds?.setHasher(topic, handler.hash)
    pubsub.subscribe(topic)
    return () => {
      if (!this.topics.delete(topic)) return
      unhash?.()
      pubsub.topicValidators.delete(topic)
      pubsub.unsubscribe(topic)
    }
  }

  /** Publishes on a topic; returns how many peers it was sent to directly. */
  async publish (topic: GossipTopic, data: Uint8Array): Promise<number> {
    const result = await this.c.pubsub.publish(topic, data)
    return result.recipients.length
  }

  private async validate<T>(handler: GossipTopicHandler<T>, from: PeerId, data: Uint8Array): Promise<GossipResult> {
    if (data.length > (handler.maxBytes ?? MAX_GOSSIP_BYTES)) return { verdict: 'reject', code: 'TOO_LARGE' }
    let message: T
    try {
      message = handler.decode(data)
    } catch (err) {
      if (err instanceof GossipValidationError) return { verdict: err.verdict, code: err.code }
      return { verdict: 'reject', code: 'MALFORMED' }
    }
    let result: GossipResult
    try {
      const verdict = await handler.validate(message, from, data)
      result = typeof verdict === 'string' ? { verdict, code: verdict === 'accept' ? 'OK' : verdict.toUpperCase() } : verdict
    } catch (err) {
      if (err instanceof GossipValidationError) return { verdict: err.verdict, code: err.code }
      this.log.warn({ err, topic: handler.topic }, 'unexpected error validating a gossip message')
      return { verdict: 'ignore', code: 'INTERNAL' }
    }
    if (result.verdict === 'accept' && handler.onAccepted !== undefined) {
      try {
        handler.onAccepted(message, from)
      } catch (err) {
        this.log.warn({ err, topic: handler.topic }, 'gossip handler failed after accept')
      }
    }
    return result
  }
}
