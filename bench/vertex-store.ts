// npm run bench:vertex-store [-- --json] [--vertices 3000] [--txs 27] [--rounds 2]
//
// What storing vertex bodies costs a node: `DagStore.putVertex` with the records a decision writes per transaction
// (a tx record, a nonce-index entry, an account, a conflict winner: ~100-byte values), one batch per vertex, for
// --vertices vertices of --txs transfers each (5.3 KB per signed transfer: 27 is what a node built at 1,000 tx/s
// offered on the 4-node devnet, docs/ledger-profile.md). Bodies in the vertex body log (src/dag/body-log.ts, what
// a node does) against bodies in the LevelDB (the baseline, what it did), in the same run, alternating --rounds
// times: process CPU per vertex (LevelDB's flush and compaction threads included) and bytes written to disk per
// body byte (/proc/self/io: the log, the tables, every compaction, the segments). Without fsync (`sync-writes`
// fsyncs decisions, which both variants would pay alike).
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { openDatabase } from '../src/core/storage.ts'
import { VertexBodyLog } from '../src/dag/body-log.ts'
import { DagStore } from '../src/dag/store.ts'
import { type BenchResult, printResults } from './report.ts'

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, vertices: { type: 'string', default: '3000' }, txs: { type: 'string', default: '27' }, rounds: { type: 'string', default: '2' } } })
const VERTICES = Number(values.vertices)
const TXS = Number(values.txs)
const ROUNDS = Math.max(1, Number(values.rounds))
const TX_BYTES = 5_300
const log = (msg: string): void => { if (!values.json) process.stderr.write(`# ${msg}\n`) }

// incompressible, as signed transactions are (ML-DSA keys and signatures); a pool reused so generating it is not timed
const bodies = Array.from({ length: 32 }, () => randomBytes(TXS * TX_BYTES + 200))
const small = Array.from({ length: 256 }, () => randomBytes(100))

async function writtenBytes (): Promise<number> {
  const m = /write_bytes: (\d+)/.exec(await readFile('/proc/self/io', 'utf8'))
  return m === null ? Number.NaN : Number(m[1])
}

async function run (withLog: boolean): Promise<{ cpuMsPerVertex: number, writtenPerByte: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-bench-vstore-'))
  const db = await openDatabase(join(dir, 'db'))
  const bodyLog = withLog ? new VertexBodyLog(join(dir, 'bodies')) : undefined
  const store = new DagStore(db, bodyLog)
  const sub = store.sublevelOf('dagTx')
  let bodyBytes = 0
  const io0 = await writtenBytes()
  const cpu0 = process.cpuUsage()
  for (let v = 0; v < VERTICES; v++) {
    const b = store.batch()
    const body = bodies[v % bodies.length]
    store.putVertex(b, randomBytes(32), body, [])
    bodyBytes += body.length
    for (let i = 0; i < TXS * 4; i++) b.put(sub, randomBytes(40), small[(v + i) % small.length])
    await b.commit()
  }
  // what the writes left for LevelDB's background threads (a memtable flush, compactions) is counted too
  await db.close()
  await bodyLog?.close()
  const cpu = process.cpuUsage(cpu0)
  const written = (await writtenBytes()) - io0
  await rm(dir, { recursive: true, force: true })
  return { cpuMsPerVertex: (cpu.user + cpu.system) / 1000 / VERTICES, writtenPerByte: written / bodyBytes }
}

log(`${VERTICES} vertices of ${TXS} transfers (${Math.round((TXS * TX_BYTES) / 1024)} KiB bodies), ${ROUNDS} rounds`)
const level: Array<{ cpuMsPerVertex: number, writtenPerByte: number }> = []
const logged: Array<{ cpuMsPerVertex: number, writtenPerByte: number }> = []
for (let r = 0; r < ROUNDS; r++) {
  level.push(await run(false))
  logged.push(await run(true))
  log(`round ${r + 1}: LevelDB ${level[r].cpuMsPerVertex.toFixed(3)} ms/vertex, ${level[r].writtenPerByte.toFixed(2)} B/B; body log ${logged[r].cpuMsPerVertex.toFixed(3)} ms/vertex, ${logged[r].writtenPerByte.toFixed(2)} B/B`)
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
const results: BenchResult[] = [
  { bench: 'vertex-store', metric: 'cpu_per_vertex_body_log', value: mean(logged.map(x => x.cpuMsPerVertex)), unit: 'ms', baseline: 'bodies in the LevelDB, same run', baseline_value: mean(level.map(x => x.cpuMsPerVertex)) },
  { bench: 'vertex-store', metric: 'disk_bytes_per_body_byte_body_log', value: mean(logged.map(x => x.writtenPerByte)), unit: 'B/B', baseline: 'bodies in the LevelDB, same run', baseline_value: mean(level.map(x => x.writtenPerByte)) }
]
printResults(results, values.json)
