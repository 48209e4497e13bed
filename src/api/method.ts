import type { RpcContext, RpcRegistry } from '../rpc/registry.ts'
import type { SubscriptionHub } from '../rpc/subscriptions.ts'
import type { z } from 'zod'
import { RPC_METHODS, RPC_TOPICS, type RpcMethodName, type RpcParsedParamsOf, type RpcResultOf, type RpcTopicEventOf, type RpcTopicName, type RpcTopicParsedFilterOf } from './definitions.ts'

/** A handler of a defined method: params as their schema parsed them, the result as the definition says. */
export type ApiHandler<M extends RpcMethodName> = (params: RpcParsedParamsOf<M>, ctx: RpcContext) => Promise<RpcResultOf<M>> | RpcResultOf<M>

/** Registers `handler` for the method `name` of src/api/definitions.ts (summary and schemas come from there). */
export function registerMethod<M extends RpcMethodName> (registry: RpcRegistry, name: M, handler: ApiHandler<M>): void {
  const definition = RPC_METHODS[name]
  registry.register<z.ZodType, RpcResultOf<M>>({
    name,
    summary: definition.summary,
    class: definition.class,
    params: definition.params,
    result: definition.result,
    handler: handler as (params: unknown, ctx: RpcContext) => Promise<RpcResultOf<M>> | RpcResultOf<M>
  })
}

/** Publishes one event of a defined topic, typed by its payload schema. */
export type TopicPublisher<T extends RpcTopicName> = (event: RpcTopicEventOf<T>) => void

/**
 * Registers the topic `name` of src/api/definitions.ts and returns its publisher. `matches` decides whether an
 * event passes a subscriber's parsed filter (topics with a filter need one).
 */
export function registerTopic<T extends RpcTopicName> (registry: RpcRegistry, name: T,
  matches?: (filter: RpcTopicParsedFilterOf<T>, event: RpcTopicEventOf<T>) => boolean): TopicPublisher<T> {
  const definition = RPC_TOPICS[name]
  registry.registerTopic({
    name,
    summary: definition.summary,
    ...('filter' in definition ? { filter: definition.filter } : {}),
    ...(matches === undefined ? {} : { matches: (filter: unknown, payload: unknown) => matches(filter as RpcTopicParsedFilterOf<T>, payload as RpcTopicEventOf<T>) }),
    payload: definition.payload
  })
  const hub: SubscriptionHub = registry.hub
  return (event) => { hub.publish(name, event) }
}
