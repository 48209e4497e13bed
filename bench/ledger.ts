// npm run bench:ledger [-- --json] [--ingest 3000] [--rate 1000,50] [--seconds 6] [--parts 1,2,3] [--sync-writes both|on|off] [--profile-dir d]
//
// (1) raw ML-DSA-65 verify rate on all cores through the verifier pool (the ledger's limit), next to one core;
// (2) single-node ingest of signed transfers (verify + apply + store, submit to final) as a ratio of (1);
// (3) a 4-node devnet, one process per node (real libp2p on loopback): finalized tx/s and finality p50/p99 at a
//     fixed offered load of --rate tx/s, from submit to the submitting node's `tx:final` event; with
//     --sync-writes both (the default) each rate runs with fsync'd decisions (the validators' default) and again
//     without, and the cost of sync-writes is reported against the run without it.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Session } from 'node:inspector/promises'
import { addressFromPublicKey, parseAddress } from '../src/core/address.ts'
import { toHex } from '../src/core/codec.ts'
import { generateKeyPair, type KeyPair, nodeSign, sha256, verify } from '../src/core/crypto.ts'
import { generateGenesis, genesisToJson } from '../src/dag/genesis.ts'
import { type VerifyItem, VerifyPool } from '../src/dag/verify-pool.ts'
import { createTestNet, transfer, waitFor } from './lib/ledger-net.ts'
import { type BenchResult, percentile, printResults } from './report.ts'

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    ingest: { type: 'string', default: '3000' },
    rate: { type: 'string', default: '1000,50' },
    seconds: { type: 'string', default: '6' },
    parts: { type: 'string', default: '1,2,3' },
    'sync-writes': { type: 'string', default: 'both' },
    // write .cpuprofile files: the ingest phase of (2) (main thread, inspector) and devnet node 0 of (3) (--cpu-prof)
    'profile-dir': { type: 'string' }
  }
})
const INGEST_TXS = Number(values.ingest)
const OFFERED_RATES = values.rate.split(',').map(Number)
const LOAD_SECONDS = Number(values.seconds)
const PARTS = new Set(values.parts.split(',').map(Number))
const PROFILE_DIR = values['profile-dir']
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

/** Starts the inspector's CPU profiler on this thread; the returned function writes `<dir>/<name>.cpuprofile`. */
async function startProfile (): Promise<(name: string) => Promise<void>> {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return async (name) => {
    const { profile } = await session.post('Profiler.stop')
    await writeFile(join(PROFILE_DIR as string, `${name}.cpuprofile`), JSON.stringify(profile))
    session.disconnect()
  }
}

// (2) single-node ingest --------------------------------------------------------------------------------------------
if (PARTS.has(2)) {
  const accountsN = 120 // concurrent client streams: enough to keep the verifier pool fed
  const net = await createTestNet({ nodes: 1, accounts: accountsN, dag: { verifier: { workers: cores } } })
  const streams = signStreams(net.genesis, net.accounts, Math.ceil(INGEST_TXS / accountsN))
  const total = streams.reduce((s, x) => s + x.length, 0)
  log(`ingest: ${total} signed transfers prepared`)
  const dag = net.nodes[0].dag
  const profiler = PROFILE_DIR === undefined ? undefined : await startProfile()
  const start = performance.now()
  await Promise.all(streams.map(async stream => { for (const tx of stream) await dag.submitTransaction(tx) }))
  await waitFor(async () => (await dag.stats()).finalTxs >= total, 'ingest final', 600_000)
  const tps = total / ((performance.now() - start) / 1000)
  if (profiler !== undefined) await profiler('ingest')
  log(`ingest: ${Math.round(tps)} tx/s`)
  results.push({ bench: 'ledger', metric: 'ingest_tps', value: tps, unit: 'tx/s', baseline: 'verify_all_cores (limit)', baseline_value: allCores })
  await net.close()
}

// (3) 4-node devnet (one process per node) at a fixed offered load -----------------------------------------------
async function devnetRun (OFFERED_RATE: number, syncWrites: boolean): Promise<{ finalTps: number, offered: number, p50: number, p99: number }> {
  const accountsN = 40
  const validators = Array.from({ length: 4 }, () => randomBytes(32))
  const accounts = Array.from({ length: accountsN }, () => generateKeyPair())
  const genesis = generateGenesis({
    chainId: 'harmony-bench',
    validatorPublicKeys: validators.map(s => generateKeyPair(s).publicKey),
    faucetPublicKey: generateKeyPair().publicKey,
    allocations: accounts.map(a => ({ address: parseAddress(addressFromPublicKey(a.publicKey)), balance: 10n ** 24n }))
  })
  const perAccount = Math.ceil(OFFERED_RATE * LOAD_SECONDS / accountsN)
  const streams = signStreams(genesis, accounts, perAccount)
  const root = await mkdtemp(join(tmpdir(), 'harmony-bench-ledger-'))
  const nodes = await Promise.all(validators.map(async (seed, i) => {
    const config = join(root, `node${i}.json`)
    await writeFile(config, JSON.stringify({ dir: join(root, `db${i}`), genesis: genesisToJson(genesis), seed: toHex(seed), syncWrites }))
    const prof = PROFILE_DIR !== undefined && i === 0 ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []
    const child = spawn(process.execPath, [...process.execArgv, ...prof, fileURLToPath(new URL('./lib/ledger-node-process.ts', import.meta.url)), config], { stdio: ['pipe', 'pipe', 'inherit'] })
    const lines = createInterface({ input: child.stdout })
    const node = { child, addr: '', peers: 0, finals: [] as string[], onFinal: (_id: string) => {}, refused: 0 }
    lines.on('line', line => {
      const [kind, rest] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)]
      if (kind === 'addr') node.addr = rest
      else if (kind === 'peers') node.peers = Number(rest)
      else if (kind === 'final') node.onFinal(rest)
      else if (kind === 'refused') node.refused++
    })
    return node
  }))
  await waitFor(() => nodes.every(n => n.addr !== ''), 'nodes listening', 60_000)
  for (const n of nodes) for (const m of nodes) if (n !== m) n.child.stdin.write(`dial ${m.addr}\n`)
  await waitFor(() => nodes.every(n => n.peers === 3), 'validator peers bound', 60_000)
  const submittedAt = new Map<string, number>()
  const latencies: number[] = []
  const finalCount = nodes.map(() => 0)
  let lastFinal = 0
  nodes.forEach((n, i) => {
    n.onFinal = (id) => {
      finalCount[i]++
      const t0 = submittedAt.get(`${i}:${id}`)
      if (t0 === undefined) return
      submittedAt.delete(`${i}:${id}`)
      lastFinal = performance.now()
      latencies.push(lastFinal - t0)
    }
  })
  log(`finality: ${accountsN * perAccount} transfers prepared, offering ${OFFERED_RATE} tx/s for ${LOAD_SECONDS} s to 4 node processes, sync-writes ${syncWrites ? 'on' : 'off'}`)
  const start = performance.now()
  let j = 0
  for (let n = 0; n < perAccount; n++) {
    for (let a = 0; a < accountsN; a++, j++) {
      const wait = start + (j * 1000) / OFFERED_RATE - performance.now()
      if (wait > 1) await new Promise(resolve => setTimeout(resolve, wait))
      const bytes = streams[a][n]
      const id = `0x${toHex(sha256(bytes))}`
      submittedAt.set(`${a % 4}:${id}`, performance.now())
      nodes[a % 4].child.stdin.write(`submit ${id} ${toHex(bytes)}\n`)
    }
  }
  const offered = j / ((performance.now() - start) / 1000)
  const total = j
  await waitFor(() => latencies.length + nodes.reduce((s, n) => s + n.refused, 0) >= total, 'all submitted transactions final', 600_000)
  await waitFor(() => finalCount.every(c => c >= latencies.length), 'every node applied them', 600_000)
  const finalTps = latencies.length / ((lastFinal - start) / 1000)
  latencies.sort((x, y) => x - y)
  log(`finality: offered ${Math.round(offered)} tx/s, ${latencies.length} final, ${nodes.reduce((s, n) => s + n.refused, 0)} refused`)
  for (const n of nodes) n.child.stdin.write('exit\n')
  await Promise.all(nodes.map(async n => await new Promise(resolve => n.child.once('exit', resolve))))
  await rm(root, { recursive: true, force: true })
  return { finalTps, offered, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) }
}

const SYNC_MODE = values['sync-writes']
if (!['both', 'on', 'off'].includes(SYNC_MODE)) throw new Error(`--sync-writes must be both, on or off, not ${SYNC_MODE}`)
if (PARTS.has(3)) {
  for (const rate of OFFERED_RATES) {
    const plain = SYNC_MODE === 'on' ? undefined : await devnetRun(rate, false)
    const synced = SYNC_MODE === 'off' ? undefined : await devnetRun(rate, true)
    // the headline figures are the validators' default (sync-writes on) when it ran
    const main = synced ?? plain
    if (main === undefined) continue
    results.push({ bench: 'ledger', metric: `devnet4_final_tps@${rate}`, value: main.finalTps, unit: 'tx/s', baseline: 'offered load', baseline_value: main.offered })
    results.push({ bench: 'ledger', metric: `devnet4_finality_p50@${rate}`, value: main.p50, unit: 'ms', baseline: 'goal p50', baseline_value: 300 })
    results.push({ bench: 'ledger', metric: `devnet4_finality_p99@${rate}`, value: main.p99, unit: 'ms', baseline: 'goal p99', baseline_value: 1000 })
    if (plain !== undefined && synced !== undefined) {
      results.push({ bench: 'ledger', metric: `devnet4_finality_p50@${rate}_sync_writes`, value: synced.p50, unit: 'ms', baseline: 'same run without sync-writes', baseline_value: plain.p50 })
      results.push({ bench: 'ledger', metric: `devnet4_final_tps@${rate}_sync_writes`, value: synced.finalTps, unit: 'tx/s', baseline: 'same run without sync-writes', baseline_value: plain.finalTps })
    }
  }
}

printResults(results, values.json)
process.exit(0)
