// One ledger node in its own process (bench:ledger's devnet, the kill -9 catch-up test). Line protocol:
//   stdout: `addr <multiaddr>`, `peers <n>`, `final <txid>`, `refused <txid> <code>`, `stats <json>`
//   stdin:  `dial <multiaddr>`, `submit <txid> <hex>`, `stats`, `metrics <file>` (Prometheus text -> file), `exit`
//   consensus (test/net/dag-partition, dag-quorum): stdin `health` -> stdout `health <json>` (live, stakes, polls);
//   `tx <txid>` -> `tx <txid> <pending|final|rejected|unknown>`; `hangup <multiaddr>` closes the connection to it;
//   `conflicts` -> `conflicts <json>`: the undecided conflict sets of the consensus core (a test's failure report)
import { readFile, writeFile } from 'node:fs/promises'
// crash campaign (bench/lib/crash-campaign.ts): stdout `accepted <txid>`, `check <final> <missing>`, `balances <json>`;
//   stdin `check <file of tx ids>`, `balances <file of addresses>`; config `syncWrites`
import { createInterface } from 'node:readline'
import { multiaddr } from '@multiformats/multiaddr'
import { Registry } from 'prom-client'
import { fromHex } from '../../src/core/codec.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { parseGenesis } from '../../src/dag/genesis.ts'
import { DagService } from '../../src/dag/service.ts'
import { openDatabase } from '../../src/core/storage.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { createDagLibp2p, startDagNetworking } from './ledger-net.ts'

const cfg = JSON.parse(await readFile(process.argv[2], 'utf8')) as { dir: string, genesis: unknown, seed: string, syncWrites?: boolean, historyWindow?: number }
const genesis = parseGenesis(cfg.genesis)
const identity = generateKeyPair(fromHex(cfg.seed))
const libp2p = await createDagLibp2p()
const db = await openDatabase(cfg.dir)
const logger = silentLogger()
const registry = new Registry()
const networking = await startDagNetworking(libp2p, identity, logger, registry)
const dag = new DagService({ libp2p, ...networking, db, identity, genesis, logger, registry }, { verifier: { workers: 1 }, bodyDir: `${cfg.dir}.bodies`, ...(cfg.syncWrites !== undefined ? { syncWrites: cfg.syncWrites } : {}), ...(cfg.historyWindow !== undefined ? { historyWindow: cfg.historyWindow } : {}) })
await dag.start()
// lines written in one macrotask go out in one write: at 1,000 tx/s a write (a syscall) per final transaction was
// 2–3% of a node's CPU in its profile, charged to the node by the bench's CPU figure
let pending: string[] = []
const flush = (): void => { const lines = pending; pending = []; process.stdout.write(lines.join('')) }
const out = (line: string): void => { if (pending.push(`${line}\n`) === 1) setImmediate(flush) }
dag.on('tx:final', e => { out(`final ${e.id}`) })
out(`addr ${libp2p.getMultiaddrs()[0].toString()}`)
let lastPeers = -1
const timer = setInterval(() => {
  const n = dag.validatorPeers.size
  if (n !== lastPeers) { lastPeers = n; out(`peers ${n}`) }
}, 100)
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, a, b] = line.split(' ')
  if (cmd === 'dial') await libp2p.dial(multiaddr(a)).catch(() => undefined)
  else if (cmd === 'submit') {
    dag.submitTransaction(fromHex(b), { client: true }).then(() => { out(`accepted ${a}`) }, (err: { code?: string }) => { out(`refused ${a} ${err.code ?? 'ERROR'}`) })
  } else if (cmd === 'stats') out(`stats ${JSON.stringify(await dag.stats())}`)
  else if (cmd === 'metrics') { await writeFile(a, await registry.metrics()); out(`metrics ${a}`) }
  else if (cmd === 'health') out(`health ${JSON.stringify(dag.consensusHealth())}`)
  else if (cmd === 'rounds') out(`rounds ${JSON.stringify(dag.ledger.roundView() ?? null)}`)
  else if (cmd === 'tx') out(`tx ${a} ${(await dag.getTx(a).catch(() => undefined))?.status ?? 'unknown'}`)
  else if (cmd === 'conflicts') out(`conflicts ${JSON.stringify(conflicts())}`)
  else if (cmd === 'hangup') await libp2p.hangUp(multiaddr(a)).catch(() => undefined)
  else if (cmd === 'check') out(`check ${await checkFinal(a)}`)
  else if (cmd === 'balances') out(`balances ${await balances(a)}`)
  else if (cmd === 'exit') break
}
clearInterval(timer)

/** The consensus core's undecided conflict sets and processing vertices, read from its private state: a diagnostic. */
function conflicts (): unknown {
  const core = dag.ledger.core as unknown as {
    sets: Map<string, { members: Set<string>, chits: Map<string, number>, pref: string, last: string | null, cnt: number, decided: string | null }>
    processing: Set<string>
    held: Set<string>
    instanceTx: Map<string, string>
    pollCandidates: () => string[]
  }
  const sets = [...core.sets.values()].filter(cs => cs.decided === null && cs.members.size > 1).slice(0, 20).map(cs => ({
    pref: cs.pref,
    last: cs.last,
    cnt: cs.cnt,
    members: [...cs.members].map(m => ({ key: m, tx: core.instanceTx.get(m), chits: cs.chits.get(m) ?? 0 }))
  }))
  return { sets, processing: [...core.processing].slice(0, 50), held: [...core.held], frontier: core.pollCandidates(), health: dag.consensusHealth() }
}

/** How many of the tx ids listed in `file` are final here, and how many are not: `<final> <missing>`. */
async function checkFinal (file: string): Promise<string> {
  let final = 0
  let missing = 0
  for (const id of (await readFile(file, 'utf8')).split('\n').filter(l => l !== '')) {
    // the stored record alone: getTx also decodes the transaction's vertex, which made a check of a long soak's
    // 30,000 ids outlast the campaign's answer timeout
    if ((await dag.ledger.store.getTxRecord(fromHex(id, 'tx id')))?.status === 'final') final++
    else missing++
  }
  return `${final} ${missing}`
}

/** `{ address: [balance, nonce] }` (decimal strings) of every address listed in `file`. */
async function balances (file: string): Promise<string> {
  const outMap: Record<string, [string, string]> = {}
  for (const a of (await readFile(file, 'utf8')).split('\n').filter(l => l !== '')) {
    outMap[a] = [(await dag.getBalance(a)).toString(), (await dag.getNonce(a)).toString()]
  }
  return JSON.stringify(outMap)
}
await dag.stop()
await networking.peerBinding.stop()
await libp2p.stop()
await db.close()
process.exit(0)
