// npm run bench:gossip [-- --json] [--sizes 4,16] [--messages 50] [--burst 150]
//
// Gossip delivery latency (p50/p95) and deliveries per second across a harmonyd devnet (separate processes,
// messages published through the RPC and carried on harmony/1/announce), next to raw js-libp2p gossipsub nodes
// (separate processes, library defaults, no Harmony code) in the same run.
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Devnet } from '../src/node/devnet.ts'
import { silentLogger } from '../src/core/logger.ts'
import { HarmonyClient } from '../src/sdk/client.ts'
import { JWT_SECRET_FILE, loadOrCreateJwtSecret } from '../src/core/keys/jwt-secret.ts'
import { percentile, printResults, type BenchResult } from './report.ts'

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    sizes: { type: 'string', default: '4,16' },
    messages: { type: 'string', default: '50' },
    burst: { type: 'string', default: '150' }
  }
})
const SIZES = values.sizes.split(',').map(Number)
const LATENCY_MESSAGES = Number(values.messages)
const BURST_MESSAGES = Math.min(Number(values.burst), 200) // harmonyd keeps its last 256 announcements
const DELIVERY_TIMEOUT_MS = 30_000

/** One delivery: message id, publisher's send time, receiver's arrival time (same machine clock). */
type Delivery = [id: string, sentAtMs: number, receivedAtMs: number]

interface GossipNetwork {
  size: number
  publish: (from: number, id: string) => Promise<void>
  /** Deliveries seen by each node other than the publisher since the last call. */
  collect: () => Promise<Delivery[][]>
  stop: () => Promise<void>
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

async function harmonyNetwork (size: number): Promise<GossipNetwork> {
  const datadir = await mkdtemp(join(tmpdir(), 'harmony-bench-gossip-'))
  // gossip only: no chain, and the CPU executor so 16 nodes do not start 16 software GPUs
  const devnet = new Devnet({ nodes: size, basePort: 0, datadir, logLevel: 'warn', logger: silentLogger(), chain: false, nodeArgs: ['--executor', 'cpu'] })
  const nodes = await devnet.start()
  // net_announce is an admin method: each client signs with its node's JWT secret
  const clients = await Promise.all(nodes.map(async n => new HarmonyClient({ url: n.rpc, auth: { jwtSecret: await loadOrCreateJwtSecret(join(n.datadir, JWT_SECRET_FILE)) } })))
  const want = Math.min(size - 1, 16)
  for (let tries = 0; tries < 240; tries++) {
    const peers = await Promise.all(clients.map(c => c.call('node_health', []).then(h => h.peers)))
    if (peers.every(p => p >= want)) break
    await sleep(250)
  }
  const seen = nodes.map(() => new Set<string>())
  return {
    size,
    publish: async (from, id) => { await clients[from].call('net_announce', [`bench:${id}`]) },
    collect: async () => Promise.all(clients.map(async (c, i) => {
      const list = await c.call('net_announcements', [256])
      const out: Delivery[] = []
      for (const a of list) {
        if (!a.text.startsWith('bench:') || seen[i].has(a.text)) continue
        seen[i].add(a.text)
        out.push([a.text.slice(6).split('/')[0], a.sentAtMs, a.receivedAtMs])
      }
      return out
    })),
    stop: async () => {
      await devnet.stop()
      await rm(datadir, { recursive: true, force: true })
    }
  }
}

async function rawNetwork (size: number): Promise<GossipNetwork> {
  const script = fileURLToPath(new URL('./raw-gossip-node.ts', import.meta.url))
  const children: ChildProcess[] = []
  const addrs: string[][] = []
  const request = async <T>(child: ChildProcess, msg: { cmd: string, id?: string, addrs?: string[] }, type: string): Promise<T> => {
    const reply = new Promise<T>((resolve) => {
      const onMessage = (m: { type: string, id?: string }): void => {
        if (m.type === type && m.id === msg.id) { child.off('message', onMessage); resolve(m as T) }
      }
      child.on('message', onMessage)
    })
    child.send(msg)
    return reply
  }
  for (let i = 0; i < size; i++) {
    const child = fork(script, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    child.setMaxListeners(BURST_MESSAGES + 16)
    const [ready] = await once(child, 'message') as [{ addrs: string[] }]
    children.push(child)
    addrs.push(ready.addrs)
  }
  // a full mesh of connections, as the harmonyd devnet reaches through the DHT
  for (let i = 1; i < size; i++) await request(children[i], { cmd: 'dial', addrs: addrs.slice(0, i).map(a => a[0]) }, 'dialed')
  await sleep(2000) // let gossipsub's heartbeat graft the mesh, as the harmonyd warm-up below also does
  return {
    size,
    publish: async (from, id) => { await request(children[from], { cmd: 'publish', id }, 'published') },
    collect: async () => Promise.all(children.map(async (c) => {
      const { received } = await request<{ received: Array<[string, number]> }>(c, { cmd: 'report' }, 'report')
      return received.map(([payload, at]): Delivery => {
        const [id, sent] = payload.split('/')
        return [id, Number(sent), at]
      })
    })),
    stop: async () => {
      await Promise.all(children.map(async (c) => {
        const exited = once(c, 'exit')
        c.send({ cmd: 'stop' })
        await exited
      }))
    }
  }
}

/** Publishes until one message reaches every other node within 5 s (the mesh is formed). */
async function warmUp (net: GossipNetwork, run: string): Promise<void> {
  for (let attempt = 0; attempt < 30; attempt++) {
    const id = `${run}-warm-${attempt}`
    await net.publish(0, `${id}/${Date.now()}`)
    const reached = new Set<number>()
    for (let poll = 0; poll < 25 && reached.size < net.size - 1; poll++) {
      await sleep(200)
      const got = await net.collect()
      got.forEach((list, node) => { if (node !== 0 && list.some(d => d[0] === id)) reached.add(node) })
    }
    if (reached.size === net.size - 1) return
    const missing = Array.from({ length: net.size - 1 }, (_, i) => i + 1).filter(i => !reached.has(i))
    process.stderr.write(`${run}: warm-up message reached ${reached.size}/${net.size - 1} nodes (missing ${missing.join(',')}), retrying\n`)
  }
  throw new Error(`gossip mesh of ${net.size} nodes did not form`)
}

/** Collects until every message id has reached `size - 1` nodes, or the timeout. */
async function gather (net: GossipNetwork, ids: Set<string>): Promise<Delivery[]> {
  const all: Delivery[] = []
  const deadline = Date.now() + DELIVERY_TIMEOUT_MS
  while (Date.now() < deadline) {
    for (const list of await net.collect()) all.push(...list.filter(d => ids.has(d[0])))
    if (all.length >= ids.size * (net.size - 1)) break
    await sleep(200)
  }
  return all
}

async function measure (net: GossipNetwork, run: string): Promise<{ p50: number, p95: number, rate: number, delivered: number, expected: number }> {
  await warmUp(net, run)
  // latency: one message at a time from rotating publishers
  const latencyIds = new Set<string>()
  for (let i = 0; i < LATENCY_MESSAGES; i++) {
    const id = `${run}-lat-${i}`
    latencyIds.add(id)
    await net.publish(i % net.size, `${id}/${Date.now()}`)
    await sleep(20)
  }
  const latency = await gather(net, latencyIds)
  const delays = latency.map(d => d[2] - d[1]).sort((a, b) => a - b)
  // throughput: a burst from every node at once
  const burstIds = new Set<string>()
  const start = Date.now()
  await Promise.all(Array.from({ length: BURST_MESSAGES }, async (_, i) => {
    const id = `${run}-burst-${i}`
    burstIds.add(id)
    await net.publish(i % net.size, `${id}/${Date.now()}`)
  }))
  const burst = await gather(net, burstIds)
  const end = Math.max(...burst.map(d => d[2]))
  return {
    p50: percentile(delays, 0.5),
    p95: percentile(delays, 0.95),
    rate: burst.length / Math.max(1, (end - start) / 1000),
    delivered: latency.length + burst.length,
    expected: (LATENCY_MESSAGES + BURST_MESSAGES) * (net.size - 1)
  }
}

const results: BenchResult[] = []
for (const size of SIZES) {
  process.stderr.write(`n=${size}: raw gossipsub baseline\n`)
  const raw = await rawNetwork(size)
  const rawStats = await measure(raw, `raw${size}`).finally(() => raw.stop())
  process.stderr.write(`n=${size}: harmonyd devnet\n`)
  const harmony = await harmonyNetwork(size)
  const stats = await measure(harmony, `h${size}`).finally(() => harmony.stop())
  const baseline = `raw js-libp2p gossipsub, ${size} processes`
  results.push(
    { bench: 'gossip', metric: `latency_p50_n${size}`, value: stats.p50, unit: 'ms', baseline, baseline_value: rawStats.p50 },
    { bench: 'gossip', metric: `latency_p95_n${size}`, value: stats.p95, unit: 'ms', baseline, baseline_value: rawStats.p95 },
    { bench: 'gossip', metric: `deliveries_per_s_n${size}`, value: Math.round(stats.rate), unit: 'msg/s', baseline, baseline_value: Math.round(rawStats.rate) },
    { bench: 'gossip', metric: `delivered_fraction_n${size}`, value: stats.delivered / stats.expected, unit: 'ratio', baseline, baseline_value: rawStats.delivered / rawStats.expected }
  )
}
printResults(results, values.json)
