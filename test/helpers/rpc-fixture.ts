import { once } from 'node:events'
import { Registry } from 'prom-client'
import { WebSocket } from 'ws'
import { z } from 'zod'
import { silentLogger } from '../../src/core/logger.ts'
import { RpcErrorCode, RpcMethodError, RpcRegistry } from '../../src/rpc/registry.ts'
import { RpcServer, type HealthReport, type ReadinessReport, type RpcServerInit } from '../../src/rpc/server.ts'

/** Methods with every shape the server must handle; shared by the RPC tests. */
export function testRegistry (): RpcRegistry {
  const registry = new RpcRegistry()
  registry.register({
    name: 'test_echo',
    summary: 'Repeats a text `times` times.',
    params: z.tuple([
      z.string().max(100).meta({ title: 'text', description: 'what to repeat' }),
      z.number().int().min(1).max(10).optional().meta({ title: 'times' })
    ]),
    result: z.string(),
    handler: ([text, times]) => text.repeat(times ?? 1)
  })
  registry.register({
    name: 'test_add',
    summary: 'Adds two integers.',
    params: z.object({ a: z.number().int(), b: z.number().int() }),
    result: z.number().int(),
    handler: ({ a, b }) => a + b
  })
  registry.register({
    name: 'test_crash',
    summary: 'Fails with an unexpected error.',
    params: z.tuple([]),
    result: z.null(),
    handler: () => { throw new Error('secret detail: /var/lib/harmony/keys/node.key is unreadable') }
  })
  registry.register({
    name: 'test_missing',
    summary: 'Fails with a typed RPC error.',
    params: z.tuple([z.string()]),
    result: z.null(),
    handler: ([id]) => { throw new RpcMethodError(RpcErrorCode.RESOURCE_NOT_FOUND, 'vertex not found', { id }) }
  })
  registry.register({
    name: 'test_balance',
    summary: 'Returns a bigint amount.',
    params: z.tuple([]),
    result: z.object({ amount: z.string() }),
    handler: () => ({ amount: 10n ** 30n })
  })
  return registry
}

const noParams = z.union([z.tuple([]), z.object({}).strict()]).optional()

/** Methods whose params schema is wrapped (optional, union), as real modules write them. */
export function wrappedRegistry (): RpcRegistry {
  const registry = new RpcRegistry()
  registry.register({ name: 'w_none', summary: 'no params', params: noParams, result: z.literal('none'), handler: () => 'none' as const })
  registry.register({
    name: 'w_text',
    summary: 'text by position or name',
    params: z.union([z.tuple([z.string()]), z.object({ text: z.string().describe('the text') }).strict()]),
    result: z.string(),
    handler: (params) => Array.isArray(params) ? params[0] : params.text
  })
  registry.register({
    name: 'w_opt',
    summary: 'optional tuple',
    params: z.tuple([z.number()]).optional(),
    result: z.number(),
    handler: (params) => params?.[0] ?? -1
  })
  return registry
}

export interface Fixture {
  server: RpcServer
  url: string
  wsUrl: string
  metrics: Registry
  state: { healthy: boolean, ready: boolean }
}

export async function startFixture (init: RpcServerInit = {}, registry: RpcRegistry = testRegistry()): Promise<Fixture> {
  const metrics = new Registry()
  const state = { healthy: true, ready: false }
  const server = new RpcServer({
    registry,
    logger: silentLogger(),
    metrics,
    health: (): HealthReport => ({ ok: state.healthy, uptimeSeconds: 1 }),
    ready: (): ReadinessReport => state.ready ? { ok: true } : { ok: false, reason: 'no peers yet' }
  }, { port: 0, ...init })
  await server.start()
  return { server, url: server.url, wsUrl: server.url.replace('http:', 'ws:'), metrics, state }
}

export interface RawResponse {
  status: number
  headers: Headers
  text: string
  json: unknown
}

export async function post (url: string, body: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
  const text = await response.text()
  let json: unknown
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: response.status, headers: response.headers, text, json }
}

export async function rpc (url: string, method: string, params?: unknown, id: number | string = 1): Promise<RawResponse> {
  return await post(url, JSON.stringify({ jsonrpc: '2.0', id, method, params }))
}

/** A raw WebSocket JSON-RPC peer: awaits replies by id, records notifications in order. */
export class WsPeer {
  readonly socket: WebSocket
  readonly notifications: Array<{ method: string, params: { subscription: string, result: unknown } }> = []
  private readonly waiters = new Map<number, (message: Record<string, unknown>) => void>()
  private notificationWaiters: Array<() => void> = []
  private nextId = 1

  private constructor (socket: WebSocket) {
    this.socket = socket
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>
      if (message.id === undefined) {
        this.notifications.push(message as unknown as WsPeer['notifications'][number])
        for (const wake of this.notificationWaiters.splice(0)) wake()
        return
      }
      this.waiters.get(message.id as number)?.(message)
    })
  }

  static async open (url: string, options: { origin?: string } = {}): Promise<WsPeer> {
    const socket = new WebSocket(url, options.origin === undefined ? {} : { origin: options.origin })
    await once(socket, 'open')
    return new WsPeer(socket)
  }

  async call (method: string, params?: unknown): Promise<Record<string, unknown>> {
    const id = this.nextId++
    const reply = new Promise<Record<string, unknown>>((resolve) => { this.waiters.set(id, resolve) })
    this.socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
    return await reply
  }

  /** Resolves once at least `count` notifications have arrived. */
  async notificationsReach (count: number): Promise<void> {
    while (this.notifications.length < count) {
      await new Promise<void>((resolve) => { this.notificationWaiters.push(resolve) })
    }
  }

  async close (): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return
    const closed = once(this.socket, 'close')
    this.socket.close()
    await closed
  }
}
