import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Registry } from 'prom-client'
import { serialize } from './dispatcher.ts'

/** Answers one HTTP request on a registered path (a probe, the metrics, a dashboard page...). */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

export interface HttpHandlerOptions {
  /** HTTP methods the handler answers; others get 405 with an `Allow` header. @default ['GET', 'HEAD'] */
  methods?: readonly string[]
  /** Also answer every path below `path` (`/dashboard/...`). @default false */
  prefix?: boolean
}

export interface HttpRoute {
  /** Bounded name for logs and metrics (`metrics`, `healthz`). */
  name: string
  path: string
  handler: HttpHandler
  methods: readonly string[]
  prefix: boolean
}

export interface HealthReport {
  ok: boolean
  [key: string]: unknown
}

export interface ReadinessReport {
  ok: boolean
  reason?: string
  [key: string]: unknown
}

// JSON-RPC itself lives at the root; a handler there would shadow it
const RESERVED_PATH = '/'

/**
 * HTTP handlers beside JSON-RPC on the RPC port, as geth's `node.RegisterHandler(name, path, handler)`: the
 * server serves whatever is registered here, so probes and a dashboard join without touching it.
 */
export class HttpHandlerRegistry {
  private readonly routes = new Map<string, HttpRoute>()

  register (name: string, path: string, handler: HttpHandler, options: HttpHandlerOptions = {}): void {
    if (!path.startsWith('/') || path === RESERVED_PATH) throw new Error(`HTTP handler ${name}: path ${path} must start with / and not be / (JSON-RPC)`)
    if (this.routes.has(path)) throw new Error(`HTTP handler ${name}: path ${path} is taken by ${this.routes.get(path)?.name ?? '?'}`)
    this.routes.set(path, { name, path, handler, methods: options.methods ?? ['GET', 'HEAD'], prefix: options.prefix ?? false })
  }

  /** The route for a request path: an exact match first, then the longest prefix route. */
  match (path: string): HttpRoute | undefined {
    const exact = this.routes.get(path)
    if (exact !== undefined) return exact
    let best: HttpRoute | undefined
    for (const route of this.routes.values()) {
      if (route.prefix && path.startsWith(`${route.path}/`) && (best === undefined || route.path.length > best.path.length)) best = route
    }
    return best
  }

  /** Registered paths, sorted (for the 404 message). */
  paths (): string[] {
    return [...this.routes.keys()].sort()
  }

  /**
   * Answers a request for `path` with its route's handler: 405 with `Allow` for a method it does not take, 503 when
   * it fails (`onError` gets why); false, after a 404, when no route matches.
   */
  serve (path: string, method: string, req: IncomingMessage, res: ServerResponse, onError: (err: unknown, handler: string) => void): boolean {
    const route = this.match(path)
    if (route === undefined) {
      sendJson(res, 404, { error: `not found: JSON-RPC is POST /, other paths are ${this.paths().join(' ')}` })
      return false
    }
    if (!route.methods.includes(method)) {
      res.setHeader('Allow', route.methods.join(', '))
      sendJson(res, 405, { error: `use ${route.methods.join(' or ')} for ${route.path}` })
      return true
    }
    Promise.resolve(route.handler(req, res)).catch((err: unknown) => {
      onError(err, route.name)
      if (!res.headersSent) sendJson(res, 503, { ok: false, error: `${route.name} failed` })
      else res.destroy()
    })
    return true
  }
}

/** Writes a JSON body that no cache keeps. */
export function sendJson (res: ServerResponse, status: number, value: unknown): void {
  const body = serialize(value)
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
  res.end(body)
}

/** `GET /metrics`: the Prometheus text of `registry`. */
export function metricsHandler (registry: Registry): HttpHandler {
  return async (_req, res) => {
    const text = await registry.metrics()
    res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(text) })
    res.end(text)
  }
}

/** `GET /healthz` or `/readyz`: 200 when the report is ok, 503 otherwise; the report is the JSON body. */
export function probeHandler (report: () => HealthReport | ReadinessReport | Promise<HealthReport | ReadinessReport>): HttpHandler {
  return async (_req, res) => {
    const value = await report()
    sendJson(res, value.ok ? 200 : 503, value)
  }
}
