import { randomBytes } from 'node:crypto'
import type { z } from 'zod'
import type { Logger } from '../core/logger.ts'
import { RpcErrorCode, RpcMethodError } from './errors.ts'

/** A topic other modules publish into and WebSocket clients subscribe to with `harmony_subscribe`. */
export interface TopicDefinition<F extends z.ZodType = z.ZodType> {
  /** e.g. `dag_finalized`, `task_updates` */
  name: string
  summary: string
  /** Schema of the filter a subscriber may pass as the second `harmony_subscribe` param. Absent: no filter. */
  filter?: F
  /** Whether one event passes a subscriber's (parsed) filter. Events always pass when the topic has no filter. */
  matches?: (filter: z.output<F>, payload: unknown) => boolean
  /** Schema of the events, for the generated docs. */
  payload?: z.ZodType
}

export interface SubscriptionHubInit {
  /**
   * Bound on all subscriptions together (the server bounds each connection separately).
   * @default 16384
   */
  maxSubscriptions?: number
}

export interface SubscriptionHubComponents {
  logger?: Logger
}

/** Receives the payload of one event for one subscription. */
export type SubscriptionSink = (payload: unknown) => void

interface Subscription {
  id: string
  topic: RegisteredTopic
  filter: unknown
  sink: SubscriptionSink
}

interface RegisteredTopic {
  definition: TopicDefinition
  subscriptions: Map<string, Subscription>
}

const TOPIC_NAME = /^[a-z][a-z0-9_]{0,63}$/

/**
 * Fan-out of events to subscribers. Modules register topics and `publish(topic, payload)`; the RPC server
 * subscribes WebSocket connections. Delivery is synchronous and never throws into the publisher: a failing
 * sink or filter is logged and skipped.
 */
export class SubscriptionHub {
  private readonly topicsByName = new Map<string, RegisteredTopic>()
  private readonly byId = new Map<string, Subscription>()
  private readonly maxSubscriptions: number
  private readonly logger?: Logger
  private readonly sizeListeners = new Set<(size: number) => void>()

  constructor (components: SubscriptionHubComponents = {}, init: SubscriptionHubInit = {}) {
    this.logger = components.logger?.child({ module: 'rpc-subscriptions' })
    this.maxSubscriptions = init.maxSubscriptions ?? 16384
  }

  registerTopic<F extends z.ZodType>(definition: TopicDefinition<F>): void {
    if (!TOPIC_NAME.test(definition.name)) {
      throw new Error(`subscription topic name ${JSON.stringify(definition.name)} must match ${TOPIC_NAME}`)
    }
    if (this.topicsByName.has(definition.name)) throw new Error(`subscription topic ${definition.name} registered twice`)
    if (definition.filter !== undefined && definition.matches === undefined) {
      throw new Error(`subscription topic ${definition.name} has a filter schema but no matches()`)
    }
    this.topicsByName.set(definition.name, { definition: definition as unknown as TopicDefinition, subscriptions: new Map() })
  }

  hasTopic (name: string): boolean {
    return this.topicsByName.has(name)
  }

  /** Registered topics, sorted by name. */
  topics (): TopicDefinition[] {
    return [...this.topicsByName.values()].map((t) => t.definition).sort((a, b) => a.name.localeCompare(b.name))
  }

  /** Active subscriptions over all topics. */
  get size (): number {
    return this.byId.size
  }

  /** Number of subscribers of one topic (a publisher may skip building an event nobody reads). */
  subscriberCount (topic: string): number {
    return this.topicsByName.get(topic)?.subscriptions.size ?? 0
  }

  /**
   * Adds a subscription and returns its id. Throws `RpcMethodError` with INVALID_PARAMS for an unknown topic or a
   * filter that fails the topic's schema, and LIMIT_EXCEEDED when the hub is full.
   */
  subscribe (topicName: string, rawFilter: unknown, sink: SubscriptionSink): string {
    const topic = this.topicsByName.get(topicName)
    if (topic === undefined) {
      const known = [...this.topicsByName.keys()].sort().join(', ')
      throw new RpcMethodError(RpcErrorCode.INVALID_PARAMS, `unknown subscription topic; known topics: ${known === '' ? '(none)' : known}`)
    }
    let filter: unknown
    const schema = topic.definition.filter
    if (schema === undefined) {
      if (rawFilter !== undefined && rawFilter !== null) {
        throw new RpcMethodError(RpcErrorCode.INVALID_PARAMS, `topic ${topicName} takes no filter`)
      }
    } else {
      const parsed = schema.safeParse(rawFilter)
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message }))
        throw new RpcMethodError(RpcErrorCode.INVALID_PARAMS, `invalid filter for topic ${topicName}: ${issues[0]?.message ?? 'rejected'}`, issues)
      }
      filter = parsed.data
    }
    if (this.byId.size >= this.maxSubscriptions) {
      throw new RpcMethodError(RpcErrorCode.LIMIT_EXCEEDED, `the node has reached its limit of ${this.maxSubscriptions} subscriptions`)
    }
    const id = `0x${randomBytes(16).toString('hex')}`
    const subscription: Subscription = { id, topic, filter, sink }
    topic.subscriptions.set(id, subscription)
    this.byId.set(id, subscription)
    this.emitSize()
    return id
  }

  /** Removes a subscription; false when the id is not active. */
  unsubscribe (id: string): boolean {
    const subscription = this.byId.get(id)
    if (subscription === undefined) return false
    this.byId.delete(id)
    subscription.topic.subscriptions.delete(id)
    this.emitSize()
    return true
  }

  /**
   * Delivers `payload` to every subscriber of `topic` whose filter matches. Returns the number of deliveries.
   * Publishing to a topic that was never registered is a programming error and throws.
   */
  publish (topicName: string, payload: unknown): number {
    const topic = this.topicsByName.get(topicName)
    if (topic === undefined) throw new Error(`publish to unregistered subscription topic ${topicName}`)
    let delivered = 0
    // copy: a sink may unsubscribe (or the connection close) during delivery
    for (const subscription of [...topic.subscriptions.values()]) {
      if (!this.matches(topic.definition, subscription.filter, payload)) continue
      try {
        subscription.sink(payload)
        delivered++
      } catch (err) {
        this.logger?.warn({ err, topic: topicName }, 'subscription delivery failed')
      }
    }
    return delivered
  }

  /** Called with the new total after every subscribe/unsubscribe (the server feeds its gauge from it). */
  onSizeChange (listener: (size: number) => void): () => void {
    this.sizeListeners.add(listener)
    return () => { this.sizeListeners.delete(listener) }
  }

  private matches (definition: TopicDefinition, filter: unknown, payload: unknown): boolean {
    if (definition.filter === undefined || definition.matches === undefined || filter === undefined) return true
    try {
      return definition.matches(filter, payload)
    } catch (err) {
      this.logger?.warn({ err, topic: definition.name }, 'subscription filter threw; event skipped')
      return false
    }
  }

  private emitSize (): void {
    for (const listener of this.sizeListeners) listener(this.byId.size)
  }
}
