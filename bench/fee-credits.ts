// npm run bench:fee-credits [-- --json] [--vertices 3000] [--txs 4] [--window 500]
//
// What applying a vertex costs as the fee pool's unproven credits pile up. Every vertex that pays fees gives the pool
// one unproven credit, and only an epoch close spends them: every 30 s with the chain bridge (thousands of credits
// at 1,000 tx/s on a devnet), never on a ledger without one. LedgerState.applyVertex and a one-vertex decision
// batch, as the node commits them (no fsync), on a chain of --vertices vertices of --txs transfers each; process CPU
// per vertex (LevelDB's threads included) over the last --window vertices, when the pool holds
// (vertices − window) credits and more, against the first --window of a new ledger, when it holds almost none (the
// baseline, the same run, after a warm-up ledger). Flat is a ratio near 1.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { addressFromPublicKey, parseAddress } from '../src/core/address.ts'
import { generateKeyPair } from '../src/core/crypto.ts'
import { openDatabase } from '../src/core/storage.ts'
import { DEFAULT_CONSENSUS, type Genesis } from '../src/dag/genesis.ts'
import { DagGraph } from '../src/dag/graph.ts'
import { LedgerState } from '../src/dag/ledger-state.ts'
import { DagStore } from '../src/dag/store.ts'
import { buildTransfer, encodeTx, txInfo } from '../src/dag/tx.ts'
import { buildVertexInfo, type VertexInfo } from '../src/dag/vertex.ts'
import { type BenchResult, printResults } from './report.ts'

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, vertices: { type: 'string', default: '3000' }, txs: { type: 'string', default: '4' }, window: { type: 'string', default: '500' } } })
const VERTICES = Number(values.vertices)
const TXS = Number(values.txs)
const WINDOW = Math.min(Number(values.window), Math.floor(VERTICES / 2))
const CHAIN = 'bench-fee-credits'
const log = (msg: string): void => { if (!values.json) process.stderr.write(`# ${msg}\n`) }

const author = generateKeyPair(new Uint8Array(32).fill(200))
const keys = Array.from({ length: TXS }, (_, i) => generateKeyPair(new Uint8Array(32).fill(i + 1)))
const addrs = keys.map(k => parseAddress(addressFromPublicKey(k.publicKey)))
const genesisId = new Uint8Array(32).fill(7)
const genesis: Genesis = { chainId: CHAIN, timestampMs: 0, minFee: 1n, allocations: addrs.map(address => ({ address, balance: 10n ** 18n })), validators: [{ publicKey: author.publicKey, weight: 1 }], consensus: DEFAULT_CONSENSUS }

log(`signing ${VERTICES} vertices of ${TXS} transfers (not timed)`)
const chain: VertexInfo[] = []
let parent: Uint8Array = genesisId
for (let v = 0; v < VERTICES; v++) {
  // each account pays the next one: its credit is in the past of its next debit (the vertex after), so the users'
  // lists stay short and only the pool's grows
  const txs = keys.map((k, i) => txInfo(encodeTx(buildTransfer({ chainId: CHAIN, publicKey: k.publicKey, secretKey: k.secretKey, to: addrs[(i + 1) % TXS], amount: 1n, nonce: BigInt(v), fee: 1n }))))
  const info = buildVertexInfo(CHAIN, { author: author.publicKey, secretKey: author.secretKey, parents: [parent], txs, timestampMs: BigInt(v) })
  chain.push(info)
  parent = info.id
}

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000

/** Applies the first `count` vertices to a new ledger; CPU per vertex over those from `from` on. */
async function run (count: number, from: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-bench-credits-'))
  try {
    const db = await openDatabase(join(dir, 'db'))
    const store = new DagStore(db)
    const graph = new DagGraph(Buffer.from(genesisId).toString('hex'))
    const state = new LedgerState(store, graph)
    const g = store.batch()
    await state.initGenesis(g, genesis)
    await g.commit()
    let t0 = process.cpuUsage()
    for (let v = 0; v < count; v++) {
      if (v === from) t0 = process.cpuUsage()
      const info = chain[v]
      graph.add(info.idHex, info.parentHex, 'accepted')
      state.beginRound()
      const b = store.batch()
      const outcomes = await state.applyVertex(b, info)
      if (outcomes.some(o => !o.ok)) throw new Error(`vertex ${v}: a transfer was refused (${outcomes.find(o => !o.ok)?.reason})`)
      await b.commit()
      state.commitRound()
    }
    const ms = cpuMs(process.cpuUsage(t0)) / (count - from)
    await db.close()
    return ms
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await run(Math.min(VERTICES, 4 * WINDOW), 0) // the JIT's warm-up, not counted
const first = await run(WINDOW, 0)
const last = await run(VERTICES, VERTICES - WINDOW)
log(`first ${WINDOW} vertices ${first.toFixed(3)} ms CPU each; last ${WINDOW} (pool holding ${VERTICES - WINDOW}+ credits) ${last.toFixed(3)} ms`)
const results: BenchResult[] = [
  { bench: 'fee-credits', metric: `apply_cpu_per_vertex_after_${VERTICES - WINDOW}_fee_vertices`, value: last, unit: 'ms', baseline: `the first ${WINDOW} vertices (pool nearly empty), same run`, baseline_value: first }
]
printResults(results, values.json)
