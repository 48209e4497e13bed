import { once } from 'node:events'
import test from 'ava'
import type { Counter } from 'prom-client'
import { WebSocket } from 'ws'
import { z } from 'zod'
import packageJson from '../../package.json' with { type: 'json' }
import { StartupError } from '../../src/core/errors.ts'
import type { OpenRpcDocument } from '../../src/rpc/openrpc.ts'
import { post, rpc, startFixture, testRegistry, WsPeer } from '../helpers/rpc-fixture.ts'

interface ErrorBody { jsonrpc: string, id: unknown, error: { code: number, message: string, data?: unknown } }
interface ResultBody { jsonrpc: string, id: unknown, result: unknown }

test.serial('a method answers by position and by name', async (t) => {
  const { server, url } = await startFixture()
  t.teardown(async () => { await server.stop() })

  t.deepEqual((await rpc(url, 'test_echo', ['ab', 3])).json, { jsonrpc: '2.0', id: 1, result: 'ababab' })
  t.is(((await rpc(url, 'test_echo', ['x'])).json as ResultBody).result, 'x', 'an optional trailing param may be left out')
  t.is(((await rpc(url, 'test_add', { a: 2, b: 40 })).json as ResultBody).result, 42)
  t.is(((await rpc(url, 'test_add', [2, 40])).json as ResultBody).result, 42, 'positional params map onto the object keys')
  t.is(((await rpc(url, 'test_balance', [], 'abc')).json as ResultBody).id, 'abc')
  t.deepEqual(((await rpc(url, 'test_balance')).json as ResultBody).result, { amount: (10n ** 30n).toString() },
    'bigint travels as a decimal string')
})

test.serial('params that fail the schema give -32602 with the zod path and message', async (t) => {
  const { server, url } = await startFixture()
  t.teardown(async () => { await server.stop() })

  const wrongType = (await rpc(url, 'test_add', { a: 'two', b: 1 })).json as ErrorBody
  t.is(wrongType.error.code, -32602)
  t.regex(wrongType.error.message, /^invalid params: a: /)
  const issues = wrongType.error.data as Array<{ path: string[], message: string }>
  t.deepEqual(issues[0].path, ['a'])
  t.regex(issues[0].message, /number/)

  const outOfRange = (await rpc(url, 'test_echo', ['x', 99])).json as ErrorBody
  t.is(outOfRange.error.code, -32602)
  t.deepEqual((outOfRange.error.data as Array<{ path: string[] }>)[0].path, ['1'])

  const byNameToPositional = (await rpc(url, 'test_echo', { text: 'x' })).json as ErrorBody
  t.is(byNameToPositional.error.code, -32602)
  t.regex(byNameToPositional.error.message, /by position/)

  const tooMany = (await rpc(url, 'test_add', [1, 2, 3])).json as ErrorBody
  t.is(tooMany.error.code, -32602)
})

test.serial('unknown method, malformed JSON and invalid requests get their codes', async (t) => {
  const { server, url } = await startFixture()
  t.teardown(async () => { await server.stop() })

  const unknown = (await rpc(url, 'nope_nothing', [], 7)).json as ErrorBody
  t.is(unknown.error.code, -32601)
  t.is(unknown.id, 7)
  t.regex(unknown.error.message, /nope_nothing/)

  const malformed = await post(url, '{"jsonrpc":"2.0","id":1,"method":')
  t.is(malformed.status, 200)
  t.is((malformed.json as ErrorBody).error.code, -32700)
  t.is((malformed.json as ErrorBody).id, null)

  for (const bad of [
    { jsonrpc: '1.0', id: 3, method: 'test_echo' },
    { jsonrpc: '2.0', id: 3, method: 5 },
    { jsonrpc: '2.0', id: { x: 1 }, method: 'test_echo' },
    { jsonrpc: '2.0', id: 3, method: 'test_echo', params: 'text' }
  ]) {
    const reply = (await post(url, JSON.stringify(bad))).json as ErrorBody
    t.is(reply.error.code, -32600, JSON.stringify(bad))
  }
  const scalar = (await post(url, '42')).json as ErrorBody
  t.is(scalar.error.code, -32600)
})

test.serial('batches answer every call in an array; notifications get no answer', async (t) => {
  const { server, url } = await startFixture({ maxBatch: 4 })
  t.teardown(async () => { await server.stop() })

  const batch = await post(url, JSON.stringify([
    { jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['a'] },
    { jsonrpc: '2.0', method: 'test_echo', params: ['notification'] },
    { jsonrpc: '2.0', id: 2, method: 'test_add', params: { a: 1, b: 1 } },
    { jsonrpc: '2.0', id: 3, method: 'does_not_exist' }
  ]))
  const replies = batch.json as Array<ResultBody & Partial<ErrorBody>>
  t.true(Array.isArray(replies))
  t.is(replies.length, 3)
  const byId = new Map(replies.map((r) => [r.id, r]))
  t.is(byId.get(1)?.result, 'a')
  t.is(byId.get(2)?.result, 2)
  t.is(byId.get(3)?.error?.code, -32601)

  const single = (await post(url, JSON.stringify([{ jsonrpc: '2.0', id: 9, method: 'test_echo', params: ['z'] }]))).json
  t.deepEqual(single, [{ jsonrpc: '2.0', id: 9, result: 'z' }], 'a batch of one is still an array')

  const onlyNotifications = await post(url, JSON.stringify([{ jsonrpc: '2.0', method: 'test_echo', params: ['q'] }]))
  t.is(onlyNotifications.status, 204)
  t.is(onlyNotifications.text, '')

  const empty = (await post(url, '[]')).json as ErrorBody
  t.is(empty.error.code, -32600)

  const tooLarge = (await post(url, JSON.stringify(Array.from({ length: 5 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'test_echo', params: ['x'] }))))).json as ErrorBody
  t.is(tooLarge.error.code, -32005)
  t.regex(tooLarge.error.message, /limit of 4/)

  const mixed = (await post(url, JSON.stringify([1, { jsonrpc: '2.0', id: 5, method: 'test_echo', params: ['m'] }]))).json as Array<ResultBody & Partial<ErrorBody>>
  t.is(mixed.length, 2)
  t.is(mixed[0].error?.code, -32600)
  t.is(mixed[1].result, 'm')
})

test.serial('a body over the limit gets 413 and a JSON-RPC error', async (t) => {
  const { server, url } = await startFixture({ maxBodyBytes: 1024 })
  t.teardown(async () => { await server.stop() })

  const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['x'.repeat(2000)] })
  const reply = await post(url, big)
  t.is(reply.status, 413)
  t.is((reply.json as ErrorBody).error.code, -32005)
  t.regex((reply.json as ErrorBody).error.message, /1024 bytes/)

  const fits = await rpc(url, 'test_echo', ['y'])
  t.is((fits.json as ResultBody).result, 'y', 'the server still serves after refusing a body')
})

test.serial('an unexpected error is -32603 "internal error" and does not leak; typed errors keep their code', async (t) => {
  const { server, url } = await startFixture()
  t.teardown(async () => { await server.stop() })

  const crash = await rpc(url, 'test_crash', [])
  const body = crash.json as ErrorBody
  t.is(body.error.code, -32603)
  t.is(body.error.message, 'internal error')
  t.is(body.error.data, undefined)
  t.false(crash.text.includes('secret'))
  t.false(crash.text.includes('node.key'))
  t.false(crash.text.includes('at '), 'no stack trace')

  const missing = (await rpc(url, 'test_missing', ['0xabc'])).json as ErrorBody
  t.deepEqual(missing.error, { code: -32001, message: 'vertex not found', data: { id: '0xabc' } })
})

test.serial('HTTP: wrong content-type, wrong method, unknown path, CORS origins', async (t) => {
  const { server, url } = await startFixture({ corsOrigins: ['http://wallet.example'] })
  t.teardown(async () => { await server.stop() })

  const textPlain = await post(url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['x'] }), { 'content-type': 'text/plain' })
  t.is(textPlain.status, 415)
  t.regex((textPlain.json as ErrorBody).error.message, /application\/json/)

  const charset = await post(url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['x'] }), { 'content-type': 'application/json; charset=utf-8' })
  t.is(charset.status, 200)

  const get = await fetch(url)
  t.is(get.status, 405)
  t.is(get.headers.get('allow'), 'POST, OPTIONS')

  const missingPath = await fetch(`${url}/nothing-here`)
  t.is(missingPath.status, 404)

  const allowed = await post(url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['x'] }), { origin: 'http://wallet.example' })
  t.is(allowed.status, 200)
  t.is(allowed.headers.get('access-control-allow-origin'), 'http://wallet.example')

  const foreign = await post(url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['x'] }), { origin: 'http://evil.example' })
  t.is(foreign.status, 403)

  const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin: 'http://wallet.example', 'access-control-request-method': 'POST' } })
  t.is(preflight.status, 204)
  t.is(preflight.headers.get('access-control-allow-origin'), 'http://wallet.example')
  const foreignPreflight = await fetch(url, { method: 'OPTIONS', headers: { origin: 'http://evil.example' } })
  t.is(foreignPreflight.status, 403)
})

test.serial('/healthz and /readyz report 200 or 503 with JSON; /metrics counts calls with bounded labels', async (t) => {
  const { server, url, state } = await startFixture()
  t.teardown(async () => { await server.stop() })

  const healthy = await fetch(`${url}/healthz`)
  t.is(healthy.status, 200)
  t.deepEqual(await healthy.json(), { ok: true, uptimeSeconds: 1 })
  state.healthy = false
  t.is((await fetch(`${url}/healthz`)).status, 503)

  const notReady = await fetch(`${url}/readyz`)
  t.is(notReady.status, 503)
  t.deepEqual(await notReady.json(), { ok: false, reason: 'no peers yet' })
  state.ready = true
  t.is((await fetch(`${url}/readyz`)).status, 200)

  await rpc(url, 'test_echo', ['x'])
  await rpc(url, 'test_add', { a: 'bad' })
  await rpc(url, 'random_name_1', [])
  await rpc(url, 'random_name_2', [])
  const metrics = await fetch(`${url}/metrics`)
  t.is(metrics.status, 200)
  t.regex(metrics.headers.get('content-type') ?? '', /text\/plain/)
  const text = await metrics.text()
  t.regex(text, /harmony_rpc_requests_total\{method="test_echo",outcome="ok"\} 1/)
  t.regex(text, /harmony_rpc_requests_total\{method="test_add",outcome="invalid_params"\} 1/)
  t.regex(text, /harmony_rpc_requests_total\{method="unknown",outcome="method_not_found"\} 2/)
  t.false(text.includes('random_name'), 'unknown method names never become labels')
  t.regex(text, /harmony_rpc_request_duration_seconds_count\{method="test_echo"\} 1/)
  t.regex(text, /harmony_rpc_ws_connections 0/)
})

test.serial('rpc.discover returns an OpenRPC document of every method', async (t) => {
  const { server, url } = await startFixture()
  t.teardown(async () => { await server.stop() })
  server.hub.registerTopic({ name: 'test_ticks', summary: 'ticks', payload: z.object({ n: z.number() }) })

  const doc = ((await rpc(url, 'rpc.discover')).json as { result: OpenRpcDocument }).result
  t.is(doc.openrpc, '1.3.2')
  t.is(doc.info.version, packageJson.version)
  const names = doc.methods.map((m) => m.name)
  for (const name of ['test_echo', 'test_add', 'test_crash', 'rpc.discover', 'harmony_subscribe', 'harmony_unsubscribe']) {
    t.true(names.includes(name), name)
  }
  // the fields OpenRPC 1.3 requires: method name, params (content descriptors) and result, each with name and schema
  t.is(typeof doc.info.title, 'string')
  for (const method of doc.methods) {
    t.true(Array.isArray(method.params), method.name)
    for (const descriptor of [...method.params, method.result]) {
      t.is(typeof descriptor.name, 'string', method.name)
      t.is(typeof descriptor.schema, 'object', method.name)
      t.false('$schema' in descriptor.schema, 'no per-schema $schema inside the document')
    }
  }
  const echo = doc.methods.find((m) => m.name === 'test_echo')
  t.is(echo?.paramStructure, 'by-position')
  t.deepEqual(echo?.params.map((p) => [p.name, p.required]), [['text', true], ['times', false]])
  t.is(echo?.params[0].schema.type, 'string')
  const add = doc.methods.find((m) => m.name === 'test_add')
  t.deepEqual(add?.params.map((p) => p.name), ['a', 'b'])
  t.is(add?.result.schema.type, 'integer')
  t.deepEqual(doc['x-harmony-subscription-topics']?.map((topic) => topic.name), ['test_ticks'])
})

test.serial('a port in use gives a typed PORT_IN_USE error', async (t) => {
  const first = await startFixture()
  t.teardown(async () => { await first.server.stop() })
  const port = first.server.address?.port
  t.true(typeof port === 'number' && port > 0)

  const error = await t.throwsAsync(startFixture({ port }), { instanceOf: StartupError })
  t.is(error?.code, 'PORT_IN_USE')
  t.is(error?.message, `RPC port 127.0.0.1:${port} is already in use; stop the other process or pass --rpc-port`)
})

test.serial('WebSocket: calls, a subscription receives published events, unsubscribe stops them', async (t) => {
  const { server, wsUrl } = await startFixture()
  t.teardown(async () => { await server.stop() })
  server.hub.registerTopic({
    name: 'test_transfers',
    summary: 'transfers',
    filter: z.object({ to: z.string() }).optional(),
    matches: (filter, payload) => filter === undefined || (payload as { to: string }).to === filter.to
  })

  const peer = await WsPeer.open(wsUrl)
  t.teardown(async () => { await peer.close() })
  t.is((await peer.call('test_echo', ['w', 2])).result, 'ww')
  t.is(((await peer.call('test_add', { a: 'x', b: 1 })).error as { code: number }).code, -32602)

  const all = (await peer.call('harmony_subscribe', ['test_transfers'])).result as string
  const toBob = (await peer.call('harmony_subscribe', ['test_transfers', { to: 'bob' }])).result as string
  t.regex(all, /^0x[0-9a-f]{32}$/)
  const badFilter = (await peer.call('harmony_subscribe', ['test_transfers', { to: 5 }])).error as { code: number }
  t.is(badFilter.code, -32602)
  const badTopic = (await peer.call('harmony_subscribe', ['no_such_topic'])).error as { code: number, message: string }
  t.is(badTopic.code, -32602)
  t.regex(badTopic.message, /test_transfers/)

  t.is(server.hub.publish('test_transfers', { to: 'alice', amount: '5' }), 1)
  t.is(server.hub.publish('test_transfers', { to: 'bob', amount: '7' }), 2)
  await peer.notificationsReach(3)
  t.deepEqual(peer.notifications[0], { jsonrpc: '2.0', method: 'harmony_subscription', params: { subscription: all, result: { to: 'alice', amount: '5' } } } as unknown)
  t.deepEqual(peer.notifications.slice(1).map((n) => n.params.subscription).sort(), [all, toBob].sort())

  t.is((await peer.call('harmony_unsubscribe', [all])).result, true)
  t.is((await peer.call('harmony_unsubscribe', [all])).result, false, 'a second unsubscribe finds nothing')
  t.is(server.hub.publish('test_transfers', { to: 'alice', amount: '1' }), 0)
  t.is(server.hub.publish('test_transfers', { to: 'bob', amount: '2' }), 1)
  // replies are ordered after earlier notifications on the socket: after this round trip nothing else is in flight
  await peer.call('test_echo', ['sync'])
  t.is(peer.notifications.length, 4)
  t.deepEqual(peer.notifications[3].params, { subscription: toBob, result: { to: 'bob', amount: '2' } })

  // another connection cannot cancel this one's subscription
  const other = await WsPeer.open(wsUrl)
  t.teardown(async () => { await other.close() })
  t.is((await other.call('harmony_unsubscribe', [toBob])).result, false)
  t.is(server.hub.subscriberCount('test_transfers'), 1)
})

test.serial('subscriptions per connection are bounded and end with the connection; HTTP cannot subscribe', async (t) => {
  const { server, url, wsUrl } = await startFixture({ maxSubscriptionsPerConnection: 2 })
  t.teardown(async () => { await server.stop() })
  server.hub.registerTopic({ name: 'test_ticks', summary: 'ticks' })

  const peer = await WsPeer.open(wsUrl)
  t.truthy((await peer.call('harmony_subscribe', ['test_ticks'])).result)
  t.truthy((await peer.call('harmony_subscribe', ['test_ticks'])).result)
  const third = (await peer.call('harmony_subscribe', ['test_ticks'])).error as { code: number, message: string }
  t.is(third.code, -32005)
  t.regex(third.message, /limit of 2/)
  t.is(server.hub.size, 2)

  const emptied = new Promise<void>((resolve) => {
    const off = server.hub.onSizeChange((size) => { if (size === 0) { off(); resolve() } })
  })
  await peer.close()
  await emptied
  t.is(server.hub.size, 0)

  const overHttp = (await rpc(url, 'harmony_subscribe', ['test_ticks'])).json as ErrorBody
  t.is(overHttp.error.code, -32004)
})

test.serial('WebSocket connections are bounded; foreign origins are refused', async (t) => {
  const { server, wsUrl, url } = await startFixture({ maxWsConnections: 1 })
  t.teardown(async () => { await server.stop() })

  const first = await WsPeer.open(wsUrl)
  t.teardown(async () => { await first.close() })
  const second = new WebSocket(wsUrl)
  const [refusedBusy] = await once(second, 'error') as [Error]
  t.is(refusedBusy.message, 'Unexpected server response: 503')

  const metrics = await (await fetch(`${url}/metrics`)).text()
  t.regex(metrics, /harmony_rpc_ws_connections 1/)
  await first.close()

  const foreign = new WebSocket(wsUrl, { origin: 'http://evil.example' })
  const [refused] = await once(foreign, 'error') as [Error]
  t.is(refused.message, 'Unexpected server response: 403')
})

test.serial('a WebSocket client that does not read is disconnected once its send queue is over the limit', async (t) => {
  const { server, wsUrl, metrics } = await startFixture({ maxWsBufferedBytes: 256 * 1024 })
  t.teardown(async () => { await server.stop() })
  server.hub.registerTopic({ name: 'test_blobs', summary: 'large events' })

  const peer = await WsPeer.open(wsUrl)
  t.teardown(async () => { await peer.close() })
  t.truthy((await peer.call('harmony_subscribe', ['test_blobs'])).result)
  // stop reading: the kernel buffers fill, then the server's queue
  const rawSocket = (peer.socket as unknown as { _socket: { pause: () => void, resume: () => void } })._socket
  rawSocket.pause()

  const closed = once(peer.socket, 'close')
  const counter = metrics.getSingleMetric('harmony_rpc_ws_slow_client_disconnects_total') as Counter
  const disconnects = async (): Promise<number> => (await counter.get()).values[0]?.value ?? 0
  const payload = { blob: 'x'.repeat(64 * 1024) }
  let published = 0
  // 64 KiB per event: a few hundred overflow any loopback buffer; the cap only stops a broken server looping forever
  while (await disconnects() === 0 && published < 100_000) {
    for (let i = 0; i < 16; i++) server.hub.publish('test_blobs', payload)
    published += 16
  }
  t.is(await disconnects(), 1, 'the server gave up on the client')

  const emptied = new Promise<void>((resolve) => {
    if (server.hub.size === 0) { resolve(); return }
    const off = server.hub.onSizeChange((size) => { if (size === 0) { off(); resolve() } })
  })
  rawSocket.resume()
  const [code] = await closed as [number]
  t.true(code === 4008 || code === 1006, `closed with ${code}`)
  await emptied
  t.is(server.hub.subscriberCount('test_blobs'), 0, 'the slow client lost its subscription')
})

test.serial('WebSocket: calls in flight per connection are bounded; binary frames and oversize messages are refused', async (t) => {
  const registry = testRegistry()
  const { promise: released, resolve: release } = Promise.withResolvers<void>()
  registry.register({
    name: 'test_hold',
    summary: 'Answers once the test releases it.',
    params: z.tuple([]),
    result: z.literal('released'),
    handler: async () => { await released; return 'released' as const }
  })
  const { server, wsUrl } = await startFixture({ maxWsInFlight: 1, maxBodyBytes: 1024 }, registry)
  t.teardown(async () => { await server.stop() })

  const socket = new WebSocket(wsUrl)
  await once(socket, 'open')
  const inbox: Array<Record<string, unknown>> = []
  let wake: (() => void) | undefined
  socket.on('message', (data) => { inbox.push(JSON.parse(data.toString()) as Record<string, unknown>); wake?.() })
  const next = async (): Promise<Record<string, unknown>> => {
    while (inbox.length === 0) await new Promise<void>((resolve) => { wake = resolve })
    return inbox.shift()!
  }

  socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_hold' }))
  socket.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'test_echo', params: ['x'] }))
  const refused = await next()
  t.is((refused.error as { code: number }).code, -32005)
  release()
  t.deepEqual(await next(), { jsonrpc: '2.0', id: 1, result: 'released' })

  socket.send(Buffer.from('{"jsonrpc":"2.0","id":3,"method":"test_echo","params":["b"]}'), { binary: true })
  const binary = await next()
  t.is((binary.error as { code: number }).code, -32600)
  socket.send(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'test_echo', params: ['fine'] }))
  t.deepEqual(await next(), { jsonrpc: '2.0', id: 4, result: 'fine' })

  const closed = once(socket, 'close')
  socket.send(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'test_echo', params: ['x'.repeat(2000)] }))
  const [code] = await closed as [number]
  t.is(code, 1009, 'message too big')
})

test.serial('registered HTTP handlers are served beside JSON-RPC, with their methods and prefix; paths are not taken twice', async (t) => {
  const { server, url } = await startFixture()
  t.teardown(async () => { await server.stop() })
  server.registerHandler('dashboard', '/dashboard', (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' })
    res.end(`page ${req.url ?? ''}`)
  }, { prefix: true })
  server.registerHandler('hook', '/hook', async (_req, res) => { throw new Error(`failed before answering ${res.statusCode}`) }, { methods: ['POST'] })

  const page = await fetch(`${url}/dashboard/peers?x=1`)
  t.is(page.status, 200)
  t.is(await page.text(), 'page /dashboard/peers?x=1')
  t.is((await fetch(`${url}/dashboard`)).status, 200)
  t.is((await fetch(`${url}/dashboardx`)).status, 404, 'a prefix matches whole path segments only')

  const wrongMethod = await fetch(`${url}/dashboard`, { method: 'DELETE' })
  t.is(wrongMethod.status, 405)
  t.is(wrongMethod.headers.get('allow'), 'GET, HEAD')
  const failed = await fetch(`${url}/hook`, { method: 'POST' })
  t.is(failed.status, 503, 'a handler that throws before answering gives 503')

  const missing = await fetch(`${url}/nothing`)
  t.is(missing.status, 404)
  t.regex(((await missing.json()) as { error: string }).error, /\/dashboard .*\/healthz .*\/metrics .*\/readyz/)

  t.throws(() => { server.registerHandler('again', '/metrics', () => {}) }, { message: /taken by metrics/ })
  t.throws(() => { server.registerHandler('root', '/', () => {}) }, { message: /JSON-RPC/ })
  t.is(((await rpc(url, 'test_echo', ['still'])).json as ResultBody).result, 'still', 'JSON-RPC stays at /')
})
