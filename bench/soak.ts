// npm run bench:soak [-- --json] [--nodes 4] [--minutes 60] [--warmup-minutes 5] [--sample-s 30] [--rate 40]
//   [--rule commit|avalanche] [--samples-file f]
//
// Memory over time of a whole devnet under steady work (issue 11's "memory over time"; not in CI): --nodes harmonyd
// processes (real libp2p on loopback, every node a CPU provider and a validator) run `harmonyd devnet --demo`'s
// market workload (small matmul tasks from the faucet, four in flight: auctions, execution, payments) and --rate
// transfers per second between funded accounts, signed here and sent over each node's RPC in turn, for --minutes.
// Every --sample-s seconds each node's `/metrics` gives its RSS, V8 heap and external memory.
//
// Figures, per node, each over 5 minutes of samples (a quarter of the measured time in a shorter run) (the RSS's median, the heap's minimum: its live set after a
// collection): RSS and heap at the end against the same after --warmup-minutes (the baseline, same run: what a node
// holds once its caches, windows and JIT have filled); and the RSS's growth over the second half of the measured time
// against its growth over the first half (a leak grows both halves alike; a warm-up grows the first only).
// The work done over the run (final transfers, settled tasks) is printed next to what was offered.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fundAccounts, openAccount, submitMatmul, TaskFollower, type WorkloadAccount } from '../src/cli/market-workload.ts'
import { DEMO_NODE_ARGS } from '../src/cli/devnet-demo.ts'
import { addressFromPublicKey } from '../src/core/address.ts'
import { generateKeyPair } from '../src/core/crypto.ts'
import { loadWalletFile } from '../src/core/keys/wallet.ts'
import { createLogger } from '../src/core/logger.ts'
import { signTransfer } from '../src/dag/index.ts'
import { Devnet, devnetClient } from '../src/node/devnet.ts'
import type { HarmonyClient } from '../src/sdk/index.ts'
import { type BenchResult, printResults } from './report.ts'

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    nodes: { type: 'string', default: '4' },
    minutes: { type: 'string', default: '60' },
    'warmup-minutes': { type: 'string', default: '5' },
    'sample-s': { type: 'string', default: '30' },
    rate: { type: 'string', default: '40' },
    rule: { type: 'string', default: 'commit' },
    // every sample as one JSON line (time, node, rss, heap, external, final transfers, settled tasks)
    'samples-file': { type: 'string' }
  }
})
const NODES = Number(values.nodes)
const MINUTES = Number(values.minutes)
const WARMUP_MIN = Number(values['warmup-minutes'])
const SAMPLE_S = Number(values['sample-s'])
const RATE = Number(values.rate)
if (!Number.isInteger(NODES) || NODES < 2) throw new Error('--nodes must be an integer ≥ 2')
if (!(MINUTES > WARMUP_MIN) || !(WARMUP_MIN >= 0)) throw new Error('--minutes must be more than --warmup-minutes (≥ 0)')
if (!(SAMPLE_S >= 1) || !(RATE >= 0)) throw new Error('--sample-s ≥ 1 and --rate ≥ 0')
if (values.rule !== 'avalanche' && values.rule !== 'commit') throw new Error('--rule is avalanche or commit')
const AGC = 10n ** 18n
/** Accounts the transfers rotate over (each signs its own chained nonces). */
const TRANSFER_ACCOUNTS = 16
/** Market tasks kept in flight (as `harmonyd devnet --demo`). */
const TASKS_IN_FLIGHT = 4
/** Minutes of samples each figure is taken over. */
const WINDOW_MIN = 5
const log = (line: string): void => { if (!values.json) process.stderr.write(`# ${line}\n`) }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

interface Sample { tMin: number, node: number, rssMb: number, heapMb: number, externalMb: number }

/** One node's memory from its Prometheus text (prom-client's default metrics under the node's prefix). */
function memoryOf (text: string): { rssMb: number, heapMb: number, externalMb: number } {
  const read = (name: string): number => {
    const m = new RegExp(`^harmony_process_${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(text)
    if (m === null) throw new Error(`/metrics has no harmony_process_${name}`)
    return Number(m[1]) / 2 ** 20
  }
  return { rssMb: read('process_resident_memory_bytes'), heapMb: read('nodejs_heap_size_used_bytes'), externalMb: read('nodejs_external_memory_bytes') }
}

/** Keeps RATE transfers a second going until `signal` aborts: accounts in turn, nodes in turn. */
async function transfers (accounts: WorkloadAccount[], signal: AbortSignal, counts: { sent: number, refused: number }): Promise<void> {
  if (RATE === 0) return
  const start = performance.now()
  for (let j = 0; !signal.aborted; j++) {
    const wait = start + (j * 1000) / RATE - performance.now()
    if (wait > 1) await sleep(wait)
    const from = accounts[j % accounts.length]
    const to = accounts[(j + 1) % accounts.length]
    const signed = signTransfer(from.key, { chainId: from.chainId, to: to.key.address, amount: 1n, nonce: from.nextNonce })
    try {
      await from.client.call('account_sendTransaction', [signed])
      from.nextNonce++
      counts.sent++
    } catch {
      // refused (BUSY under a burst, a nonce gap behind an earlier refusal): read the account's nonce again
      counts.refused++
      from.nextNonce = BigInt(await from.client.call('account_getNonce', [from.key.address]).catch(() => String(from.nextNonce)))
    }
  }
}

/** Keeps TASKS_IN_FLIGHT market tasks going from `requester` until `signal` aborts; counts those that ended. */
async function tasks (requester: WorkloadAccount, signal: AbortSignal, counts: { announced: number, settled: number, other: number }): Promise<void> {
  const follower = new TaskFollower(requester.client)
  while (!signal.aborted) {
    while (follower.following < TASKS_IN_FLIGHT && !signal.aborted) {
      try {
        const task = await submitMatmul(requester, { m: 8, k: 8, n: 8, budget: AGC / 100n })
        follower.follow(task.taskId)
        counts.announced++
      } catch {
        requester.nextNonce = BigInt(await requester.client.call('account_getNonce', [requester.key.address]).catch(() => String(requester.nextNonce)))
        break
      }
    }
    for (const e of await follower.poll()) {
      if (e.kind === 'settled') counts.settled++
      else if (e.kind === 'expired' || e.kind === 'cancelled' || e.kind === 'refunded') counts.other++
    }
    await sleep(250)
  }
}

const dir = await mkdtemp(join(tmpdir(), 'harmony-bench-soak-'))
const devnet = new Devnet({ nodes: NODES, basePort: 0, datadir: dir, chain: false, logLevel: 'warn', logger: createLogger({ level: 'warn' }), consensus: values.rule, nodeArgs: [...DEMO_NODE_ARGS, '--executor', 'cpu'] })
const results: BenchResult[] = []
try {
  log(`starting a ${NODES}-node devnet (every node a CPU provider), consensus rule ${values.rule}`)
  const nodes = await devnet.start()
  const clients: HarmonyClient[] = await Promise.all(nodes.map(async n => await devnetClient(n)))
  const faucet = await openAccount(clients[0], await loadWalletFile(devnet.faucetPath))
  const providers = (await Promise.all(clients.map(async c => await c.call('node_info')))).map(i => i.address as string)
  const keys = Array.from({ length: TRANSFER_ACCOUNTS + 1 }, () => { const k = generateKeyPair(); return { ...k, address: addressFromPublicKey(k.publicKey) } })
  await fundAccounts(faucet, [...providers, ...keys.map(k => k.address)], 1_000_000n * AGC)
  while ((await clients[0].call('market_providers', [{ limit: 100 }])).providers.length < NODES) await sleep(250)
  const accounts = await Promise.all(keys.slice(1).map(async (k, i) => await openAccount(clients[i % NODES], k)))
  const requester = await openAccount(clients[0], keys[0])
  const memory = async (): Promise<Array<{ rssMb: number, heapMb: number, externalMb: number }>> =>
    await Promise.all(nodes.map(async n => {
      const res = await fetch(`${n.rpc.replace(/\/$/, '')}/metrics`)
      if (!res.ok) throw new Error(`node ${n.index} /metrics answered ${res.status}`)
      return memoryOf(await res.text())
    }))

  const stop = new AbortController()
  const sent = { sent: 0, refused: 0 }
  const ended = { announced: 0, settled: 0, other: 0 }
  const finalBefore = Number((await clients[0].call('dag_stats')).finalTxs)
  const load = Promise.all([transfers(accounts, stop.signal, sent), tasks(requester, stop.signal, ended)])
  log(`load: ${RATE} transfers/s over ${TRANSFER_ACCOUNTS} accounts and ${TASKS_IN_FLIGHT} tasks in flight, for ${MINUTES} min; a sample every ${SAMPLE_S} s`)
  const samples: Sample[] = []
  const t0 = performance.now()
  for (let k = 0; ; k++) {
    const due = t0 + k * SAMPLE_S * 1000
    if (due > t0 + MINUTES * 60_000) break
    await sleep(Math.max(0, due - performance.now()))
    const tMin = (performance.now() - t0) / 60_000
    const mem = await memory()
    mem.forEach((m, node) => samples.push({ tMin, node, ...m }))
    if (values['samples-file'] !== undefined) await writeFile(values['samples-file'], samples.map(s => JSON.stringify(s)).join('\n') + '\n')
    if (k % Math.max(1, Math.round(300 / SAMPLE_S)) === 0) {
      log(`${tMin.toFixed(1)} min: RSS ${mem.map(m => m.rssMb.toFixed(0)).join('/')} MiB, heap ${mem.map(m => m.heapMb.toFixed(0)).join('/')} MiB; ${sent.sent} transfers sent (${sent.refused} refused), ${ended.settled} tasks settled (${ended.other} ended otherwise)`)
    }
  }
  stop.abort()
  await load
  const elapsedS = (performance.now() - t0) / 1000
  const finalAfter = Number((await clients[0].call('dag_stats')).finalTxs)

  // per node, over windows of WINDOW_MIN (at least 3 samples): the RSS's median and the heap's minimum (the live set
  // after a collection: a sample's heap is wherever the collector happened to be) after the warm-up, at the middle of
  // the measured time and at the end
  const window = Math.max(Math.min(WINDOW_MIN, (MINUTES - WARMUP_MIN) / 4), (3 * SAMPLE_S) / 60)
  const at = (node: number, from: number): { rssMb: number, heapMb: number } => {
    const xs = samples.filter(s => s.node === node && s.tMin >= from - 1e-9 && s.tMin <= from + window + 1e-9)
    const rss = xs.map(s => s.rssMb).sort((a, b) => a - b)
    return { rssMb: rss[Math.floor((rss.length - 1) / 2)], heapMb: Math.min(...xs.map(s => s.heapMb)) }
  }
  const mid = (WARMUP_MIN + MINUTES - window) / 2
  for (let node = 0; node < NODES; node++) {
    const w = at(node, WARMUP_MIN)
    const m = at(node, mid)
    const e = at(node, MINUTES - window)
    const label = `${MINUTES}_min`
    results.push(
      { bench: 'soak', metric: `rss_mib_node${node}_after_${label}`, value: e.rssMb, unit: 'MiB', baseline: `after ${WARMUP_MIN} min`, baseline_value: w.rssMb },
      { bench: 'soak', metric: `heap_floor_mib_node${node}_after_${label}`, value: e.heapMb, unit: 'MiB', baseline: `after ${WARMUP_MIN} min`, baseline_value: w.heapMb },
      { bench: 'soak', metric: `rss_growth_mib_node${node}_2nd_half`, value: e.rssMb - m.rssMb, unit: 'MiB', baseline: '1st half', baseline_value: m.rssMb - w.rssMb }
    )
  }
  results.push(
    { bench: 'soak', metric: 'final_tx_per_s_all_kinds', value: (finalAfter - finalBefore) / elapsedS, unit: 'tx/s', baseline: 'transfers accepted per s', baseline_value: sent.sent / elapsedS },
    { bench: 'soak', metric: 'tasks_settled', value: ended.settled, unit: 'tasks', baseline: 'tasks announced', baseline_value: ended.announced }
  )
} finally {
  await devnet.stop()
  await rm(dir, { recursive: true, force: true })
}
printResults(results, values.json)
