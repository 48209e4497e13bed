import test from 'ava'
import { z } from 'zod'
import type { RpcRegistry } from '../../src/rpc/registry.ts'
import { HarmonyClient, RpcClientError, RpcTransportError } from '../../src/sdk/index.ts'
import { startFixture, testRegistry } from '../helpers/rpc-fixture.ts'

/** test registry plus a method that waits until its caller goes away, reporting that through `aborted`. */
function registryWithWait (): { registry: RpcRegistry, started: () => Promise<void>, aborted: () => Promise<void> } {
  const registry = testRegistry()
  let startedNow = Promise.withResolvers<void>()
  let abortedNow = Promise.withResolvers<void>()
  registry.register({
    name: 'test_wait',
    summary: 'Waits until the call is abandoned.',
    params: z.tuple([]),
    result: z.null(),
    handler: async (_params, ctx) => {
      const { resolve: onStart } = startedNow
      const { resolve: onAbort } = abortedNow
      onStart()
      await new Promise<void>((done) => { ctx.signal.addEventListener('abort', () => { done() }, { once: true }) })
      onAbort()
      startedNow = Promise.withResolvers<void>()
      abortedNow = Promise.withResolvers<void>()
      return null
    }
  })
  return { registry, started: async () => { await startedNow.promise }, aborted: async () => { await abortedNow.promise } }
}

test.serial('SDK over HTTP: typed results, node errors as RpcClientError with code and data', async (t) => {
  const { server, url } = await startFixture()
  t.teardown(async () => { await server.stop() })
  const client = new HarmonyClient({ url })
  t.teardown(async () => { await client.close() })

  t.is(await client.request<string>('test_echo', ['hi', 2]), 'hihi')
  t.is(await client.request<number>('test_add', { a: 20, b: 22 }), 42)
  t.deepEqual(await client.request<{ amount: string }>('test_balance'), { amount: (10n ** 30n).toString() })

  const invalid = await t.throwsAsync(client.request('test_add', { a: 1.5, b: 1 }), { instanceOf: RpcClientError })
  t.is(invalid?.code, -32602)
  t.is(invalid?.method, 'test_add')
  t.deepEqual((invalid?.data as Array<{ path: string[] }> | undefined)?.[0]?.path, ['a'])

  const missing = await t.throwsAsync(client.request('test_missing', ['0x1']), { instanceOf: RpcClientError })
  t.is(missing?.code, -32001)
  t.deepEqual(missing?.data, { id: '0x1' })

  const unknown = await t.throwsAsync(client.request('nope'), { instanceOf: RpcClientError })
  t.is(unknown?.code, -32601)
})

test.serial('SDK: a call times out with RPC_TIMEOUT and the server sees the call abandoned', async (t) => {
  const { registry, started, aborted } = registryWithWait()
  const { server, url } = await startFixture({}, registry)
  t.teardown(async () => { await server.stop() })
  const client = new HarmonyClient({ url, timeoutMs: 30_000 })
  t.teardown(async () => { await client.close() })

  // the timeout may fire before the request even reaches a loaded server, so only its code is asserted here
  const timedOut = await t.throwsAsync(client.request('test_wait', [], { timeoutMs: 50 }), { instanceOf: RpcTransportError })
  t.is(timedOut?.code, 'RPC_TIMEOUT')

  // a call the server is running, then abandoned by the caller: the handler's ctx.signal fires
  const controller = new AbortController()
  const running = started()
  const call = client.request('test_wait', [], { signal: controller.signal })
  await running
  const abandoned = aborted()
  controller.abort()
  const abortedCall = await t.throwsAsync(call, { instanceOf: RpcTransportError })
  t.is(abortedCall?.code, 'RPC_ABORTED')
  await abandoned
})

test.serial('SDK: an unreachable node is RPC_CONNECTION_FAILED', async (t) => {
  const { server, url } = await startFixture()
  await server.stop() // the port is now closed
  const client = new HarmonyClient({ url })
  const failed = await t.throwsAsync(client.request('test_echo', ['x']), { instanceOf: RpcTransportError })
  t.is(failed?.code, 'RPC_CONNECTION_FAILED')
  const wsClient = new HarmonyClient({ url: url.replace('http:', 'ws:') })
  const wsFailed = await t.throwsAsync(wsClient.request('test_echo', ['x']), { instanceOf: RpcTransportError })
  t.is(wsFailed?.code, 'RPC_CONNECTION_FAILED')
})

test.serial('SDK over WebSocket: calls, subscribe receives events, unsubscribe stops them', async (t) => {
  const { server, url } = await startFixture()
  t.teardown(async () => { await server.stop() })
  server.hub.registerTopic({
    name: 'test_blocks',
    summary: 'blocks',
    filter: z.object({ minHeight: z.number().int() }).optional(),
    matches: (filter, payload) => filter === undefined || (payload as { height: number }).height >= filter.minHeight
  })
  const client = new HarmonyClient({ url: url.replace('http:', 'ws:') })
  t.teardown(async () => { await client.close() })

  t.is(await client.request<string>('test_echo', ['ws']), 'ws')
  const invalid = await t.throwsAsync(client.request('test_add', [1, 'x']), { instanceOf: RpcClientError })
  t.is(invalid?.code, -32602)

  const events: Array<{ height: number }> = []
  const { promise: twoEvents, resolve } = Promise.withResolvers<void>()
  const unsubscribe = await client.subscribeTo<{ height: number }>('test_blocks', { minHeight: 10 }, (event) => {
    events.push(event)
    if (events.length === 2) resolve()
  })
  t.is(server.hub.publish('test_blocks', { height: 5 }), 0, 'the filter drops low blocks')
  t.is(server.hub.publish('test_blocks', { height: 10 }), 1)
  t.is(server.hub.publish('test_blocks', { height: 11 }), 1)
  await twoEvents
  t.deepEqual(events, [{ height: 10 }, { height: 11 }])

  await unsubscribe()
  t.is(server.hub.subscriberCount('test_blocks'), 0)
  t.is(server.hub.publish('test_blocks', { height: 12 }), 0)

  const refused = await t.throwsAsync(client.subscribeTo('test_blocks', { minHeight: 'x' }, () => {}), { instanceOf: RpcClientError })
  t.is(refused?.code, -32602)
})

test.serial('SDK over HTTP subscribes through a WebSocket; a closed server fails pending calls and reports the disconnect', async (t) => {
  const { registry } = registryWithWait()
  const { server, url } = await startFixture({}, registry)
  server.hub.registerTopic({ name: 'test_ticks', summary: 'ticks' })
  const { promise: disconnected, resolve: onDisconnect } = Promise.withResolvers<RpcTransportError>()
  const client = new HarmonyClient({ url, onDisconnect })
  t.teardown(async () => { await client.close() })

  const ticks: unknown[] = []
  const { promise: gotTick, resolve } = Promise.withResolvers<void>()
  await client.subscribeTo('test_ticks', undefined, (tick) => { ticks.push(tick); resolve() })
  t.is(server.hub.publish('test_ticks', { n: 1 }), 1)
  await gotTick
  t.deepEqual(ticks, [{ n: 1 }])

  // a WebSocket call in flight when the server stops fails with RPC_CONNECTION_CLOSED
  const wsClient = new HarmonyClient({ url: url.replace('http:', 'ws:') })
  t.teardown(async () => { await wsClient.close() })
  t.is(await wsClient.request('test_echo', ['up']), 'up')
  const waiting = wsClient.request('test_wait')
  await server.stop()
  const closed = await t.throwsAsync(waiting, { instanceOf: RpcTransportError })
  t.is(closed?.code, 'RPC_CONNECTION_CLOSED')
  t.is((await disconnected).code, 'RPC_CONNECTION_CLOSED')
})

test('SDK refuses URLs it cannot speak to', (t) => {
  t.throws(() => new HarmonyClient({ url: 'ftp://127.0.0.1:9545' }), { instanceOf: TypeError })
  t.throws(() => new HarmonyClient({ url: 'not a url' }), { instanceOf: TypeError })
})
