// One start of a ledger on an existing datadir, in a fresh process (bench/history.ts): prints one JSON line with the
// start time (open + DagLedger.start), the LevelDB open's and the graph load's parts of it, the RSS and heap after it, and what the start loaded and decoded. With
// `reindex` the graph index is deleted first, so the start decodes every stored vertex once (a datadir from before
// the index: the full-history load that the window replaces).
import { readFile } from 'node:fs/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { fromHex } from '../../src/core/codec.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { join } from 'node:path'
import { KEY_PREFIXES, keyBytes, openDatabase, sublevel } from '../../src/core/storage.ts'
import { parseGenesis } from '../../src/dag/genesis.ts'
import { DagLedger } from '../../src/dag/ledger.ts'
import type { SignatureVerifier } from '../../src/dag/verify-pool.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const cfg = JSON.parse(await readFile(process.argv[2], 'utf8')) as { dir: string, genesis: unknown, seed: string, window: number, reindex?: boolean }
const genesis = parseGenesis(cfg.genesis)
const identity = generateKeyPair(fromHex(cfg.seed))
// a start checks no signature (stored vertices passed admission): a verifier that is called fails the run
const verifier: SignatureVerifier = { verifyBatch: async () => { throw new Error('a start verified a signature') } }
if (cfg.reindex === true) {
  const db = await openDatabase(cfg.dir)
  const graph = sublevel(db, 'dagGraph')
  await graph.clear()
  await sublevel(db, 'dagMeta').del(keyBytes(KEY_PREFIXES.dagMeta.history))
  await db.close()
}
gc()
const rssBefore = process.memoryUsage().rss
const started = performance.now()
const db = await openDatabase(cfg.dir)
const openMs = performance.now() - started
const ledger = new DagLedger({ db, genesis, identity, verifier, logger: silentLogger() }, { historyWindow: cfg.window, bodyDir: join(cfg.dir, 'bodies') })
await ledger.start()
const startMs = performance.now() - started
gc()
const mem = process.memoryUsage()
process.stdout.write(`${JSON.stringify({ startMs, openMs, rssMb: mem.rss / 2 ** 20, rssGrowthMb: (mem.rss - rssBefore) / 2 ** 20, heapMb: mem.heapUsed / 2 ** 20, loaded: ledger.loadStats.loaded, decoded: ledger.loadStats.decoded, graphMs: ledger.loadStats.ms, inMemory: ledger.memoryView().graphVertices })}\n`)
await ledger.stop()
await db.close()
