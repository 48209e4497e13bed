import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** Bounded outcome label of one JSON-RPC call. */
export type RpcOutcome =
  | 'ok'
  | 'error'
  | 'parse_error'
  | 'invalid_request'
  | 'method_not_found'
  | 'invalid_params'
  | 'internal_error'
  | 'limit_exceeded'
  | 'unauthorized'

/** The label used for any method name that is not registered, so the label set stays bounded. */
export const UNKNOWN_METHOD_LABEL = 'unknown'

export interface RpcMetrics {
  requests: Counter<'method' | 'outcome'>
  requestDuration: Histogram<'method'>
  wsConnections: Gauge
  subscriptions: Gauge
  wsSlowClientDisconnects: Counter
  httpRejected: Counter<'reason'>
  httpBufferedBytes: Gauge
}

/**
 * Creates the RPC metrics in `registry`, or returns the ones already there (two servers sharing one registry
 * would otherwise throw on the duplicate name).
 */
export function createRpcMetrics (registry: Registry): RpcMetrics {
  return {
    requests: reuse(registry, 'harmony_rpc_requests_total', () => new Counter({
      name: 'harmony_rpc_requests_total',
      help: 'JSON-RPC calls by method (unregistered names counted as "unknown") and outcome',
      labelNames: ['method', 'outcome'] as const,
      registers: [registry]
    })),
    requestDuration: reuse(registry, 'harmony_rpc_request_duration_seconds', () => new Histogram({
      name: 'harmony_rpc_request_duration_seconds',
      help: 'Time to handle one JSON-RPC call, by method',
      labelNames: ['method'] as const,
      // 0.5 ms .. 10 s: cheap reads sit at the bottom, task submission and chain calls near the top
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry]
    })),
    wsConnections: reuse(registry, 'harmony_rpc_ws_connections', () => new Gauge({
      name: 'harmony_rpc_ws_connections',
      help: 'Open JSON-RPC WebSocket connections',
      registers: [registry]
    })),
    subscriptions: reuse(registry, 'harmony_rpc_subscriptions', () => new Gauge({
      name: 'harmony_rpc_subscriptions',
      help: 'Active harmony_subscribe subscriptions over all connections',
      registers: [registry]
    })),
    wsSlowClientDisconnects: reuse(registry, 'harmony_rpc_ws_slow_client_disconnects_total', () => new Counter({
      name: 'harmony_rpc_ws_slow_client_disconnects_total',
      help: 'WebSocket clients disconnected because their send queue exceeded the limit',
      registers: [registry]
    })),
    httpRejected: reuse(registry, 'harmony_rpc_http_rejected_total', () => new Counter({
      name: 'harmony_rpc_http_rejected_total',
      help: 'HTTP requests and WebSocket upgrades refused before JSON-RPC handling, by reason',
      labelNames: ['reason'] as const,
      registers: [registry]
    })),
    httpBufferedBytes: reuse(registry, 'harmony_rpc_http_buffered_bytes', () => new Gauge({
      name: 'harmony_rpc_http_buffered_bytes',
      help: 'Bytes held for HTTP clients: request bodies being read and answers their clients have not taken yet',
      registers: [registry]
    }))
  }
}

function reuse<M> (registry: Registry, name: string, create: () => M): M {
  const existing = registry.getSingleMetric(name)
  if (existing !== undefined) return existing as unknown as M
  return create()
}
