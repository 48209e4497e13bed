import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import test from 'ava'
import fc from 'fast-check'
import { Registry } from 'prom-client'
import { WebSocket } from 'ws'
import { RPC_METHODS, type RpcMethodName } from '../../src/api/definitions.ts'
import { registerMethod } from '../../src/api/method.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { ApiKeyStore } from '../../src/rpc/api-keys.ts'
import { RpcAuth } from '../../src/rpc/auth.ts'
import { mintJwt } from '../../src/rpc/jwt.ts'
import { RpcErrorCode, RpcRegistry } from '../../src/rpc/registry.ts'
import { RpcServer } from '../../src/rpc/server.ts'
import { tempDir } from '../helpers/harmonyd.ts'

// a fuzzed call gets a JSON-RPC reply with one of these codes, or a result: never a hang, a crash or a leak
const KNOWN_CODES = new Set<number>(Object.values(RpcErrorCode))
const METHOD_NAMES = Object.keys(RPC_METHODS) as RpcMethodName[]

interface Reply { jsonrpc?: unknown, id?: unknown, result?: unknown, error?: { code?: unknown, message?: unknown } }

/** Every defined method (the node's real schemas and classes), with a handler that answers null. */
function definedRegistry (): RpcRegistry {
  const registry = new RpcRegistry()
  for (const name of METHOD_NAMES) registerMethod(registry, name, () => null as never)
  return registry
}

async function startServer (t: { teardown: (fn: () => Promise<void>) => void }): Promise<{ url: string, secret: Uint8Array, apiKey: string }> {
  const dir = await tempDir()
  const secret = new Uint8Array(randomBytes(32))
  const keys = new ApiKeyStore(`${dir.path}/api-keys.json`)
  const { key } = await keys.add('fuzz', ['spending'])
  const server = new RpcServer({
    registry: definedRegistry(),
    logger: silentLogger(),
    metrics: new Registry(),
    health: () => ({ ok: true }),
    ready: () => ({ ok: true }),
    auth: new RpcAuth({ jwtSecret: secret, apiKeys: keys })
  }, { port: 0, access: { rateLimit: false } })
  await server.start()
  t.teardown(async () => { await server.stop(); await dir[Symbol.asyncDispose]() })
  return { url: server.url, secret, apiKey: key }
}

function checkReply (reply: unknown): string | undefined {
  const one = (r: Reply): string | undefined => {
    if (r === null || typeof r !== 'object' || r.jsonrpc !== '2.0') return `not a JSON-RPC response: ${JSON.stringify(r)}`
    if (r.error === undefined) return 'result' in r ? undefined : 'neither result nor error'
    if (typeof r.error.code !== 'number' || !KNOWN_CODES.has(r.error.code)) return `unknown error code ${String(r.error.code)}`
    if (typeof r.error.message !== 'string') return 'error without a message'
    if (r.error.message.includes('internal error') && r.error.code !== RpcErrorCode.INTERNAL_ERROR) return 'mismatched internal error'
    return undefined
  }
  if (Array.isArray(reply)) return reply.map((r) => one(r as Reply)).find((p) => p !== undefined)
  return one(reply as Reply)
}

async function postRaw (url: string, body: Uint8Array | string, headers: Record<string, string>): Promise<{ status: number, text: string }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
  return { status: response.status, text: await response.text() }
}

test('fuzzed params of every defined method, under any credentials, get a typed JSON-RPC answer', async (t) => {
  const { url, secret, apiKey } = await startServer(t)
  const credentials = fc.oneof(
    fc.constant({}),
    fc.constant(null).map(() => ({ authorization: `Bearer ${mintJwt(secret)}` })),
    fc.constant({ 'x-api-key': apiKey }),
    fc.string({ maxLength: 80 }).map((s) => ({ authorization: `Bearer ${s.replace(/[^\x21-\x7e]/g, '')}x` })),
    fc.string({ maxLength: 80 }).map((s) => ({ 'x-api-key': `hk_${s.replace(/[^\x21-\x7e]/g, '')}` }))
  )
  const hexish = fc.uint8Array({ maxLength: 48 }).map((b) => `0x${Buffer.from(b).toString('hex')}`)
  const param = fc.oneof(fc.jsonValue(), hexish, fc.string(), fc.bigInt().map(String), fc.constant('hmy1'))
  const params = fc.oneof(fc.array(param, { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 12 }), param, { maxKeys: 4 }), fc.jsonValue())
  await fc.assert(fc.asyncProperty(fc.constantFrom(...METHOD_NAMES), params, credentials, fc.oneof(fc.integer(), fc.string({ maxLength: 8 })),
    async (method, p, headers, id) => {
      const { status, text } = await postRaw(url, JSON.stringify({ jsonrpc: '2.0', id, method, params: p }), headers)
      if (status !== 200) return false
      const reply = JSON.parse(text) as Reply
      return checkReply(reply) === undefined && reply.id === id
    }), { numRuns: 300 })
  t.pass()
})

test('fuzzed raw bodies get a typed error or answer (never a crash), and the server keeps answering', async (t) => {
  const { url, secret } = await startServer(t)
  const envelope = fc.record({
    jsonrpc: fc.constantFrom('2.0', '1.0', 2, null),
    id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.object()),
    method: fc.oneof(fc.constantFrom(...METHOD_NAMES, 'rpc.discover', 'harmony_subscribe', '__proto__'), fc.string()),
    params: fc.jsonValue()
  }, { requiredKeys: [] })
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 512 }),
    fc.string({ maxLength: 512 }),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    envelope.map((v) => JSON.stringify(v)),
    fc.array(envelope, { maxLength: 8 }).map((v) => JSON.stringify(v)),
    envelope.map((v) => JSON.stringify(v)).chain((s) => fc.nat(s.length).map((n) => s.slice(0, n)))
  )
  await fc.assert(fc.asyncProperty(body, fc.boolean(), async (raw, signed) => {
    const { status, text } = await postRaw(url, raw, signed ? { authorization: `Bearer ${mintJwt(secret)}` } : {})
    if (status === 204) return text === ''
    if (status !== 200 && status !== 400) return false
    return checkReply(JSON.parse(text)) === undefined
  }), { numRuns: 400 })

  const alive = JSON.parse((await postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'node_info' }), {})).text) as Reply
  t.is(alive.result, null, 'the server still answers after the fuzz')
})

test('fuzzed WebSocket frames get typed answers on one connection, which stays open', async (t) => {
  const { url } = await startServer(t)
  const ws = new WebSocket(url.replace('http:', 'ws:'))
  t.teardown(() => { ws.terminate() })
  await once(ws, 'open')
  const replies: unknown[] = []
  let wake: (() => void) | undefined
  ws.on('message', (data) => { replies.push(JSON.parse(data.toString())); wake?.() })
  const frame = fc.oneof(
    fc.string({ maxLength: 256 }),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.record({ jsonrpc: fc.constant('2.0'), id: fc.integer(), method: fc.constantFrom(...METHOD_NAMES, 'harmony_subscribe', 'harmony_unsubscribe'), params: fc.jsonValue() }).map((v) => JSON.stringify(v))
  )
  await fc.assert(fc.asyncProperty(frame, async (text) => {
    // every frame is followed by a marker call; its reply means the frame before it was handled
    const before = replies.length
    ws.send(text)
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 'marker', method: 'node_info' }))
    while (!replies.slice(before).some((r) => (r as Reply).id === 'marker')) {
      await new Promise<void>((resolve) => { wake = resolve })
    }
    return replies.slice(before).every((r) => checkReply(r) === undefined)
  }), { numRuns: 200 })
  t.is(ws.readyState, WebSocket.OPEN)
})
