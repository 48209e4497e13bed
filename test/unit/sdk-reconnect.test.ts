import test from 'ava'
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import { HarmonyClient, RpcTransportError } from '../../src/sdk/index.ts'
import { freePort } from '../helpers/harmonyd.ts'
import { startFixture } from '../helpers/rpc-fixture.ts'

const FAST_RECONNECT = { initialDelayMs: 10, maxDelayMs: 100 }

for (const transport of ['http', 'ws'] as const) {
  test.serial(`SDK (${transport}): a subscriber keeps receiving events after the server restarts; its handle still unsubscribes`, async (t) => {
    const { server, url } = await startFixture({ port: await freePort() })
    t.teardown(async () => { await server.stop() })
    server.hub.registerTopic({ name: 'test_ticks', summary: 'ticks' })
    const disconnects: RpcTransportError[] = []
    let reconnected = Promise.withResolvers<void>()
    const client = new HarmonyClient({
      url: transport === 'http' ? url : url.replace('http:', 'ws:'),
      reconnect: FAST_RECONNECT,
      onDisconnect: (err) => { disconnects.push(err) },
      onReconnect: () => { reconnected.resolve() }
    })
    t.teardown(async () => { await client.close() })

    const ticks: unknown[] = []
    let next = Promise.withResolvers<void>()
    const unsubscribe = await client.subscribeTo('test_ticks', undefined, (tick) => { ticks.push(tick); next.resolve() })
    t.is(server.hub.publish('test_ticks', { n: 1 }), 1)
    await next.promise

    for (let restart = 2; restart <= 3; restart++) {
      await server.stop()
      t.is(server.hub.subscriberCount('test_ticks'), 0, 'the node forgot the subscription with the connection')
      await server.start() // the same port
      await reconnected.promise
      reconnected = Promise.withResolvers<void>()
      next = Promise.withResolvers<void>()
      t.is(server.hub.publish('test_ticks', { n: restart }), 1, 'subscribed again on the new connection')
      await next.promise
    }
    t.deepEqual(ticks, [{ n: 1 }, { n: 2 }, { n: 3 }])
    t.is(disconnects.length, 2)
    t.is(disconnects[0].code, 'RPC_CONNECTION_CLOSED')

    // calls work on the new connection, and the old handle ends the resubscribed subscription
    t.is(await client.request('test_echo', ['again']), 'again')
    await unsubscribe()
    t.is(server.hub.subscriberCount('test_ticks'), 0)
  })
}

test.serial('SDK: a reconnect that never succeeds gives up after its attempts and ends the subscriptions', async (t) => {
  const { server, url } = await startFixture({ port: await freePort() })
  t.teardown(async () => { await server.stop() })
  server.hub.registerTopic({ name: 'test_ticks', summary: 'ticks' })
  const gaveUp = Promise.withResolvers<Error>()
  const client = new HarmonyClient({ url, reconnect: { ...FAST_RECONNECT, maxAttempts: 3 }, onReconnectFailed: (err) => { gaveUp.resolve(err) } })
  t.teardown(async () => { await client.close() })
  await client.subscribeTo('test_ticks', undefined, () => {})
  await server.stop()
  const err = await gaveUp.promise
  t.true(err instanceof RpcTransportError)
  t.is((err as RpcTransportError).code, 'RPC_CONNECTION_FAILED')
  await server.start()
  t.is(await client.request('test_echo', ['up']), 'up', 'the client still makes calls')
  t.is(server.hub.subscriberCount('test_ticks'), 0, 'nothing was resubscribed after giving up')
})

test.serial('SDK: without reconnect a dropped socket ends the subscriptions', async (t) => {
  const { server, url } = await startFixture({ port: await freePort() })
  t.teardown(async () => { await server.stop() })
  server.hub.registerTopic({ name: 'test_ticks', summary: 'ticks' })
  const disconnected = Promise.withResolvers<void>()
  const client = new HarmonyClient({ url, reconnect: false, onDisconnect: () => { disconnected.resolve() } })
  t.teardown(async () => { await client.close() })
  await client.subscribeTo('test_ticks', undefined, () => {})
  await server.stop()
  await disconnected.promise
  await server.start()
  t.is(await client.request('test_echo', ['up']), 'up')
  t.is(server.hub.subscriberCount('test_ticks'), 0)
})

test.serial('SDK sends the bearer token on HTTP calls and WebSocket upgrades; a token function runs for each', async (t) => {
  const seen: IncomingHttpHeaders[] = []
  const http = createServer((req, res) => {
    seen.push(req.headers)
    req.resume()
    req.on('end', () => {
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'content-type': 'text/plain' }).end('token required')
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":"ok"}')
    })
  })
  const wss = new WebSocketServer({ noServer: true })
  http.on('upgrade', (req, socket, head) => {
    seen.push(req.headers)
    if (req.headers.authorization === undefined) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data) => {
        const { id } = JSON.parse(data.toString()) as { id: number }
        ws.send(JSON.stringify({ jsonrpc: '2.0', id, result: 'ws-ok' }))
      })
    })
  })
  http.listen(0, '127.0.0.1')
  await once(http, 'listening')
  t.teardown(async () => {
    wss.close()
    http.closeAllConnections()
    await new Promise<void>((resolve) => { http.close(() => { resolve() }) })
  })
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`

  const fixed = new HarmonyClient({ url, token: 'key_abc' })
  t.is(await fixed.request('anything'), 'ok')
  t.is(seen.at(-1)?.authorization, 'Bearer key_abc')

  let minted = 0
  const fresh = new HarmonyClient({ url, token: async () => `jwt-${++minted}` })
  await fresh.request('a')
  await fresh.request('b')
  t.deepEqual(seen.slice(-2).map((h) => h.authorization), ['Bearer jwt-1', 'Bearer jwt-2'])

  const ws = new HarmonyClient({ url: url.replace('http:', 'ws:'), token: () => 'key_ws' })
  t.teardown(async () => { await ws.close() })
  t.is(await ws.request('x'), 'ws-ok')
  t.is(seen.at(-1)?.authorization, 'Bearer key_ws')

  const anonymous = new HarmonyClient({ url })
  const refused = await t.throwsAsync(anonymous.request('x'), { instanceOf: RpcTransportError })
  t.is(refused?.code, 'RPC_HTTP_STATUS')
  t.regex(refused?.message ?? '', /401.*token/)
  const anonymousWs = new HarmonyClient({ url: url.replace('http:', 'ws:') })
  const refusedWs = await t.throwsAsync(anonymousWs.request('x'), { instanceOf: RpcTransportError })
  t.is(refusedWs?.code, 'RPC_HTTP_STATUS')
  t.like(refusedWs?.meta, { status: 401 })
})
