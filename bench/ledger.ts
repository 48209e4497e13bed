// npm run bench:ledger [-- --json] [--ingest 20000] [--rate 1000,50] [--seconds 6] [--parts 1,2,3] [--sync-writes both|on|off]
//   [--rule avalanche|commit|both] [--leaders n[,m]] [--no-saturation] [--profile-dir d] [--metrics-dir d] [--warm-up n]
// npm run bench:ledger -- --soak [--json]: RSS and start time after 1M final transactions against after 10k (the soak:
//   bench/history.ts --txs 10000,1000000 --batch 128 --no-full --no-sync; not in CI)
//
// (1) raw ML-DSA-65 verify rate on all cores through the verifier pool (the ledger's limit), next to one core;
// (2) single-node ingest of signed transfers (verify + apply + store, submit to final) as a ratio of (1), and its CPU
//     per transaction (the process's, and the main thread's) against (1)'s CPU per signature;
// (3) a 4-node devnet, one process per node (real libp2p on loopback): finalized tx/s and finality p50/p99 at a
//     fixed offered load of --rate tx/s, from submit to the submitting node's `tx:final` event; with
//     --sync-writes both (the default) each rate runs with fsync'd decisions (the validators' default) and again
//     without, and the cost of sync-writes is reported against the run without it; then a run offering 2× the
//     saturation (the highest finalized rate measured), where admission control refuses (BUSY) instead of queueing:
//     refusals counted, the accepted transactions' p50/p99 (bench/lib/devnet-load.ts; refused ones are retried);
//     `_steady`: those submitted after the first 2 s (a cold devnet's first burst aside; its final tx/s: their finals
//     per second of submission); `cpu_per_tx`: the four
//     node processes' CPU (from /proc) per final transaction, against the floor of four verifications of it.
//     --rule: the genesis consensus rule of the devnets and of (2) (docs/consensus-next.md; commit unless named,
//     as for any new network); `both` runs each rate under the
//     commit rule and again under avalanche, and reports the commit rule's figures against avalanche's, same run.
//     --leaders (commit rule): leader slots per round in the genesis (a number, or `all`: the default); two values run
//     each rate with both and report the first's figures against the second's, same run.
import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Session } from 'node:inspector/promises'
import type { KeyPair } from '../src/core/crypto.ts'
import { VerifyPool } from '../src/dag/verify-pool.ts'
import type { ConsensusRule } from '../src/dag/genesis.ts'
import { type DevnetRunResult, devnetRun } from './lib/devnet-load.ts'
import { createTestNet, transfer, waitFor } from './lib/ledger-net.ts'
import { type BenchResult, printResults } from './report.ts'
import { poolRate, singleCoreRate, VERIFY_ITEMS } from './lib/verify-rate.ts'

const { values } = parseArgs({
  // --no-saturation is the negation of --saturation
  allowNegative: true,
  options: {
    json: { type: 'boolean', default: false },
    // transfers the ingest (2) submits: 3,000 (the default until s19) took ~0.9 s, of which the start and the last
    // vertex's finality (~0.25 s, no ingest meanwhile) were a quarter, so the ratio read 0.33-0.34 where a 30,000 run
    // read 0.46-0.47 (2026-12-03); 20,000 is ~4-5 s of steady ingest
    ingest: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '1000,50' },
    seconds: { type: 'string', default: '6' },
    parts: { type: 'string', default: '1,2,3' },
    'sync-writes': { type: 'string', default: 'both' },
    rule: { type: 'string', default: 'commit' },
    leaders: { type: 'string' },
    // a last devnet run offering twice the highest finalized rate measured (--no-saturation skips it)
    saturation: { type: 'boolean', default: true },
    // write .cpuprofile files: the ingest phase of (2) (main thread, inspector) and devnet node 0 of (3) (--cpu-prof)
    'profile-dir': { type: 'string' },
    // each devnet node's Prometheus metrics after each run: <dir>/<rate>[-sync]-node<i>.prom (bench/lib/metrics-summary.ts)
    'metrics-dir': { type: 'string' },
    // transfers each devnet run of (3) offers at 200 tx/s and awaits final before its measured window, left out of its
    // figures (named `…_warm`): a devnet that has run a while. 0 (the default) measures a devnet started a moment ago,
    // as the goals read; its first second is the slowest (docs/ledger-profile.md, s51)
    'warm-up': { type: 'string', default: '0' },
    // issue 11's soak instead of the parts: RSS and start time after 1M final transactions against after 10k
    // (bench/history.ts with its soak arguments; about half an hour here; not in CI)
    soak: { type: 'boolean', default: false }
  }
})
if (values.soak) {
  if (values.rule === 'both') throw new Error('--soak runs under one rule: commit or avalanche')
  const args = [fileURLToPath(new URL('./history.ts', import.meta.url)), '--txs', '10000,1000000', '--batch', '128', '--no-full', '--no-sync', '--rule', values.rule, ...(values.json ? ['--json'] : [])]
  const child = spawn(process.execPath, [...process.execArgv, ...args], { stdio: 'inherit' })
  process.exit(await new Promise<number>(resolve => child.once('exit', code => { resolve(code ?? 1) })))
}
const INGEST_TXS = Number(values.ingest)
const WARM_UP = Number(values['warm-up'])
if (!(Number.isInteger(WARM_UP) && WARM_UP >= 0)) throw new Error(`--warm-up takes a number of transfers, not ${values['warm-up']}`)
const OFFERED_RATES = values.rate.split(',').map(Number)
const LOAD_SECONDS = Number(values.seconds)
const PARTS = new Set(values.parts.split(',').map(Number))
const PROFILE_DIR = values['profile-dir']
const log = (msg: string): void => { if (!values.json) process.stderr.write(`# ${msg}\n`) }
const results: BenchResult[] = []

// (1) raw verify rate (always: (2) is reported against it) -------------------------------------------------------------------------------------------
const items = VERIFY_ITEMS
const cores = availableParallelism()
const pool = new VerifyPool({ workers: cores })
await pool.start()
await pool.verifyBatch(items) // warm the workers and their key caches
const oneCore = singleCoreRate(1500)
const { rate: allCores, cpuUsPerSig: verifyCpuUs } = await poolRate(pool, 3000)
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
    await mkdir(PROFILE_DIR as string, { recursive: true })
    await writeFile(join(PROFILE_DIR as string, `${name}.cpuprofile`), JSON.stringify(profile))
    session.disconnect()
  }
}

// (2) single-node ingest --------------------------------------------------------------------------------------------
if (PARTS.has(2)) {
  const accountsN = 120 // concurrent client streams: enough to keep the verifier pool fed
  const net = await createTestNet({ nodes: 1, accounts: accountsN, consensus: { rule: values.rule === 'avalanche' ? 'avalanche' : 'commit' }, dag: { verifier: { workers: cores } } })
  const streams = signStreams(net.genesis, net.accounts, Math.ceil(INGEST_TXS / accountsN))
  const total = streams.reduce((s, x) => s + x.length, 0)
  log(`ingest: ${total} signed transfers prepared`)
  const dag = net.nodes[0].dag
  // the node's verifier threads warmed as (1)'s were before its timing: the limit is a warm figure, and a cold pool
  // spent the first 1.3 s of a 9 s ingest loading its workers (measured 2026-12-02)
  await dag.verifier.verifyBatch(items)
  // the limit again, through the node's own pool, just before and just after the ingest: on a machine shared with
  // other runs the load moves within seconds, and (1) ran well before; their mean is the adjacent baseline
  const limitBefore = await poolRate(dag.verifier, 2000)
  const profiler = PROFILE_DIR === undefined ? undefined : await startProfile()
  const start = performance.now()
  const cpu0 = process.cpuUsage()
  const mainCpu0 = process.threadCpuUsage()
  // a client as admission control expects: a BUSY refusal is retried after the retryAfterMs it carries
  let busy = 0
  const submit = async (tx: Uint8Array): Promise<void> => {
    for (;;) {
      try { await dag.submitTransaction(tx, { client: true }); return } catch (err) {
        if ((err as { code?: string }).code !== 'BUSY') throw err
        busy++
        await new Promise(resolve => setTimeout(resolve, Number((err as { meta?: { retryAfterMs?: number } }).meta?.retryAfterMs ?? 100)))
      }
    }
  }
  await Promise.all(streams.map(async stream => { for (const tx of stream) await submit(tx) }))
  await waitFor(async () => (await dag.stats()).finalTxs >= total, 'ingest final', 600_000)
  const tps = total / ((performance.now() - start) / 1000)
  const cpu = process.cpuUsage(cpu0)
  const mainCpu = process.threadCpuUsage(mainCpu0)
  if (profiler !== undefined) await profiler('ingest')
  const limitAfter = await poolRate(dag.verifier, 2000)
  const byRule = (await net.nodes[0].registry.getSingleMetric('harmony_dag_busy_refusals_total')?.get())?.values.map(v => `${v.labels.reason}=${v.value}`).join(' ')
  log(`ingest: ${Math.round(tps)} tx/s, ${busy} BUSY refusals retried (${byRule ?? ''})`)
  results.push({ bench: 'ledger', metric: 'ingest_tps', value: tps, unit: 'tx/s', baseline: 'verify_all_cores (limit)', baseline_value: allCores })
  log(`ingest: verify limit just before ${Math.round(limitBefore.rate)}/s, just after ${Math.round(limitAfter.rate)}/s`)
  results.push({ bench: 'ledger', metric: 'ingest_tps', value: tps, unit: 'tx/s', baseline: 'limit just before + after (mean)', baseline_value: (limitBefore.rate + limitAfter.rate) / 2 })
  // an ingested transaction's CPU in verifications: ingest reaches 0.8 of the limit on busy cores only at ≤ 1.25
  results.push({ bench: 'ledger', metric: 'ingest_cpu_per_tx', value: (cpu.user + cpu.system) / total, unit: 'us', baseline: 'verify cpu per signature (pool, same run)', baseline_value: verifyCpuUs })
  results.push({ bench: 'ledger', metric: 'ingest_main_thread_cpu_per_tx', value: (mainCpu.user + mainCpu.system) / total, unit: 'us', baseline: 'verify cpu per signature (pool, same run)', baseline_value: verifyCpuUs })
  await net.close()
}

// (3) 4-node devnet (one process per node) at a fixed offered load: bench/lib/devnet-load.ts --------------------------
async function devnetAt (rate: number, syncWrites: boolean, rule: ConsensusRule = RULES[0], leaders: number | undefined = LEADERS[0]): Promise<DevnetRunResult> {
  const metricsDir = values['metrics-dir']
  const label = `${rate}${syncWrites ? '-sync' : ''}${rule === 'commit' && leaders !== undefined ? `-leaders${leaders}` : ''}`
  return await devnetRun({ offeredRate: rate, seconds: LOAD_SECONDS, syncWrites, rule, log, ...(rule === 'commit' && leaders !== undefined ? { leaders } : {}), ...(PROFILE_DIR !== undefined ? { profileDir: PROFILE_DIR } : {}), ...(metricsDir !== undefined ? { metricsDir, label } : {}), warmUp: WARM_UP })
}

function devnetFigures (rateLabel: string, run: DevnetRunResult): void {
  const label = WARM_UP > 0 ? `${rateLabel}_warm` : rateLabel
  results.push({ bench: 'ledger', metric: `devnet4_final_tps@${label}`, value: run.finalTps, unit: 'tx/s', baseline: 'offered load', baseline_value: run.offered })
  results.push({ bench: 'ledger', metric: `devnet4_finality_p50@${label}`, value: run.p50, unit: 'ms', baseline: 'goal p50', baseline_value: 300 })
  results.push({ bench: 'ledger', metric: `devnet4_finality_p99@${label}`, value: run.p99, unit: 'ms', baseline: 'goal p99', baseline_value: 1000 })
  results.push({ bench: 'ledger', metric: `devnet4_final_tps@${label}_steady`, value: run.steadyFinalTps, unit: 'tx/s', baseline: 'offered load', baseline_value: run.offered })
  results.push({ bench: 'ledger', metric: `devnet4_finality_p50@${label}_steady`, value: run.steadyP50, unit: 'ms', baseline: 'goal p50', baseline_value: 300 })
  results.push({ bench: 'ledger', metric: `devnet4_finality_p99@${label}_steady`, value: run.steadyP99, unit: 'ms', baseline: 'goal p99', baseline_value: 1000 })
  results.push({ bench: 'ledger', metric: `devnet4_busy_refusals@${label}`, value: run.busy, unit: 'tx', baseline: 'submissions (new and retried)', baseline_value: run.submitted })
  // what a final transaction cost the four nodes, against the floor: each node verifies it once
  if (!Number.isNaN(run.cpuMsPerTx)) results.push({ bench: 'ledger', metric: `devnet4_cpu_per_tx@${label}`, value: run.cpuMsPerTx, unit: 'ms', baseline: '4 verifications (verify cpu per signature × 4)', baseline_value: 4 * verifyCpuUs / 1000 })
}

const RULES: ConsensusRule[] = values.rule === 'both' ? ['commit', 'avalanche'] : [values.rule as ConsensusRule]
if (!RULES.every(r => r === 'avalanche' || r === 'commit')) throw new Error(`--rule must be avalanche, commit or both, not ${values.rule}`)
// undefined: the genesis default (every validator a leader)
const LEADERS: Array<number | undefined> = values.leaders === undefined ? [undefined] : values.leaders.split(',').map(l => l === 'all' ? undefined : Number(l))
if (LEADERS.length > 2 || LEADERS.some(l => l !== undefined && !(Number.isInteger(l) && l >= 1 && l <= 4))) throw new Error(`--leaders takes one or two of 1 to 4 or all, not ${values.leaders}`)
if (LEADERS.length === 2 && RULES.length === 2) throw new Error('--leaders with two values compares under the commit rule: give --rule commit')
const SYNC_MODE = values['sync-writes']
if (!['both', 'on', 'off'].includes(SYNC_MODE)) throw new Error(`--sync-writes must be both, on or off, not ${SYNC_MODE}`)
let saturation = 0
if (PARTS.has(3)) {
  for (const rate of OFFERED_RATES) {
    const plain = SYNC_MODE === 'on' ? undefined : await devnetAt(rate, false)
    const synced = SYNC_MODE === 'off' ? undefined : await devnetAt(rate, true)
    // the headline figures are the validators' default (sync-writes on) when it ran
    const main = synced ?? plain
    if (main === undefined) continue
    saturation = Math.max(saturation, main.finalTps)
    devnetFigures(String(rate), main)
    if (RULES.length === 2) {
      // the same rate under avalanche, same sync mode: the baseline of the commit rule's figures
      const base = await devnetAt(rate, synced !== undefined, 'avalanche')
      for (const [metric, unit, a, b] of [['final_tps', 'tx/s', main.finalTps, base.finalTps], ['finality_p50', 'ms', main.p50, base.p50], ['finality_p99', 'ms', main.p99, base.p99], ['cpu_per_tx', 'ms', main.cpuMsPerTx, base.cpuMsPerTx]] as const) {
        if (!Number.isNaN(a)) results.push({ bench: 'ledger', metric: `devnet4_${metric}@${rate}_commit_rule`, value: a, unit, baseline: 'same rate under the avalanche rule, same run', baseline_value: b })
      }
    }
    if (LEADERS.length === 2 && RULES[0] === 'commit') {
      // the same rate with the other number of leaders a round: the baseline of the first's figures
      const base = await devnetAt(rate, synced !== undefined, 'commit', LEADERS[1])
      const name = (l: number | undefined): string => l === undefined ? 'all' : String(l)
      for (const [metric, unit, a, b] of [['final_tps', 'tx/s', main.finalTps, base.finalTps], ['finality_p50', 'ms', main.p50, base.p50], ['finality_p99', 'ms', main.p99, base.p99], ['cpu_per_tx', 'ms', main.cpuMsPerTx, base.cpuMsPerTx]] as const) {
        if (!Number.isNaN(a)) results.push({ bench: 'ledger', metric: `devnet4_${metric}@${rate}_leaders_${name(LEADERS[0])}`, value: a, unit, baseline: `same rate with leaders ${name(LEADERS[1])}, same run`, baseline_value: b })
      }
    }
    if (plain !== undefined && synced !== undefined) {
      results.push({ bench: 'ledger', metric: `devnet4_finality_p50@${rate}_sync_writes`, value: synced.p50, unit: 'ms', baseline: 'same run without sync-writes', baseline_value: plain.p50 })
      results.push({ bench: 'ledger', metric: `devnet4_final_tps@${rate}_sync_writes`, value: synced.finalTps, unit: 'tx/s', baseline: 'same run without sync-writes', baseline_value: plain.finalTps })
    }
  }
}

// "2× saturation": twice the highest finalized rate measured above (the saturation when that run could not keep up
// with its offered load, a lower bound of it otherwise); admission control should refuse the excess and keep the
// accepted transactions' finality
if (PARTS.has(3) && values.saturation && saturation > 0) {
  const run = await devnetAt(Math.round(2 * saturation), SYNC_MODE !== 'off')
  devnetFigures('2x_saturation', run)
  results.push({ bench: 'ledger', metric: 'devnet4_offered@2x_saturation', value: run.offered, unit: 'tx/s', baseline: 'saturation (highest final tx/s above)', baseline_value: saturation })
}

printResults(results, values.json)
process.exit(0)
