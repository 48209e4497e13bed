import { z } from 'zod'
import type { OpenRpcDocument } from './openrpc.ts'
import { RpcErrorCode, RpcMethodError, RpcRegistry, type RpcContext } from './registry.ts'
import type { SubscriptionHub } from './subscriptions.ts'

/** Method name of the notifications that carry subscription events (as eth_subscribe's `eth_subscription`). */
export const SUBSCRIPTION_NOTIFICATION_METHOD = 'harmony_subscription'

export interface SubscriptionNotificationParams {
  subscription: string
  result: unknown
}

export interface BuiltinMethodsDeps {
  hub: SubscriptionHub
  /** @default 32 */
  maxSubscriptionsPerConnection?: number
  /** Builds the OpenRPC document served by rpc.discover. */
  discover: () => OpenRpcDocument
}

/**
 * The methods the RPC server itself provides: `rpc.discover`, `harmony_subscribe`, `harmony_unsubscribe`.
 * Subscriptions belong to a WebSocket connection: the server hands one RpcContext object to every call on a
 * connection, which is what keys the per-connection bookkeeping here.
 */
export function createBuiltinMethods (deps: BuiltinMethodsDeps): RpcRegistry {
  const maxPerConnection = deps.maxSubscriptionsPerConnection ?? 32
  const perConnection = new WeakMap<RpcContext, Set<string>>()
  const registry = new RpcRegistry()

  registry.register({
    name: 'rpc.discover',
    class: 'public',
    summary: 'Returns the OpenRPC 1.3 document describing every method of this node.',
    params: z.tuple([]),
    result: z.object({
      openrpc: z.string(),
      info: z.object({ title: z.string(), version: z.string() }),
      methods: z.array(z.object({ name: z.string() }).loose())
    }).loose(),
    handler: () => deps.discover()
  })

  registry.register({
    name: 'harmony_subscribe',
    class: 'public',
    summary: 'Subscribes this WebSocket connection to a topic; events arrive as harmony_subscription notifications ' +
      '{subscription, result}. Returns the subscription id.',
    params: z.tuple([
      z.string().min(1).max(64).meta({ title: 'topic', description: 'a topic name listed in rpc.discover' }),
      z.unknown().optional().meta({ title: 'filter', description: "the topic's filter, if it takes one" })
    ]),
    result: z.string().meta({ description: 'subscription id (0x-prefixed hex)' }),
    handler: ([topic, filter], ctx) => {
      const { notify, onClose } = ctx
      if (ctx.transport !== 'ws' || notify === undefined || onClose === undefined) {
        throw new RpcMethodError(RpcErrorCode.METHOD_NOT_SUPPORTED, 'subscriptions need a WebSocket connection (ws://host:port/)')
      }
      let ids = perConnection.get(ctx)
      if (ids === undefined) {
        const connectionIds = new Set<string>()
        ids = connectionIds
        perConnection.set(ctx, connectionIds)
        onClose(() => {
          for (const id of connectionIds) deps.hub.unsubscribe(id)
          connectionIds.clear()
        })
      }
      if (ids.size >= maxPerConnection) {
        throw new RpcMethodError(RpcErrorCode.LIMIT_EXCEEDED,
          `this connection has reached its limit of ${maxPerConnection} subscriptions; unsubscribe first`)
      }
      if (ctx.signal.aborted) throw new RpcMethodError(RpcErrorCode.RESOURCE_UNAVAILABLE, 'connection is closing')
      const id = deps.hub.subscribe(topic, filter, (payload) => {
        const params: SubscriptionNotificationParams = { subscription: id, result: payload }
        notify(SUBSCRIPTION_NOTIFICATION_METHOD, params)
      })
      ids.add(id)
      return id
    }
  })

  registry.register({
    name: 'harmony_unsubscribe',
    class: 'public',
    summary: 'Cancels a subscription of this connection. Returns false if the id is not one of its active subscriptions.',
    params: z.tuple([z.string().max(128).meta({ title: 'subscription', description: 'id returned by harmony_subscribe' })]),
    result: z.boolean(),
    handler: ([id], ctx) => {
      const ids = perConnection.get(ctx)
      if (ids === undefined || !ids.delete(id)) return false
      return deps.hub.unsubscribe(id)
    }
  })

  return registry
}
