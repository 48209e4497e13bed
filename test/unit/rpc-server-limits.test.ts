import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import test from 'ava'
import type { Registry } from 'prom-client'
import { z } from 'zod'
import type { RpcRegistry } from '../../src/rpc/registry.ts'
import { post, rpc, startFixture, testRegistry, WsPeer } from '../helpers/rpc-fixture.ts'

// A connection's bounds against what one client can make the node hold (docs/rpc.md, Access).

/** The first message the peer gets after sending `text`, or how its connection closed. */
async function replyOrClose (peer: WsPeer, text: string): Promise<{ message?: unknown, closeCode?: number }> {
  const { promise, resolve } = Promise.withResolvers<{ message?: unknown, closeCode?: number }>()
  const onMessage = (data: Buffer): void => { resolve({ message: JSON.parse(data.toString()) }) }
  const onClose = (code: number): void => { resolve({ closeCode: code }) }
  peer.socket.once('message', onMessage)
  peer.socket.once('close', onClose)
  peer.socket.send(text)
  try {
    return await promise
  } finally {
    peer.socket.off('message', onMessage)
    peer.socket.off('close', onClose)
  }
}

/** The test methods plus `test_big`, whose answer is a text of the asked size. */
function bigRegistry (): RpcRegistry {
  const registry = testRegistry()
  registry.register({
    name: 'test_big',
    summary: 'A text of `bytes` bytes.',
    class: 'public',
    params: z.tuple([z.number().int().min(0).max(64 << 20)]),
    result: z.string(),
    handler: ([bytes]) => 'x'.repeat(bytes)
  })
  return registry
}

async function bufferedBytes (metrics: Registry): Promise<number> {
  const gauge = metrics.getSingleMetric('harmony_rpc_http_buffered_bytes')
  if (gauge === undefined) throw new Error('the server exports no harmony_rpc_http_buffered_bytes')
  return (await gauge.get()).values[0]?.value ?? 0
}

/** Polls the gauge of bytes held for HTTP clients until `ok` holds. */
async function bufferedUntil (metrics: Registry, ok: (bytes: number) => boolean): Promise<void> {
  while (!ok(await bufferedBytes(metrics))) await new Promise((resolve) => setImmediate(resolve))
}

/**
 * A raw HTTP/1.1 client on `url`'s port that writes `head` and then whatever the test sends; from `localAddress`
 * (another loopback address is another client to the node).
 */
async function rawClient (url: string, head: string, localAddress = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ port: Number(new URL(url).port), host: '127.0.0.1', localAddress })
  socket.on('error', () => {})
  await once(socket, 'connect')
  socket.write(head)
  return socket
}

test.serial('WebSocket: an answer larger than the send queue is refused with -32005 per call, and the client stays connected', async (t) => {
  const { server, wsUrl } = await startFixture({ maxWsBufferedBytes: 64 * 1024 }, bigRegistry())
  t.teardown(async () => { await server.stop() })
  const peer = await WsPeer.open(wsUrl)
  t.teardown(async () => { await peer.close() })

  // a client that reads at once is not slow: the answer alone is too large
  const single = await replyOrClose(peer, JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'test_big', params: [100 * 1024] }))
  t.is(single.closeCode, undefined, 'not disconnected')
  const error = single.message as { id: unknown, error: { code: number, message: string } }
  t.is(error.id, 7, 'the refusal carries the call\'s id')
  t.is(error.error.code, -32005)
  t.regex(error.error.message, /ask for less/)

  // a batch whose answers add up past the queue: every call is refused under its own id; a notification gets none
  const batch = await replyOrClose(peer, JSON.stringify([
    { jsonrpc: '2.0', id: 1, method: 'test_big', params: [40 * 1024] },
    { jsonrpc: '2.0', method: 'test_big', params: [1] },
    { jsonrpc: '2.0', id: 'b', method: 'test_big', params: [40 * 1024] }
  ]))
  t.is(batch.closeCode, undefined, 'not disconnected')
  t.deepEqual((batch.message as Array<{ id: unknown, error: { code: number } }>).map((r) => [r.id, r.error.code]), [[1, -32005], ['b', -32005]])

  // answers within the queue still arrive whole on the same connection
  t.is((await peer.call('test_big', [1024])).result, 'x'.repeat(1024))
  t.is(peer.socket.readyState, peer.socket.OPEN)
  const closed = once(peer.socket, 'close')
  await peer.close()
  await closed
})

/** harmony_rpc_requests_total as `method/outcome` -> count, the zero counts left out. */
async function callCounts (metrics: Registry): Promise<Record<string, number>> {
  const counter = metrics.getSingleMetric('harmony_rpc_requests_total')
  if (counter === undefined) throw new Error('the server exports no harmony_rpc_requests_total')
  const out: Record<string, number> = {}
  for (const { labels, value } of (await counter.get()).values) if (value > 0) out[`${String(labels.method)}/${String(labels.outcome)}`] = value
  return out
}

test.serial('WebSocket: a call whose answer is refused as larger than the send queue is counted once, as limit_exceeded', async (t) => {
  const { server, wsUrl, metrics } = await startFixture({ maxWsBufferedBytes: 64 * 1024 }, bigRegistry())
  t.teardown(async () => { await server.stop() })
  const peer = await WsPeer.open(wsUrl)
  t.teardown(async () => { await peer.close() })

  t.is((await replyOrClose(peer, JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'test_big', params: [100 * 1024] }))).closeCode, undefined)
  t.deepEqual(await callCounts(metrics), { 'test_big/limit_exceeded': 1 })
  // a batch: each answered call once as limit_exceeded; the notification, which had no answer to refuse, as what it did
  await replyOrClose(peer, JSON.stringify([
    { jsonrpc: '2.0', id: 1, method: 'test_big', params: [40 * 1024] },
    { jsonrpc: '2.0', method: 'test_big', params: [1] },
    { jsonrpc: '2.0', id: 2, method: 'test_big', params: [40 * 1024] }
  ]))
  t.deepEqual(await callCounts(metrics), { 'test_big/limit_exceeded': 3, 'test_big/ok': 1 })
  // an answer that fits counts as ok
  await peer.call('test_big', [10])
  t.deepEqual(await callCounts(metrics), { 'test_big/limit_exceeded': 3, 'test_big/ok': 2 })
})

test.serial('HTTP: bodies being read are bounded over all clients; past the bound a request gets 503 and -32005', async (t) => {
  // one client may hold the whole budget here: this is the bound over all of them
  const { server, url, metrics } = await startFixture({ maxBodyBytes: 64 * 1024, maxHttpBufferedBytes: 96 * 1024, maxHttpBufferedBytesPerClient: 96 * 1024 })
  t.teardown(async () => { await server.stop() })

  // a client that sends most of a 60 KB body and then nothing more (slowloris)
  const slow = await rawClient(url, `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n${' '.repeat(50_000)}`)
  t.teardown(() => { slow.destroy() })
  await bufferedUntil(metrics, (bytes) => bytes >= 50_000)

  const padded = (size: number): string => {
    const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['ok'] })
    return call + ' '.repeat(size - call.length)
  }
  // each body is within the limit; together with the slow one they are not
  const refused = await post(url, padded(60_000))
  t.is(refused.status, 503)
  t.is((refused.json as { error: { code: number } }).error.code, -32005)
  t.is(refused.headers.get('retry-after'), '1')
  t.deepEqual((await rpc(url, 'test_echo', ['small'])).json, { jsonrpc: '2.0', id: 1, result: 'small' }, 'what still fits is answered')

  // the slow client gone, its bytes are free again
  slow.destroy()
  await bufferedUntil(metrics, (bytes) => bytes === 0)
  const answered = await post(url, padded(60_000))
  t.is(answered.status, 200)
  t.is((answered.json as { result: unknown }).result, 'ok')
})

/** A raw client that asks for a 32 MiB answer, reads its status line and then nothing more. */
async function stalledReader (url: string): Promise<Socket> {
  // 32 MiB: far more than the loopback socket buffers take, so the answer stays in the node until the client reads
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_big', params: [32 << 20] })
  const socket = await rawClient(url, `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
  const [first] = await once(socket, 'data') as [Buffer]
  socket.pause()
  if (!first.toString('latin1').startsWith('HTTP/1.1 200')) throw new Error(`unexpected answer ${first.toString('latin1', 0, 64)}`)
  return socket
}

const BIG_CALL = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_big', params: [32 << 20] })

test.serial('HTTP: answers their clients have not taken are bounded over all clients; past the bound a request gets 503 and -32005', async (t) => {
  const { server, url, metrics } = await startFixture({ maxHttpBufferedBytes: 48 << 20, maxHttpBufferedBytesPerClient: 48 << 20 }, bigRegistry())
  t.teardown(async () => { await server.stop() })

  const stalled = await stalledReader(url)
  t.teardown(() => { stalled.destroy() })
  const refused = await post(url, BIG_CALL)
  t.is(refused.status, 503, 'a second answer that large does not fit beside the one not taken')
  t.is((refused.json as { error: { code: number } }).error.code, -32005)
  t.deepEqual((await rpc(url, 'test_echo', ['small'])).json, { jsonrpc: '2.0', id: 1, result: 'small' }, 'what still fits is answered')

  stalled.destroy()
  await bufferedUntil(metrics, (bytes) => bytes === 0)
  const answered = await post(url, BIG_CALL)
  t.is(answered.status, 200)
  t.is((answered.json as { result: string }).result.length, 32 << 20)
})

test.serial('HTTP: a client that does not take its answer within the response timeout is disconnected and its answer freed', async (t) => {
  const { server, url, metrics } = await startFixture({ responseTimeoutMs: 100 }, bigRegistry())
  t.teardown(async () => { await server.stop() })

  const stalled = await stalledReader(url)
  t.teardown(() => { stalled.destroy() })
  const closed = once(stalled, 'close')
  // the node lets go of the answer while the client still reads nothing; reading again, the client sees the end
  await bufferedUntil(metrics, (bytes) => bytes === 0)
  let received = 0
  stalled.on('data', (chunk: Buffer) => { received += chunk.length })
  stalled.resume()
  await closed
  t.true(received < 32 << 20, 'the answer was cut short')
})

test.serial('HTTP: a compressed request body is refused with 415 and -32600, whatever it would inflate to; a plain one is answered', async (t) => {
  const { server, url, metrics } = await startFixture({ maxBodyBytes: 64 * 1024 })
  t.teardown(async () => { await server.stop() })
  const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['ok'] })
  // a zip bomb: a few KB of gzip that inflate to 64 times the body limit
  const bomb = gzipSync(Buffer.concat([Buffer.from(call), Buffer.alloc(64 * 64 * 1024, 0x20)]))
  t.true(bomb.length < 64 * 1024, 'the compressed body itself is within the limit')

  for (const [encoding, body] of [['gzip', gzipSync(call)], ['gzip', bomb], ['deflate', deflateSync(call)], ['br', brotliCompressSync(call)], ['x-unknown', Buffer.from(call)]] as const) {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': encoding }, body })
    const reply = await response.json() as { id: unknown, error?: { code: number, message: string } }
    t.is(response.status, 415, encoding)
    t.is(response.headers.get('accept-encoding'), 'identity', 'the refusal names the coding accepted (RFC 9110)')
    t.is(reply.error?.code, -32600)
    t.regex(reply.error?.message ?? '', /send the body uncompressed/)
  }
  const rejected = metrics.getSingleMetric('harmony_rpc_http_rejected_total')
  const counted = (await rejected?.get())?.values.find((v) => v.labels.reason === 'content_encoding')?.value
  t.is(counted, 5)

  const identity = await post(url, call, { 'content-encoding': 'identity' })
  t.deepEqual(identity.json, { jsonrpc: '2.0', id: 1, result: 'ok' }, 'identity is no coding')
  t.deepEqual((await post(url, call)).json, { jsonrpc: '2.0', id: 1, result: 'ok' })
})

/** Asks for a 32 MiB answer from `localAddress` and stops reading after its first bytes: the status, and the socket. */
async function askAndStall (url: string, localAddress: string): Promise<{ status: number, head: string, socket: Socket }> {
  const socket = await rawClient(url, `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${BIG_CALL.length}\r\n\r\n${BIG_CALL}`, localAddress)
  const [first] = await once(socket, 'data') as [Buffer]
  socket.pause()
  const head = first.toString('latin1', 0, 2048)
  return { status: Number(head.slice(9, 12)), head, socket }
}

test.serial('HTTP: one client holds at most its share of the byte budget; past it that client gets 503, the others are still served', async (t) => {
  const { server, url } = await startFixture({ maxHttpBufferedBytes: 100 << 20, maxHttpBufferedBytesPerClient: 48 << 20 }, bigRegistry())
  t.teardown(async () => { await server.stop() })

  // one client (127.0.0.2) asks for three 32 MiB answers and reads none: the first fits its share, the others not
  const greedy = [await askAndStall(url, '127.0.0.2'), await askAndStall(url, '127.0.0.2'), await askAndStall(url, '127.0.0.2')]
  t.teardown(() => { for (const { socket } of greedy) socket.destroy() })
  t.deepEqual(greedy.map((g) => g.status), [200, 503, 503])
  t.regex(greedy[1].head, /-32005/)
  t.regex(greedy[1].head, /this client's share of 50331648 bytes/)

  // another client (127.0.0.1) still gets an answer of the same size, beside the one held for the first
  const answered = await post(url, BIG_CALL)
  t.is(answered.status, 200)
  t.is((answered.json as { result: string }).result.length, 32 << 20)
})

test.serial('HTTP: an answer larger than a client\'s whole share gets -32005 under each call\'s id, saying to ask for less, not a 503 to retry', async (t) => {
  const { server, url, metrics } = await startFixture({ maxHttpBufferedBytes: 100 << 20, maxHttpBufferedBytesPerClient: 16 << 20 }, bigRegistry())
  t.teardown(async () => { await server.stop() })
  const answer = await post(url, JSON.stringify([{ jsonrpc: '2.0', id: 7, method: 'test_big', params: [10 << 20] }, { jsonrpc: '2.0', id: 8, method: 'test_big', params: [10 << 20] }]))
  t.is(answer.status, 200)
  t.is(answer.headers.get('retry-after'), null)
  const calls = answer.json as Array<{ id: number, error?: { code: number, message: string } }>
  t.deepEqual(calls.map((c) => [c.id, c.error?.code]), [[7, -32005], [8, -32005]])
  t.regex(calls[0].error?.message ?? '', /ask for less/)
  t.regex(await metrics.metrics(), /harmony_rpc_requests_total\{method="test_big",outcome="limit_exceeded"\} 2/)
  // one of the two fits: answered
  const one = await post(url, JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'test_big', params: [10 << 20] }))
  t.is((one.json as { result: string }).result.length, 10 << 20)
})

/**
 * A raw WebSocket client (handshake and one masked text frame by hand) that sends `call`, reads the first bytes of
 * the answer and then nothing more, so the answer stays queued in the node.
 */
async function stalledWsReader (wsUrl: string, call: string): Promise<Socket> {
  const socket = await rawClient(wsUrl, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${Buffer.alloc(16, 7).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
  const [head] = await once(socket, 'data') as [Buffer]
  if (!head.toString('latin1').startsWith('HTTP/1.1 101')) throw new Error(`unexpected answer ${head.toString('latin1', 0, 64)}`)
  const payload = Buffer.from(call)
  if (payload.length >= 126) throw new Error('the call must fit a frame with a 7-bit length')
  const mask = Buffer.from([1, 2, 3, 4])
  socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload.map((b, i) => b ^ mask[i % 4])]))
  await once(socket, 'data')
  socket.pause()
  return socket
}

async function gaugeValue (metrics: Registry, name: string): Promise<number> {
  const metric = metrics.getSingleMetric(name)
  if (metric === undefined) throw new Error(`the server exports no ${name}`)
  return (await metric.get()).values[0]?.value ?? 0
}

test.serial('WebSocket: the send queues are bounded over all clients; past the bound the slowest reader is disconnected as too slow, not the sender', async (t) => {
  // one client's queue may take a 32 MiB answer; two such answers do not fit the bound over all of them
  const { server, wsUrl, metrics } = await startFixture({ maxWsBufferedBytes: 40 << 20, maxWsBufferedBytesTotal: 40 << 20 }, bigRegistry())
  t.teardown(async () => { await server.stop() })

  // a client that asked for 32 MiB and reads none of it: its answer waits in the node (far more than the loopback
  // socket buffers take)
  const stalled = await stalledWsReader(wsUrl, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_big', params: [32 << 20] }))
  t.teardown(() => { stalled.destroy() })
  t.is(await gaugeValue(metrics, 'harmony_rpc_ws_slow_client_disconnects_total'), 0, 'alone, its queue is within both bounds')

  // a client that reads at once asks for as much: the stalled one is disconnected to make room, and this one is answered
  const reader = await WsPeer.open(wsUrl)
  t.teardown(async () => { await reader.close() })
  t.is(((await reader.call('test_big', [32 << 20])).result as string).length, 32 << 20)
  t.is(await gaugeValue(metrics, 'harmony_rpc_ws_slow_client_disconnects_total'), 1)
  t.is(reader.socket.readyState, reader.socket.OPEN, 'the client that reads stays connected')
  // the stalled one is destroyed after its grace: one connection left
  while (await gaugeValue(metrics, 'harmony_rpc_ws_connections') !== 1) await new Promise((resolve) => setTimeout(resolve, 50))
  t.deepEqual((await reader.call('test_echo', ['still here'])).result, 'still here')
})

test.serial('WebSocket: one client\'s queue bound is at most the bound over all clients: a larger answer is -32005, the client stays', async (t) => {
  const { server, wsUrl } = await startFixture({ maxWsBufferedBytesTotal: 64 * 1024 }, bigRegistry())
  t.teardown(async () => { await server.stop() })
  const peer = await WsPeer.open(wsUrl)
  t.teardown(async () => { await peer.close() })
  const refused = await replyOrClose(peer, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'test_big', params: [100 * 1024] }))
  t.is(refused.closeCode, undefined, 'not disconnected')
  t.like(refused.message, { id: 3, error: { code: -32005 } })
  t.is((await peer.call('test_big', [1024])).result, 'x'.repeat(1024))
})
