/**
 * The query channel's framing and request/response behaviour over libp2p's own stream implementation (an in-memory
 * stream pair from @libp2p/utils); the multi-node DAG tests run it over real sockets.
 */
import test from 'ava'
import { LengthPrefixedDecoder, lpStream, streamPair } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { encodeFrame, FrameDecoder, QueryChannelClient, serveQueryChannel } from '../../src/dag/net/query-channel.ts'

const HELLO = 7

function bytes (n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)
}

test('frames split at every byte boundary, or packed several to a chunk, decode to the same bodies', t => {
  const bodies = [bytes(0, 1), bytes(1, 2), bytes(127, 3), bytes(128, 4), bytes(300, 5), bytes(20_000, 6)]
  const wire = Buffer.concat(bodies.map(b => encodeFrame(undefined, b)))
  for (const step of [1, 2, 3, 7, 128, 129, 4096, wire.length]) {
    const d = new FrameDecoder(64 * 1024)
    const got: Uint8Array[] = []
    for (let o = 0; o < wire.length; o += step) d.push(wire.subarray(o, o + step), f => { got.push(Uint8Array.from(f)) })
    t.deepEqual(got, bodies, `chunks of ${step}`)
    t.is(d.buffered, 0)
  }
  // a list of chunks arrives as one event
  const d = new FrameDecoder(64 * 1024)
  const got: Uint8Array[] = []
  d.push(new Uint8ArrayList(wire.subarray(0, 5), wire.subarray(5)), f => { got.push(Uint8Array.from(f)) })
  t.deepEqual(got, bodies)
})

test('the wire format is lpStream\'s: each side decodes what the other encodes', t => {
  const body = bytes(1000, 9)
  // ours -> the library's decoder
  const lib = new LengthPrefixedDecoder()
  const fromOurs = [...lib.decode(encodeFrame(0x01020304, body))].map(f => f.subarray())
  t.deepEqual(fromOurs, [Uint8Array.from([1, 2, 3, 4, ...body])])
  // the library's encoder (what a peer on lpStream sends) -> ours
  const d = new FrameDecoder(64 * 1024)
  const got: Uint8Array[] = []
  const varint = [0xe8, 0x07] // 1000
  d.push(Uint8Array.from([...varint, ...body]), f => { got.push(f.slice()) })
  t.deepEqual(got, [body])
})

test('an oversize length or an overlong prefix is a protocol error, before the body arrives', t => {
  const d = new FrameDecoder(1000)
  t.throws(() => { d.push(Uint8Array.from([0xe9, 0x07]), () => {}) }, { message: /1001 bytes exceeds 1000/ })
  const e = new FrameDecoder(1 << 30)
  t.throws(() => { e.push(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80]), () => {}) }, { message: /prefix too long/ })
  // a prefix still incomplete is not an error
  const f = new FrameDecoder(1000)
  t.notThrows(() => { f.push(Uint8Array.from([0x80]), () => {}) })
})

async function channel (handler: (body: Uint8Array) => Promise<Uint8Array>, hello = HELLO): Promise<{ client: QueryChannelClient, served: Promise<void>, abort: AbortController }> {
  const [outbound, inbound] = await streamPair()
  const abort = new AbortController()
  const served = serveQueryChannel(inbound, { hello: HELLO, maxFrameBytes: 64 * 1024, helloTimeoutMs: 2000 }, handler, abort.signal)
  const client = new QueryChannelClient(outbound, Uint8Array.of(hello))
  return { client, served, abort }
}

test('requests are answered by id whatever order the answers come in', async t => {
  const { client, abort, served } = await channel(async body => {
    // the larger the request, the sooner its answer
    await new Promise(resolve => setTimeout(resolve, 50 - body.length))
    return Uint8Array.from([...body].reverse())
  })
  const reqs = Array.from({ length: 40 }, (_, i) => bytes(i + 1, i))
  const answers = await Promise.all(reqs.map(async r => await client.request(r, 5000)))
  t.deepEqual(answers, reqs.map(r => Uint8Array.from([...r].reverse())))
  abort.abort()
  await served
  // the server's reset reaches the client
  for (let i = 0; i < 200 && !client.closed; i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.true(client.closed)
  await t.throwsAsync(client.request(Uint8Array.of(1), 1000), { message: /closed/ })
})

test('more requests than the server handles at once wait for a slot and are all answered', async t => {
  let running = 0
  let most = 0
  const { client, abort, served } = await channel(async body => {
    running++
    most = Math.max(most, running)
    await new Promise(resolve => setTimeout(resolve, 5))
    running--
    return body
  })
  const reqs = Array.from({ length: 200 }, (_, i) => Uint8Array.of(i >> 8, i & 0xff))
  const answers = await Promise.all(reqs.map(async r => await client.request(r, 10_000)))
  t.deepEqual(answers, reqs)
  t.true(most <= 64, `at most 64 handlers at once (saw ${most})`)
  t.true(most > 1)
  abort.abort()
  await served
})

test('a channel opened with the wrong hello is closed, and its requests fail', async t => {
  let called = 0
  const { client, served } = await channel(async body => { called++; return body }, HELLO + 1)
  await t.throwsAsync(client.request(Uint8Array.of(1), 5000), { message: /closed|reset|abort/i })
  await served
  t.is(called, 0)
  t.true(client.closed)
})

test('a request without an answer times out; a handler that fails answers nothing; the channel still serves', async t => {
  const { client, abort, served } = await channel(async body => {
    if (body[0] === 1) await new Promise(resolve => setTimeout(resolve, 1000))
    if (body[0] === 2) throw new Error('handler failed')
    return body
  })
  await t.throwsAsync(client.request(Uint8Array.of(1), 100), { message: /timed out/ })
  await t.throwsAsync(client.request(Uint8Array.of(2), 100), { message: /timed out/ })
  t.deepEqual(await client.request(Uint8Array.of(3), 2000), Uint8Array.of(3))
  abort.abort()
  await served
})

test('closing the client rejects what is pending and ends the server', async t => {
  const { client, served } = await channel(async body => { await new Promise(resolve => setTimeout(resolve, 2000)); return body })
  const pending = client.request(Uint8Array.of(1), 5000)
  client.close()
  await t.throwsAsync(pending, { message: /closed/ })
  await served
  t.pass()
})

test('an lpStream peer (the library\'s framing) can use the channel', async t => {
  const [outbound, inbound] = await streamPair()
  const abort = new AbortController()
  const served = serveQueryChannel(inbound, { hello: HELLO, maxFrameBytes: 64 * 1024, helloTimeoutMs: 2000 }, async body => Uint8Array.from([body.length]), abort.signal)
  const lp = lpStream(outbound)
  await lp.write(Uint8Array.of(HELLO))
  await lp.write(Uint8Array.from([0, 0, 0, 9, ...bytes(200, 1)]))
  const answer = (await lp.read()).subarray()
  t.deepEqual(answer, Uint8Array.from([0, 0, 0, 9, 200]))
  abort.abort()
  await served
})

test('under write back-pressure (a slow stream) large answers still arrive whole and in their requests\' order of ids', async t => {
  // capacity: the pair applies back-pressure after this many messages per delay, so send() returns false and the
  // channel's sender waits for 'drain'
  const [outbound, inbound] = await streamPair({ capacity: 2, delay: 2 })
  const abort = new AbortController()
  const answer = (body: Uint8Array): Uint8Array => { const out = new Uint8Array(200_000); out.fill(body[0]); return out }
  const served = serveQueryChannel(inbound, { hello: HELLO, maxFrameBytes: 1024, helloTimeoutMs: 2000 }, async body => answer(body), abort.signal)
  const client = new QueryChannelClient(outbound, Uint8Array.of(HELLO), 300_000)
  const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) => await client.request(Uint8Array.of(i), 20_000)))
  answers.forEach((a, i) => { t.is(a.length, 200_000); t.true(a.every(x => x === i)) })
  abort.abort()
  await served
})

test('a resume that throws (the connection under a paused stream closed) ends the channel, and nothing escapes', async t => {
  const [outbound, inbound] = await streamPair()
  // what yamux does on a connection already closed: resume() sends a window update, and the send throws
  inbound.resume = () => { throw new Error('Cannot write to a stream that is closed') }
  const abort = new AbortController()
  let release = (): void => {}
  const held = new Promise<void>(resolve => { release = resolve })
  const served = serveQueryChannel(inbound, { hello: HELLO, maxFrameBytes: 1024, helloTimeoutMs: 2000 }, async body => { await held; return body }, abort.signal)
  const client = new QueryChannelClient(outbound, Uint8Array.of(HELLO))
  // more than the server takes at once: it pauses the stream, and resumes it as handlers finish
  const pending = Array.from({ length: 80 }, async (_, i) => await client.request(Uint8Array.of(i), 5000).then(() => 'answered', () => 'failed'))
  for (let i = 0; i < 200 && inbound.readStatus !== 'paused'; i++) await new Promise(resolve => setTimeout(resolve, 5))
  t.is(inbound.readStatus, 'paused')
  release()
  await served
  t.not(inbound.status, 'open')
  const outcomes = await Promise.all(pending)
  t.true(outcomes.includes('failed'), 'the requests behind the failed resume fail, rather than hang')
})
