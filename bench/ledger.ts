// npm run bench:ledger [-- --json] [--ingest 3000] [--rate 1000] [--seconds 6]
//
// (1) raw ML-DSA-65 verify rate on all cores through the verifier pool (the ledger's limit), next to one core;
// (2) single-node ingest of signed transfers (verify + apply + store, submit to final) as a ratio of (1);
// (3) a 4-node in-process network (real libp2p on loopback): finalized tx/s and finality p50/p99 at a fixed
//     offered load of --rate tx/s, measured from submit to the submitting node's `tx:final` event.
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { generateKeyPair, type KeyPair, nodeSign, verify } from '../src/dag/crypto.ts'
import { type VerifyItem, VerifyPool } from '../src/dag/verify-pool.ts'
import { createTestNet, transfer, waitFor } from '../test/helpers/dag-net.ts'
import { type BenchResult, percentile, printResults } from './report.ts'

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    ingest: { type: 'string', default: '3000' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '6' },
    parts: { type: 'string', default: '1,2,3' }
  }
})
const INGEST_TXS = Number(values.ingest)
const OFFERED_RATE = Number(values.rate)
const LOAD_SECONDS = Number(values.seconds)
const PARTS = new Set(values.parts.split(',').map(Number))
const log = (msg: string): void => { if (!values.json) process.stderr.write(`# ${msg}\n`) }
const results: BenchResult[] = []

// (1) raw verify rate (always: (2) is reported against it) -------------------------------------------------------------------------------------------
const keys = Array.from({ length: 8 }, () => generateKeyPair())
const items: VerifyItem[] = Array.from({ length: 512 }, (_, i) => {
  const msg = new Uint8Array(5400).fill(i & 0xff)
  const k = keys[i % keys.length]
  return { sig: nodeSign(msg, k.secretKey), msg, publicKey: k.publicKey }
})
function singleCoreRate (ms: number): number {
  const start = performance.now()
  let n = 0
  while (performance.now() - start < ms) { verify(items[n % items.length].sig, items[n % items.length].msg, items[n % items.length].publicKey); n++ }
  return n / ((performance.now() - start) / 1000)
}
const cores = availableParallelism()
const pool = new VerifyPool({ workers: cores })
await pool.start()
await pool.verifyBatch(items) // warm the workers and their key caches
const oneCore = singleCoreRate(1500)
let verified = 0
const poolStart = performance.now()
while (performance.now() - poolStart < 3000) {
  await Promise.all(Array.from({ length: cores * 2 }, async () => await pool.verifyBatch(items)))
  verified += items.length * cores * 2
}
const allCores = verified / ((performance.now() - poolStart) / 1000)
await pool.stop()
log(`verify: ${Math.round(oneCore)}/s on one core, ${Math.round(allCores)}/s on ${cores} cores`)
results.push({ bench: 'ledger', metric: 'verify_all_cores', value: allCores, unit: 'sig/s', baseline: 'one core, same run', baseline_value: oneCore })

// helpers ---------------------------------------------------------------------------------------------------------
function signStreams (genesis: Parameters<typeof transfer>[0], accounts: KeyPair[], perAccount: number): Uint8Array[][] {
  return accounts.map((a, i) => Array.from({ length: perAccount }, (_, n) => transfer(genesis, a, accounts[(i + 1) % accounts.length], 1n, BigInt(n))))
}

// (2) single-node ingest --------------------------------------------------------------------------------------------
if (PARTS.has(2)) {
  const accountsN = 30
  const net = await createTestNet({ nodes: 1, accounts: accountsN, dag: { verifier: { workers: cores } } })
  const streams = signStreams(net.genesis, net.accounts, Math.ceil(INGEST_TXS / accountsN))
  const total = streams.reduce((s, x) => s + x.length, 0)
  log(`ingest: ${total} signed transfers prepared`)
  const dag = net.nodes[0].dag
  const start = performance.now()
  await Promise.all(streams.map(async stream => { for (const tx of stream) await dag.submitTransaction(tx) }))
  await waitFor(async () => (await dag.stats()).finalTxs >= total, 'ingest final', 600_000)
  const tps = total / ((performance.now() - start) / 1000)
  log(`ingest: ${Math.round(tps)} tx/s`)
  results.push({ bench: 'ledger', metric: 'ingest_tps', value: tps, unit: 'tx/s', baseline: 'verify_all_cores (limit)', baseline_value: allCores })
  await net.close()
}

// (3) 4-node finality at a fixed offered load ---------------------------------------------------------------------
if (PARTS.has(3)) {
  const accountsN = 40
  const net = await createTestNet({ nodes: 4, accounts: accountsN, dag: { verifier: { workers: 1 } } })
  await waitFor(() => net.nodes.every(n => n.dag.network.validatorPeers().length === 3), 'peers bound')
  const perAccount = Math.ceil(OFFERED_RATE * LOAD_SECONDS / accountsN)
  const streams = signStreams(net.genesis, net.accounts, perAccount)
  const total = accountsN * perAccount
  log(`finality: ${total} transfers prepared, offering ${OFFERED_RATE} tx/s for ${LOAD_SECONDS} s`)
  const submittedAt = new Map<string, number>()
  const latencies: number[] = []
  let lastFinal = 0
  for (const n of net.nodes) {
    n.dag.on('tx:final', e => {
      const t0 = submittedAt.get(e.id)
      if (t0 === undefined) return
      submittedAt.delete(e.id)
      const now = performance.now()
      latencies.push(now - t0)
      lastFinal = now
      if (process.env.BENCH_TRACE !== undefined) process.stderr.write(`final ${((t0 - start) / 1000).toFixed(2)} -> ${((now - start) / 1000).toFixed(2)}\n`)
    })
  }
  const ids = new Map<string, number>() // id -> submitting node
  const start = performance.now()
  let refused = 0
  // Account i always submits to node i % 4 (its nonces stay in order); tx j of the run is due at start + j/rate.
  const order: Array<[number, number]> = []
  for (let n = 0; n < perAccount; n++) for (let a = 0; a < accountsN; a++) order.push([a, n])
  const pending: Array<Promise<void>> = []
  const chains = new Map<number, Promise<void>>()
  for (let j = 0; j < order.length; j++) {
    const due = start + (j * 1000) / OFFERED_RATE
    const wait = due - performance.now()
    if (wait > 1) await new Promise(resolve => setTimeout(resolve, wait))
    const [a, n] = order[j]
    const node = net.nodes[a % 4]
    const prev = chains.get(a) ?? Promise.resolve()
    const p = prev.then(async () => {
      const t0 = performance.now()
      try {
        const id = await node.dag.submitTransaction(streams[a][n])
        submittedAt.set(id, t0)
        ids.set(id, a % 4)
      } catch { refused++ }
    })
    chains.set(a, p)
    pending.push(p)
  }
  await Promise.all(pending)
  const offeredSeconds = (performance.now() - start) / 1000
  await waitFor(() => submittedAt.size === 0, 'all submitted transactions final', 300_000)
  await waitFor(async () => (await Promise.all(net.nodes.map(async n => (await n.dag.stats()).finalTxs))).every(f => f >= latencies.length), 'every node applied them', 300_000)
  const finalTps = latencies.length / ((lastFinal - start) / 1000)
  latencies.sort((x, y) => x - y)
  const stats = await Promise.all(net.nodes.map(async n => await n.dag.stats()))
  log(`finality: offered ${Math.round(order.length / offeredSeconds)} tx/s, ${latencies.length} final, ${refused} refused, roots equal: ${new Set(stats.map(s => s.stateRoot)).size === 1}`)
  results.push({ bench: 'ledger', metric: 'devnet4_final_tps', value: finalTps, unit: 'tx/s', baseline: 'offered load', baseline_value: order.length / offeredSeconds })
  results.push({ bench: 'ledger', metric: 'devnet4_finality_p50', value: percentile(latencies, 0.5), unit: 'ms', baseline: 'goal p50', baseline_value: 300 })
  results.push({ bench: 'ledger', metric: 'devnet4_finality_p99', value: percentile(latencies, 0.99), unit: 'ms', baseline: 'goal p99', baseline_value: 1000 })
  await net.close()
}

printResults(results, values.json)
process.exit(0)
