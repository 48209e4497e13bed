// npm run bench:market-snapshot [-- --json] [--tasks 1000] [--open 100] [--epochs 10]
//
// The market's part of a state cut (src/market/state/snapshot.ts): what folding it costs each node at each epoch,
// against what the node already pays for the same final market transactions, applying them into its live market
// state (MarketState through its queue, LevelDB on disk). --tasks whole auctions (an announce, 5 commits, 5 reveals,
// an award, a result, a settle: 14 signed transactions each, 5 registered providers) are folded in --epochs epochs
// as the bridge folds them: each epoch from the last one's snapshot, encoded once (its digest and its stored cut).
// The last --open auctions stop after their reveals (tasks in flight at the cut: what a snapshot holds, done tasks
// leave it). Also: the encoded size per task held, and the decode a joining node runs.
import { EventEmitter } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { addressBytesFromPublicKey } from '../src/core/address.ts'
import { generateKeyPair } from '../src/core/crypto.ts'
import { silentLogger } from '../src/core/logger.ts'
import { openDatabase, sublevel } from '../src/core/storage.ts'
import type { CutTx } from '../src/dag/cut-parts.ts'
import { encodeTx, txInfo } from '../src/dag/tx.ts'
import { buildBidCommit, buildBidReveal, buildProviderRegister, buildTaskAnnounce, buildTaskAward, buildTaskResult, buildTaskSettle, MarketState, marketRules, registerMarket } from '../src/market/index.ts'
import { advanceSnapshot, decodeSnapshot, emptySnapshot, encodeSnapshot } from '../src/market/state/snapshot.ts'
import { cpuProvider, cutTxAt, historySigner, matmulAnnounce, queueRecordsOf } from './lib/market-payloads.ts'
import { type BenchResult, printResults } from './report.ts'

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, tasks: { type: 'string', default: '1000' }, open: { type: 'string', default: '100' }, epochs: { type: 'string', default: '10' } } })
const TASKS = Number(values.tasks)
const OPEN = Math.min(TASKS, Number(values.open))
const EPOCHS = Math.max(1, Number(values.epochs))
const BIDDERS = 5
const log = (msg: string): void => { if (!values.json) process.stderr.write(`# ${msg}\n`) }

registerMarket()
const CHAIN = 'harmony-bench-market-snapshot'
const requester = generateKeyPair()
const validator = generateKeyPair()
const providers = Array.from({ length: BIDDERS }, () => generateKeyPair())
const { by } = historySigner(CHAIN)
const at = cutTxAt

log(`signing ${TASKS} auctions (${OPEN} left open)`)
const T0 = 1_700_000_000_000
const salt = new Uint8Array(32).fill(7)
const history: CutTx[] = providers.map((p) => at(buildProviderRegister(by(p), cpuProvider(marketRules.MIN_BOND)), T0))
for (let i = 0; i < TASKS; i++) {
  // a task every 100 ms of market time, its windows 2 s each
  const t0 = T0 + 100 * i
  const { tx, taskId } = buildTaskAnnounce(by(requester), matmulAnnounce())
  history.push(at(tx, t0))
  for (const [j, p] of providers.entries()) history.push(at(buildBidCommit(by(p), taskId, 100n + BigInt(j), salt), t0 + 500))
  const reveals = providers.map((p, j) => buildBidReveal(by(p), { taskId, price: 100n + BigInt(j), salt }))
  for (const r of reveals) history.push(at(r, t0 + 2500))
  if (i >= TASKS - OPEN) continue
  history.push(at(buildTaskAward(CHAIN, validator, by(validator).nonce, { taskId, round: 0, considered: reveals.map((r) => txInfo(encodeTx(r)).id), winners: [addressBytesFromPublicKey(providers[0].publicKey)] }), t0 + 4100))
  history.push(at(buildTaskResult(by(providers[0]), { taskId, round: 0, commitment: new Uint8Array(32).fill(1), outputBlob: new Uint8Array(32).fill(2), outputBytes: 16, profile: 'cpu-ref-v1' }), t0 + 5000))
  history.push(at(buildTaskSettle(CHAIN, validator, by(validator).nonce, { taskId, outcome: 'paid', payouts: [{ provider: addressBytesFromPublicKey(providers[0].publicKey), amount: 100n }], fee: 1n, refund: 900n, requester: addressBytesFromPublicKey(requester.publicKey) }), t0 + 6000))
}

// baseline: the live market state applying the same final transactions from its queue (what every node does now)
const dir = await mkdtemp(join(tmpdir(), 'harmony-bench-market-snapshot-'))
const db = await openDatabase(join(dir, 'db'))
const state = new MarketState({ db, dag: Object.assign(new EventEmitter(), { reader: undefined as never }) as never, logger: silentLogger() })
await state.start()
const market = sublevel(db, 'market')
let seq = 0n
let liveMs = 0
const chunk = Math.ceil(history.length / EPOCHS)
for (let e = 0; e < EPOCHS; e++) {
  const part = history.slice(e * chunk, (e + 1) * chunk)
  const batch = db.batch()
  for (const x of part) {
    seq++
    for (const r of queueRecordsOf(x, seq)) batch.put(r.key, r.value, { sublevel: market })
  }
  await batch.write()
  const t = performance.now()
  await state.drain()
  liveMs += performance.now() - t
}
await state.stop()
await db.close()
await rm(dir, { recursive: true, force: true })

// the fold, epoch by epoch from the last snapshot, each encoded once (the bridge's digest and stored cut)
let snapshot = emptySnapshot()
let foldMs = 0
let encodeMs = 0
let bytes: Uint8Array = new Uint8Array(0)
for (let e = 0; e < EPOCHS; e++) {
  const t = performance.now()
  snapshot = await advanceSnapshot(snapshot, history.slice(e * chunk, (e + 1) * chunk), { validatorKeys: () => [] })
  const t1 = performance.now()
  bytes = encodeSnapshot(snapshot)
  foldMs += t1 - t
  encodeMs += performance.now() - t1
}
const t2 = performance.now()
const decoded = decodeSnapshot(bytes)
const decodeMs = performance.now() - t2
log(`snapshot: ${decoded.tasks.size} tasks, ${decoded.providers.size} providers, ${decoded.parked.length} parked, ${bytes.length} bytes`)

const n = history.length
const results: BenchResult[] = [
  { bench: 'market-snapshot', metric: 'fold_us_per_tx', value: 1000 * foldMs / n, unit: 'µs/tx', baseline: 'live market state apply (queue, LevelDB)', baseline_value: 1000 * liveMs / n },
  { bench: 'market-snapshot', metric: 'fold_and_encode_us_per_tx', value: 1000 * (foldMs + encodeMs) / n, unit: 'µs/tx', baseline: 'live market state apply (queue, LevelDB)', baseline_value: 1000 * liveMs / n },
  { bench: 'market-snapshot', metric: 'encoded_bytes_per_task', value: bytes.length / Math.max(1, decoded.tasks.size), unit: 'B', baseline: 'its 11 signed transactions so far', baseline_value: history.slice(-(1 + 2 * BIDDERS)).reduce((s, x) => s + x.tx.encoded.length, 0) },
  { bench: 'market-snapshot', metric: 'decode_ms', value: decodeMs, unit: 'ms', baseline: `the last epoch's encode (${decoded.tasks.size} tasks)`, baseline_value: encodeMs / EPOCHS }
]
printResults(results, values.json)
