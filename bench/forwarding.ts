// npm run bench:forwarding [-- --json] [--txs 600] [--clients 8] [--pairs 3]
//
// What a node outside the validator set adds to a transaction on its way in (docs/protocol.md "Transaction
// forwarding": one stream to a validator per transaction, the hold's bookkeeping and its LevelDB write before the id
// goes back). In one process: one validator under the commit rule and one plain node, real libp2p on loopback and
// LevelDB on disk. --clients accounts each submit transfers one at a time (the next once the last is admitted, as a
// wallet or the provider agent's sender does), --txs in all, through the plain node; the baseline is the same load
// submitted to the validator itself, in the same run, alternating --pairs times (each run with accounts of its own).
// Figures: admission latency p50/p99 and admitted tx/s; then that the plain node's hold empties once the
// transactions are final.
// Then one account's --sequence transfers sent at once, each before the last one's answer (as the provider agent's
// pipelined sender does: the plain node forwards an account's transactions in the order submitted), through the
// plain node; the baseline is the same account's transfers one at a time through it (the sender before pipelining),
// and the same burst to the validator itself is shown beside, alternating --pairs times.
import { parseArgs } from 'node:util'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { generateKeyPair, type KeyPair } from '../src/core/crypto.ts'
import { silentLogger } from '../src/core/logger.ts'
import { openDatabase } from '../src/core/storage.ts'
import { DagError } from '../src/dag/errors.ts'
import { DagService } from '../src/dag/service.ts'
import { createDagLibp2p, createTestNet, startDagNetworking, transfer, waitFor } from './lib/ledger-net.ts'
import { type BenchResult, percentile, printResults } from './report.ts'

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, txs: { type: 'string', default: '600' }, sequence: { type: 'string', default: '300' }, clients: { type: 'string', default: '8' }, pairs: { type: 'string', default: '3' } } })
const TXS = Number(values.txs)
const CLIENTS = Number(values.clients)
const PAIRS = Number(values.pairs)
const SEQUENCE = Number(values.sequence)
const log = (msg: string): void => { if (!values.json) process.stderr.write(`# ${msg}\n`) }

const net = await createTestNet({ nodes: 1, accounts: CLIENTS * PAIRS * 2 + 2 + 3 * PAIRS })
const dir = await mkdtemp(join(tmpdir(), 'harmony-bench-forward-'))
const libp2p = await createDagLibp2p()
const db = await openDatabase(dir)
const key = generateKeyPair()
const plain = new DagService({ libp2p, ...(await startDagNetworking(libp2p, key, silentLogger())), db, identity: key, genesis: net.genesis, logger: silentLogger(), registry: new Registry() }, { verifier: { workers: 1 } })
await plain.start()
await libp2p.dial(net.nodes[0].libp2p.getMultiaddrs()[0])
await waitFor(() => plain.validatorPeers.size === 1, 'the plain node to bind the validator')
const validator = net.nodes[0].dag
const sink = generateKeyPair()

/** --txs transfers from --clients accounts, each account one at a time; admission latencies (ms) and tx/s. */
async function load (via: DagService, accounts: KeyPair[]): Promise<{ latencies: number[], tps: number, last: string[] }> {
  const latencies: number[] = []
  const last: string[] = []
  const perClient = Math.ceil(TXS / accounts.length)
  // signed before the clock starts: ML-DSA signing on this thread took 28% of it in a profile of the first version
  const signed = accounts.map(from => Array.from({ length: perClient }, (_, n) => transfer(net.genesis, from, sink, 1n, BigInt(n))))
  const started = performance.now()
  await Promise.all(signed.map(async (txs) => {
    let id = ''
    for (const tx of txs) {
      const t0 = performance.now()
      // a client's transaction either way (admission control's latency rule applies to both); BUSY is waited out
      for (;;) {
        try {
          id = await via.submitTransaction(tx, { client: true })
          break
        } catch (err) {
          if (!(err instanceof DagError) || err.code !== 'BUSY') throw err
          await new Promise(resolve => setTimeout(resolve, Number(err.meta.retryAfterMs ?? 100)))
        }
      }
      latencies.push(performance.now() - t0)
    }
    last.push(id)
  }))
  const tps = latencies.length / ((performance.now() - started) / 1000)
  return { latencies: latencies.sort((a, b) => a - b), tps, last }
}

/** One account's --sequence transfers, all submitted at once in nonce order (pipelined) or one at a time: tx/s. */
async function sequence (via: DagService, from: KeyPair, pipelined: boolean): Promise<number> {
  const signed = Array.from({ length: SEQUENCE }, (_, n) => transfer(net.genesis, from, sink, 1n, BigInt(n)))
  const started = performance.now()
  let ids: string[] = []
  if (pipelined) ids = await Promise.all(signed.map(async tx => await via.submitTransaction(tx)))
  else for (const tx of signed) ids.push(await via.submitTransaction(tx))
  const tps = SEQUENCE / ((performance.now() - started) / 1000)
  await waitFor(async () => (await via.getTx(ids[ids.length - 1]))?.status === 'final', 'the account\'s last transfer to be final', 120_000)
  return tps
}

const forwarded: Array<Awaited<ReturnType<typeof load>>> = []
const direct: Array<Awaited<ReturnType<typeof load>>> = []
try {
  // warm-up (not counted): the verifier pools, the streams' first negotiation, the JIT
  const warm = net.accounts.slice(0, 2)
  await load(plain, [warm[0]])
  await load(validator, [warm[1]])
  let next = 2
  const take = (): KeyPair[] => net.accounts.slice(next, (next += CLIENTS))
  for (let p = 0; p < PAIRS; p++) {
    for (const [via, out, name] of [[plain, forwarded, 'plain node'], [validator, direct, 'validator']] as const) {
      if (next + CLIENTS > net.accounts.length) break
      const r = await load(via, take())
      out.push(r)
      log(`${name}: ${r.latencies.length} admitted, ${r.tps.toFixed(0)} tx/s, p50 ${percentile(r.latencies, 0.5).toFixed(2)} ms`)
      // the next run starts on a quiet ledger: every account's last transfer final here
      for (const id of r.last) await waitFor(async () => (await via.getTx(id))?.status === 'final', 'the run\'s transfers to be final', 120_000)
    }
  }
  const oneByOne: number[] = []
  const pipelined: number[] = []
  const pipelinedDirect: number[] = []
  for (let p = 0; p < PAIRS; p++) {
    const [a, b, c] = net.accounts.slice(next, (next += 3))
    oneByOne.push(await sequence(plain, a, false))
    pipelined.push(await sequence(plain, b, true))
    pipelinedDirect.push(await sequence(validator, c, true))
    log(`one account, ${SEQUENCE} transfers: through the plain node one at a time ${oneByOne[p].toFixed(0)} tx/s, at once ${pipelined[p].toFixed(0)} tx/s; to the validator at once ${pipelinedDirect[p].toFixed(0)} tx/s`)
  }
  await waitFor(() => plain.forwardedHeld === 0, 'the plain node\'s hold to empty', 60_000)
  const all = (runs: typeof forwarded): number[] => runs.flatMap(r => r.latencies).sort((a, b) => a - b)
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
  const f = all(forwarded)
  const d = all(direct)
  const results: BenchResult[] = [
    { bench: 'forwarding', metric: 'admission_p50', value: percentile(f, 0.5), unit: 'ms', baseline: 'the same load submitted to the validator', baseline_value: percentile(d, 0.5) },
    { bench: 'forwarding', metric: 'admission_p99', value: percentile(f, 0.99), unit: 'ms', baseline: 'the same load submitted to the validator', baseline_value: percentile(d, 0.99) },
    { bench: 'forwarding', metric: 'admitted_tps', value: mean(forwarded.map(r => r.tps)), unit: 'tx/s', baseline: `validator, ${CLIENTS} clients one at a time`, baseline_value: mean(direct.map(r => r.tps)) },
    { bench: 'forwarding', metric: 'one_account_pipelined_tps', value: mean(pipelined), unit: 'tx/s', baseline: 'the same account\'s transfers one at a time through the plain node', baseline_value: mean(oneByOne) },
    { bench: 'forwarding', metric: 'one_account_pipelined_direct_tps', value: mean(pipelinedDirect), unit: 'tx/s', baseline: 'the same burst through the plain node', baseline_value: mean(pipelined) }
  ]
  printResults(results, values.json)
  log(`the plain node's hold emptied once every transfer was final (${forwarded.length} + ${direct.length} runs)`)
} finally {
  await plain.stop()
  await libp2p.stop()
  await db.close()
  await rm(dir, { recursive: true, force: true })
  await net.close()
}
