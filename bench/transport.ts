// npm run bench:transport [-- --json] [--seconds 2] [--rounds 3] [--in-flight 4]
//
// What a request/response exchange costs on a libp2p connection (TCP on loopback, noise, yamux), both ends in this
// process, as CPU per exchange (process CPU, both ends) at --in-flight exchanges outstanding, for two shapes:
// an Avalanche poll (a 37-byte query, a 16-id answer) and a sync request (a 1 KiB request, a 60 KiB answer).
// Variants, alternating --rounds times, each for --seconds:
//   raw        the same frames over a plain TCP socket pair (the raw limit: no encryption, no multiplexing)
//   lpstream   @libp2p/utils' lpStream request/response with noise's default crypto (the simplest alternative)
//   channel    the node's query channel (src/dag/net/query-channel.ts) with the node's noise crypto
//              (src/network/noise-crypto.ts): what harmonyd runs
//   channel-default-crypto   the query channel with noise's default crypto
// The patches under patches/ (noise's frame decoder, yamux window updates) apply to every libp2p variant alike;
// their effect is measured against the code before them by bench:ledger and bench:market (docs/ledger-profile.md).
import { createServer, connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { parseArgs } from 'node:util'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { lpStream } from '@libp2p/utils'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { noiseCrypto } from '../src/network/noise-crypto.ts'
import { encodeFrame, FrameDecoder, QueryChannelClient, serveQueryChannel } from '../src/dag/net/query-channel.ts'
import { printResults, type BenchResult } from './report.ts'

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    'in-flight': { type: 'string', default: '4' }
  }
})
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const IN_FLIGHT = Number(values['in-flight'])
const PROTOCOL = '/harmony-bench/transport/1.0.0'
const HELLO = 3
const log = (msg: string): void => { process.stderr.write(`# ${msg}\n`) }

interface Shape { name: string, request: Uint8Array, answer: Uint8Array }
const SHAPES: Shape[] = [
  { name: 'poll', request: new Uint8Array(37).fill(1), answer: new Uint8Array(1 + 16 * 32).fill(2) },
  { name: 'sync', request: new Uint8Array(1024).fill(3), answer: new Uint8Array(60 * 1024).fill(4) }
]

/** One way of doing an exchange: `exchange` sends a request and resolves with the answer. */
interface Pair { exchange: (shape: Shape) => Promise<Uint8Array>, close: () => Promise<void> }

async function rawPair (): Promise<Pair> {
  const server = createServer(socket => {
    const d = new FrameDecoder(1 << 20)
    socket.on('data', (data: Buffer) => {
      d.push(data, frame => { socket.write(encodeFrame(undefined, frame[0] === 1 ? SHAPES[0].answer : SHAPES[1].answer)) })
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  const socket: Socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.setNoDelay(true)
  // answers come back in order on one socket
  const waiting: Array<(b: Uint8Array) => void> = []
  const d = new FrameDecoder(1 << 20)
  socket.on('data', (data: Buffer) => { d.push(data, frame => { waiting.shift()?.(frame) }) })
  return {
    exchange: async (shape) => await new Promise(resolve => { waiting.push(resolve); socket.write(encodeFrame(undefined, shape.request)) }),
    close: async () => { socket.destroy(); server.close() }
  }
}

async function libp2pNodes (crypto: ICryptoInterface): Promise<[Libp2p, Libp2p]> {
  const make = async (): Promise<Libp2p> => await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise({ crypto })],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 1000 }
  })
  return [await make(), await make()]
}

function answerFor (body: Uint8Array): Uint8Array { return body[0] === 1 ? SHAPES[0].answer : SHAPES[1].answer }

async function lpStreamPair (): Promise<Pair> {
  const [a, b] = await libp2pNodes(defaultCrypto)
  // one stream per exchange in flight, reused: request, answer, request, ...
  await b.handle(PROTOCOL, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 1 << 20 })
    try { for (;;) await lp.write(answerFor((await lp.read()).subarray())) } catch { stream.abort(new Error('done')) }
  })
  const streams = await Promise.all(Array.from({ length: IN_FLIGHT }, async () => lpStream(await a.dialProtocol(b.getMultiaddrs()[0], PROTOCOL), { maxDataLength: 1 << 20 })))
  const idle = [...streams]
  const waiters: Array<() => void> = []
  return {
    exchange: async (shape) => {
      while (idle.length === 0) await new Promise<void>(resolve => { waiters.push(resolve) })
      const lp = idle.pop() as typeof streams[number]
      await lp.write(shape.request)
      const answer = (await lp.read()).subarray()
      idle.push(lp)
      waiters.shift()?.()
      return answer
    },
    close: async () => { await a.stop(); await b.stop() }
  }
}

async function channelPair (crypto: ICryptoInterface): Promise<Pair> {
  const [a, b] = await libp2pNodes(crypto)
  const abort = new AbortController()
  await b.handle(PROTOCOL, (stream) => {
    void serveQueryChannel(stream, { hello: HELLO, maxFrameBytes: 1 << 20, helloTimeoutMs: 5000 }, async body => answerFor(body), abort.signal)
  })
  const ch = new QueryChannelClient(await a.dialProtocol(b.getMultiaddrs()[0], PROTOCOL), Uint8Array.of(HELLO), 1 << 20)
  return {
    exchange: async (shape) => await ch.request(shape.request, 10_000),
    close: async () => { abort.abort(); ch.close(); await a.stop(); await b.stop() }
  }
}

/** CPU µs per exchange and exchanges/s, IN_FLIGHT outstanding, for SECONDS. */
async function measure (pair: Pair, shape: Shape): Promise<{ cpuUs: number, rate: number }> {
  // warm-up: the JIT, and yamux's window growth
  const until = (ms: number): number => performance.now() + ms
  const loop = async (end: number, count: { n: number }): Promise<void> => {
    while (performance.now() < end) {
      const answer = await pair.exchange(shape)
      if (answer.length !== shape.answer.length) throw new Error('wrong answer')
      count.n++
    }
  }
  const warm = until(500)
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => { await loop(warm, { n: 0 }) }))
  const count = { n: 0 }
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const end = until(SECONDS * 1000)
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => { await loop(end, count) }))
  const cpu = process.cpuUsage(cpu0)
  return { cpuUs: (cpu.user + cpu.system) / count.n, rate: count.n / ((performance.now() - t0) / 1000) }
}

const VARIANTS: Array<{ name: string, make: () => Promise<Pair> }> = [
  { name: 'raw', make: rawPair },
  { name: 'lpstream', make: lpStreamPair },
  { name: 'channel', make: async () => await channelPair(noiseCrypto) },
  { name: 'channel-default-crypto', make: async () => await channelPair(defaultCrypto) }
]

// per shape and variant: CPU per exchange of each round
const cpu = new Map<string, number[]>()
const rate = new Map<string, number[]>()
for (let round = 0; round < ROUNDS; round++) {
  for (const v of VARIANTS) {
    const pair = await v.make()
    for (const shape of SHAPES) {
      const m = await measure(pair, shape)
      const key = `${shape.name}/${v.name}`
      cpu.set(key, [...(cpu.get(key) ?? []), m.cpuUs])
      rate.set(key, [...(rate.get(key) ?? []), m.rate])
      log(`round ${round + 1} ${key}: ${m.cpuUs.toFixed(1)} µs CPU per exchange, ${Math.round(m.rate)}/s`)
    }
    await pair.close()
  }
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]
const results: BenchResult[] = []
for (const shape of SHAPES) {
  const raw = median(cpu.get(`${shape.name}/raw`) ?? [])
  const lp = median(cpu.get(`${shape.name}/lpstream`) ?? [])
  const ours = median(cpu.get(`${shape.name}/channel`) ?? [])
  const defaultCryptoUs = median(cpu.get(`${shape.name}/channel-default-crypto`) ?? [])
  results.push({ bench: 'transport', metric: `${shape.name}_cpu_per_exchange`, value: ours, unit: 'us', baseline: 'raw TCP, same frames (limit)', baseline_value: raw })
  results.push({ bench: 'transport', metric: `${shape.name}_cpu_per_exchange`, value: ours, unit: 'us', baseline: 'lpStream request/response', baseline_value: lp })
  results.push({ bench: 'transport', metric: `${shape.name}_cpu_per_exchange`, value: ours, unit: 'us', baseline: 'query channel, noise default crypto', baseline_value: defaultCryptoUs })
  results.push({ bench: 'transport', metric: `${shape.name}_exchanges_per_s`, value: median(rate.get(`${shape.name}/channel`) ?? []), unit: '1/s', baseline: 'raw TCP, same frames (limit)', baseline_value: median(rate.get(`${shape.name}/raw`) ?? []) })
}
printResults(results, values.json)
