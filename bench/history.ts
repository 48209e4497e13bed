// npm run bench:history [-- --json] [--txs 10000,100000] [--batch 32] [--window 128] [--no-full] [--rule commit|avalanche]
//
// Flat memory and start time (issue 11): one validator ingests real signed transfers (verified in the verifier
// pool, applied, stored in LevelDB, finalized) in vertices of --batch, up to each history size of --txs in turn.
// After each size the ledger closes and a fresh process starts it on the datadir (bench/lib/history-start.ts): start
// time (the median of three starts, each in its own process: the first after the ingest stopped, when LevelDB
// recovers its log, then two of the idle datadir), the LevelDB open's and the graph load's parts of it, RSS and heap after the start,
// vertices loaded and bodies decoded. Baselines from the same run: every size
// against the first (flat means a ratio near 1), and the last size's windowed start against a full-history start of
// the same datadir (its graph index deleted, so the start decodes every vertex: the load before this change).
// A soak: --txs 10000,1000000 --batch 128 --no-full --no-sync (not in CI; --no-full skips the full-history start,
// which at 1M transactions would hold every vertex body, ~5 GiB, in memory: the load before the index, not a figure
// of it).
// State sync (--sync, default on): after the last size, the cut of the last vertex (what a checkpoint of it would
// anchor) is computed, encoded and installed in an empty datadir, whose ledger then starts; the baseline is what a
// joining node does without it: a fresh ledger that checks and applies every vertex body of the history. Both must
// end at the source's state root.
// --rule: the genesis consensus rule (commit unless named, as for any new network). Under the commit rule the sole
// validator's next vertex commits the ones below it (a drain of empty vertices ends each size), the cut is the state
// after the last committed slot (slot-cut.ts) and the history window is at least 200 heights (the rule's kept rounds
// must stay in memory: ledger.ts); under Avalanche each vertex is decided by hand with polls (finalizeAll).
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parseArgs } from 'node:util'
import { addressFromPublicKey, parseAddress } from '../src/core/address.ts'
import { randomBytes } from 'node:crypto'
import { toHex } from '../src/core/codec.ts'
import { generateKeyPair } from '../src/core/crypto.ts'
import { silentLogger } from '../src/core/logger.ts'
import { openDatabase } from '../src/core/storage.ts'
import { type ConsensusRule, generateGenesis, genesisToJson } from '../src/dag/genesis.ts'
import { DagLedger } from '../src/dag/ledger.ts'
import { ledgerReader } from '../src/dag/service.ts'
import { advanceCut, encodeCut, genesisCut, type StateCut, syncDigest } from '../src/dag/state-cut.ts'
import { advanceCutToSlot } from '../src/dag/slot-cut.ts'
import { installCut } from '../src/dag/state-sync.ts'
import { fromHex } from '../src/core/codec.ts'
import { VerifyPool } from '../src/dag/verify-pool.ts'
import { vertexInfo } from '../src/dag/vertex.ts'
import { transfer, finalizeAll } from './lib/ledger-net.ts'
import { type BenchResult, printResults } from './report.ts'

const { values } = parseArgs({
  allowNegative: true,
  options: {
    full: { type: 'boolean', default: true },
    sync: { type: 'boolean', default: true },
    json: { type: 'boolean', default: false },
    txs: { type: 'string', default: '10000,100000' },
    batch: { type: 'string', default: '32' },
    window: { type: 'string', default: '128' },
    rule: { type: 'string', default: 'commit' }
  }
})
const SIZES = values.txs.split(',').map(Number).sort((a, b) => a - b)
const BATCH = Number(values.batch)
const WINDOW = Number(values.window)
const SENDERS = 64
if (values.rule !== 'commit' && values.rule !== 'avalanche') throw new Error(`--rule: commit or avalanche, not ${values.rule}`)
const RULE: ConsensusRule = values.rule
// a progress line this often (a soak runs for hours)
const PROGRESS_EVERY = 50_000
const log = (msg: string): void => { if (!values.json) process.stderr.write(`# ${msg}\n`) }

const seed = randomBytes(32)
const validator = generateKeyPair(seed)
const senders = Array.from({ length: SENDERS }, () => generateKeyPair())
const genesis = generateGenesis({
  consensus: { rule: RULE },
  chainId: 'harmony-bench-history',
  validatorPublicKeys: [validator.publicKey],
  faucetPublicKey: generateKeyPair().publicKey,
  faucetBalance: 1n,
  allocations: senders.map(k => ({ address: parseAddress(addressFromPublicKey(k.publicKey)), balance: 10n ** 15n }))
})
const dir = await mkdtemp(join(tmpdir(), 'harmony-bench-history-'))
const dbDir = join(dir, 'db')
const pool = new VerifyPool({ workers: 2 })
await pool.start()

interface StartFigures { startMs: number, openMs: number, graphMs: number, rssMb: number, rssGrowthMb: number, heapMb: number, loaded: number, decoded: number, inMemory: number }

/** Starts a datadir takes: the first after the ingest stopped (LevelDB recovers its log then), and again on it idle. */
const START_RUNS = 3

/** START_RUNS starts, each in a fresh process: the one with the median start time (all of them logged). */
async function measureStart (reindex = false): Promise<StartFigures> {
  const runs: StartFigures[] = []
  for (let i = 0; i < (reindex ? 1 : START_RUNS); i++) runs.push(await startOnce(reindex))
  log(`starts: ${runs.map(r => `${r.startMs.toFixed(0)} ms (open ${r.openMs.toFixed(0)}, graph ${r.graphMs})`).join(', ')}`)
  return [...runs].sort((a, b) => a.startMs - b.startMs)[Math.floor((runs.length - 1) / 2)]
}

async function startOnce (reindex: boolean): Promise<StartFigures> {
  const cfgFile = join(dir, 'start.json')
  await writeFile(cfgFile, JSON.stringify({ dir: dbDir, genesis: genesisToJson(genesis), seed: toHex(seed), window: WINDOW, reindex }))
  const { stdout } = await promisify(execFile)(process.execPath, [join(import.meta.dirname, 'lib', 'history-start.ts'), cfgFile], { maxBuffer: 1 << 20 })
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as StartFigures
}

/**
 * The source's cut at its last vertex, installed in an empty datadir and started (the join with state sync),
 * against a fresh ledger checking and applying every stored vertex body (the join without). Both must reach the
 * source's state root.
 */
async function measureSync (): Promise<{ cutMs: number, cutBytes: number, syncMs: number, replayMs: number, replayBytes: number }> {
  const open = async (path: string): Promise<{ ledger: DagLedger, close: () => Promise<void> }> => {
    const db = await openDatabase(path)
    const ledger = new DagLedger({ db, genesis, identity: validator, verifier: pool, logger: silentLogger() }, { historyWindow: WINDOW, bodyDir: join(path, 'bodies') })
    return { ledger, close: async () => { await ledger.stop(); await db.close() } }
  }
  const src = await open(dbDir)
  await src.ledger.start()
  const root = (await src.ledger.stats()).stateRoot
  const t0 = performance.now()
  const reader = ledgerReader(src.ledger)
  let cut: StateCut
  if (RULE === 'commit') {
    const last = (await reader.slotLeaders(-1, Number.MAX_SAFE_INTEGER)).at(-1)
    if (last === undefined) throw new Error('no committed slot')
    cut = await advanceCutToSlot(reader, genesisCut(reader), last.slot)
  } else {
    cut = await advanceCut(reader, genesisCut(reader), src.ledger.graph.tips().sort((a, b) => b.height - a.height)[0].id)
  }
  const bytes = encodeCut(cut)
  log(`cut of ${cut.vertexId.slice(0, 16)}: ${cut.accounts.size} accounts, ${bytes.length} bytes, digest ${syncDigest(cut).slice(0, 16)}`)
  const cutMs = performance.now() - t0
  const synced = await open(join(dir, 'synced'))
  const t1 = performance.now()
  await installCut({ store: synced.ledger.store, history: synced.ledger.history, genesisId: fromHex(synced.ledger.genesisIdHex) }, cut)
  await synced.ledger.start()
  const syncMs = performance.now() - t1
  if ((await synced.ledger.stats()).stateRoot !== root) throw new Error('the synced ledger is not at the source\'s state root')
  await synced.close()
  const replayed = await open(join(dir, 'replayed'))
  await replayed.ledger.start()
  const t2 = performance.now()
  let replayBytes = 0
  for await (const id of src.ledger.history.idsFromHeight(1)) {
    const body = await src.ledger.getVertexBytes(id)
    if (body === undefined) throw new Error(`no body of ${id}`)
    replayBytes += body.length
    const info = vertexInfo(body)
    await replayed.ledger.checkStandalone(info)
    await replayed.ledger.insertVertex(info)
    await decide(replayed.ledger)
  }
  const replayMs = performance.now() - t2
  if ((await replayed.ledger.stats()).stateRoot !== root) throw new Error('the replayed ledger is not at the source\'s state root')
  await replayed.close()
  await src.close()
  log(`join: sync ${syncMs.toFixed(0)} ms (cut ${cutMs.toFixed(0)} ms, ${bytes.length} bytes) vs replay ${replayMs.toFixed(0)} ms (${replayBytes} bytes)`)
  return { cutMs, cutBytes: bytes.length, syncMs, replayMs, replayBytes }
}

/** Avalanche: the sole validator decides by hand (its polls); the commit rule decided at the insert already. */
async function decide (ledger: DagLedger): Promise<void> {
  if (RULE === 'avalanche') await finalizeAll(ledger, Number.POSITIVE_INFINITY)
}

const figures: Array<{ txs: number, vertices: number, inMemoryRunning: number, start: StartFigures }> = []
let sent = 0
try {
  for (const size of SIZES) {
    const db = await openDatabase(dbDir)
    const ledger = new DagLedger({ db, genesis, identity: validator, verifier: pool, logger: silentLogger() }, { historyWindow: WINDOW, bodyDir: join(dbDir, 'bodies') })
    await ledger.start()
    const t0 = performance.now()
    const from = sent
    while (sent < size) {
      const n = Math.min(BATCH, size - sent)
      const txs = Array.from({ length: n }, (_, j) => {
        const i = sent + j
        return transfer(genesis, senders[i % SENDERS], senders[(i + 1) % SENDERS], 1n, BigInt(Math.floor(i / SENDERS)))
      })
      await Promise.all(txs.map(async tx => await ledger.submitTransaction(tx)))
      await ledger.buildVertex()
      await decide(ledger)
      sent += n
      if (sent % PROGRESS_EVERY < n) log(`${sent} of ${size} final (${((performance.now() - t0) / 1000).toFixed(0)} s; rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB)`)
    }
    // under the commit rule the last vertices wait for two more rounds: empty ones, as an idle validator's proposer builds
    for (let i = 0; i < 8 && RULE === 'commit' && Number((await ledger.stats()).finalTxs) < size; i++) await ledger.buildVertex({ empty: true })
    const stats = await ledger.stats()
    if (stats.finalTxs !== size) throw new Error(`expected ${size} final transactions, have ${stats.finalTxs}`)
    const inMemoryRunning = ledger.memoryView().graphVertices
    log(`${size} final tx (${stats.finalized} vertices): ingested ${sent - from} in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${inMemoryRunning} vertices in memory`)
    await ledger.stop()
    await db.close()
    const start = await measureStart()
    log(`start after ${size}: ${JSON.stringify(start)}`)
    figures.push({ txs: size, vertices: stats.finalized, inMemoryRunning, start })
  }
  const sync = values.sync ? await measureSync() : undefined
  const full = values.full ? await measureStart(true) : undefined
  if (full !== undefined) log(`full-history start after ${SIZES.at(-1)}: ${JSON.stringify(full)}`)
  const results: BenchResult[] = []
  const [first] = figures
  const base = `after ${first.txs} final tx`
  for (const f of figures.slice(1)) {
    const at = `after_${f.txs}_tx`
    results.push(
      { bench: 'history', metric: `start_ms_${at}`, value: f.start.startMs, unit: 'ms', baseline: base, baseline_value: first.start.startMs },
      { bench: 'history', metric: `start_open_ms_${at}`, value: f.start.openMs, unit: 'ms', baseline: base, baseline_value: first.start.openMs },
      { bench: 'history', metric: `start_graph_ms_${at}`, value: f.start.graphMs, unit: 'ms', baseline: base, baseline_value: first.start.graphMs },
      { bench: 'history', metric: `start_rss_${at}`, value: f.start.rssMb, unit: 'MiB', baseline: base, baseline_value: first.start.rssMb },
      { bench: 'history', metric: `start_heap_${at}`, value: f.start.heapMb, unit: 'MiB', baseline: base, baseline_value: first.start.heapMb },
      { bench: 'history', metric: `start_loaded_vertices_${at}`, value: f.start.loaded, unit: 'vertices', baseline: base, baseline_value: first.start.loaded },
      { bench: 'history', metric: `in_memory_vertices_running_${at}`, value: f.inMemoryRunning, unit: 'vertices', baseline: base, baseline_value: first.inMemoryRunning },
      { bench: 'history', metric: `stored_vertices_${at}`, value: f.vertices, unit: 'vertices', baseline: base, baseline_value: first.vertices }
    )
  }
  const last = figures.at(-1) as (typeof figures)[number]
  const fullBase = `full-history start (every vertex decoded) after ${last.txs} final tx`
  if (full !== undefined) {
    results.push(
      { bench: 'history', metric: `start_ms_windowed_after_${last.txs}_tx`, value: last.start.startMs, unit: 'ms', baseline: fullBase, baseline_value: full.startMs },
      { bench: 'history', metric: `start_rss_windowed_after_${last.txs}_tx`, value: last.start.rssMb, unit: 'MiB', baseline: fullBase, baseline_value: full.rssMb },
      { bench: 'history', metric: `start_heap_windowed_after_${last.txs}_tx`, value: last.start.heapMb, unit: 'MiB', baseline: fullBase, baseline_value: full.heapMb },
      { bench: 'history', metric: `start_decoded_windowed_after_${last.txs}_tx`, value: last.start.decoded, unit: 'vertices', baseline: fullBase, baseline_value: full.decoded }
    )
  }
  if (sync !== undefined) {
    const at = `after_${last.txs}_tx`
    const replay = `replaying every vertex (checked, applied, finalized) after ${last.txs} final tx`
    results.push(
      { bench: 'history', metric: `sync_join_ms_${at}`, value: sync.syncMs, unit: 'ms', baseline: replay, baseline_value: sync.replayMs },
      { bench: 'history', metric: `sync_bytes_${at}`, value: sync.cutBytes, unit: 'bytes', baseline: `vertex bodies a replay checks after ${last.txs} final tx`, baseline_value: sync.replayBytes },
      { bench: 'history', metric: `sync_cut_compute_ms_${at}`, value: sync.cutMs, unit: 'ms', baseline: replay, baseline_value: sync.replayMs }
    )
  }
  printResults(results, values.json)
} finally {
  await pool.stop()
  // a failed run may leave a ledger open: its error, not the cleanup's, is the one to see
  await rm(dir, { recursive: true, force: true }).catch((err: unknown) => { log(`cleanup: ${(err as Error).message}`) })
}
