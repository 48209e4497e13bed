// npm run bench:webhooks [-- --json] [--events 1000] [--rounds 3]
//
// Webhook deliveries per second and publish-to-receipt latency through the WebhookService (each event persisted
// in LevelDB, signed, POSTed, its outcome persisted), next to the floor measured in the same run: the same signed
// POSTs of the same bodies sent back to back by the service's own attempt code to the same node:http receiver,
// nothing queued or stored. Rounds alternate and each side reports its median round.
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { silentLogger } from '../src/core/logger.ts'
import { openDatabase } from '../src/core/storage.ts'
import { attemptDelivery, DeliveryAgents } from '../src/webhooks/delivery.ts'
import { createWebhookMetrics, WebhookService } from '../src/webhooks/index.ts'
import { percentile, printResults, type BenchResult } from './report.ts'

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, events: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '3' } } })
const EVENTS = Number(values.events)
const ROUNDS = Number(values.rounds)
// a payment event's size
const PAYLOAD = { account: `hmy1${'q'.repeat(38)}`, direction: 'credit', amount: '2500000000000000000', txId: `0x${'ab'.repeat(32)}`, txKind: 'transfer', vertex: `0x${'cd'.repeat(32)}` }

// the receiver notes when each delivery (by its n) arrived
const arrivals = new Map<number, number>()
let onArrival = (): void => {}
const receiver = createServer((req, res) => {
  let body = ''
  req.on('data', (c: Buffer) => { body += c.toString() })
  req.on('end', () => {
    const n = (JSON.parse(body) as { data: { n: number } }).data.n
    arrivals.set(n, performance.now())
    res.writeHead(204).end()
    onArrival()
  })
})
receiver.listen(0, '127.0.0.1')
await once(receiver, 'listening')
const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`

async function allArrived (count: number): Promise<void> {
  while (arrivals.size < count) await new Promise<void>((resolve) => { onArrival = resolve })
}

// the floor posts through the service's own attempt code (signing, headers, timeout), minus queue and storage
const floorHook = { id: 'wh_bench', url, events: ['payment' as const], accounts: [], label: '', secret: 'secret', createdAtMs: Date.now() }
const floorMetrics = createWebhookMetrics()
// the service's keep-alive pools, as the service builds them
const floorAgents = new DeliveryAgents({ guarded: false, maxSockets: 64 })
async function signedPost (n: number): Promise<void> {
  const body = JSON.stringify({ id: `dlv_${n}`, hook: 'wh_bench', kind: 'payment', createdAtMs: Date.now(), data: { ...PAYLOAD, n } })
  const delivery = { id: `dlv_${n}`, seq: n, kind: 'payment' as const, body, attempts: 0, nextAttemptAtMs: 0, createdAtMs: Date.now() }
  await attemptDelivery(floorHook, delivery, { timeoutMs: 10_000, signal: new AbortController().signal, metrics: floorMetrics, allowPrivateTargets: true, agents: floorAgents })
}

// warm-up (JIT, the connection pool), not measured
for (let n = 0; n < Math.min(EVENTS, 500); n++) await signedPost(n)
arrivals.clear()

interface Round { seconds: number, latencyMs: number[] }

// floor: the same signed POSTs, one at a time (the service also delivers one at a time per hook)
async function floorRound (): Promise<Round> {
  arrivals.clear()
  const sent: number[] = []
  const start = performance.now()
  for (let n = 0; n < EVENTS; n++) {
    sent.push(performance.now())
    await signedPost(n)
  }
  const seconds = (performance.now() - start) / 1000
  return { seconds, latencyMs: sent.map((at, n) => (arrivals.get(n) ?? Number.NaN) - at).sort((a, b) => a - b) }
}

// the service: publish every event at once, as a burst of final transactions would
async function serviceRound (): Promise<Round> {
  arrivals.clear()
  const dir = await mkdtemp(join(tmpdir(), 'harmony-bench-webhooks-'))
  const db = await openDatabase(join(dir, 'db'))
  const webhooks = new WebhookService({ db, logger: silentLogger() }, { maxQueuePerHook: EVENTS, allowPrivateTargets: true })
  await webhooks.start()
  await webhooks.add({ url, events: ['payment'] })
  const published: number[] = []
  const start = performance.now()
  for (let n = 0; n < EVENTS; n++) {
    published.push(performance.now())
    webhooks.publish('payment', { ...PAYLOAD, n })
  }
  await allArrived(EVENTS)
  const seconds = (performance.now() - start) / 1000
  await webhooks.stop()
  await db.close()
  await rm(dir, { recursive: true, force: true })
  return { seconds, latencyMs: published.map((at, n) => (arrivals.get(n) ?? Number.NaN) - at).sort((a, b) => a - b) }
}

// alternating rounds, the median of each, so the machine's load drifts over both alike
const floors: Round[] = []
const services: Round[] = []
for (let round = 0; round < ROUNDS; round++) {
  floors.push(await floorRound())
  services.push(await serviceRound())
}
floorAgents.destroy()
receiver.close()
const median = (rounds: Round[]): Round => [...rounds].sort((a, b) => a.seconds - b.seconds)[Math.floor(rounds.length / 2)]
const { seconds: floorSeconds, latencyMs: floorLatency } = median(floors)
const { seconds: serviceSeconds, latencyMs: serviceLatency } = median(services)

const floorRate = EVENTS / floorSeconds
const results: BenchResult[] = [
  { bench: 'webhooks', metric: 'deliveries_per_s', value: EVENTS / serviceSeconds, unit: 'deliveries/s', baseline: 'the same signed POSTs back to back, nothing queued or stored', baseline_value: floorRate },
  // latency of a burst: the last event waits for every one before it; the floor's is one POST's round trip
  { bench: 'webhooks', metric: 'burst_latency_p50', value: percentile(serviceLatency, 0.5), unit: 'ms', baseline: 'one signed POST alone (p50)', baseline_value: percentile(floorLatency, 0.5) },
  { bench: 'webhooks', metric: 'burst_latency_p99', value: percentile(serviceLatency, 0.99), unit: 'ms', baseline: 'one signed POST alone (p99)', baseline_value: percentile(floorLatency, 0.99) }
]
printResults(results, values.json)
