import { once } from 'node:events'
import test from 'ava'
import { z } from 'zod'
import { startFixture, testRegistry, WsPeer } from '../helpers/rpc-fixture.ts'

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

test.serial('WebSocket: an answer larger than the send queue is refused with -32005 per call, and the client stays connected', async (t) => {
  const registry = testRegistry()
  registry.register({
    name: 'test_big',
    summary: 'A text of `bytes` bytes.',
    class: 'public',
    params: z.tuple([z.number().int().min(0).max(1 << 20)]),
    result: z.string(),
    handler: ([bytes]) => 'x'.repeat(bytes)
  })
  const { server, wsUrl } = await startFixture({ maxWsBufferedBytes: 64 * 1024 }, registry)
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
