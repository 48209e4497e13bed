// A one-validator ledger under load with a webhook service, for the webhook kill -9 test. Prints `outbox <n>` (the
// records a previous kill left between a decision's commit and its queueing), `ready`, then `final <txid>` after
// each transaction is reported final. With `selfKillAfter` > 0 it SIGKILLs itself from inside the tx:final
// listener of that many'th final transaction: right after the decision committed, before the webhooks drained it.
import { readFile } from 'node:fs/promises'
import { Registry } from 'prom-client'
import { fromHex } from '../../src/core/codec.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { KEY_PREFIXES, keyBytes, openDatabase, sublevel } from '../../src/core/storage.ts'
import { parseGenesis } from '../../src/dag/genesis.ts'
import { DagService } from '../../src/dag/service.ts'
import { drainLedgerEvents, WebhookService } from '../../src/webhooks/index.ts'
import { createDagLibp2p, startDagNetworking, transferLoad } from './dag-net.ts'

const cfg = JSON.parse(await readFile(process.argv[2], 'utf8')) as { dir: string, genesis: unknown, validatorSeed: string, accountSeeds: string[], url: string, selfKillAfter: number, maxQueuePerHook: number }
const genesis = parseGenesis(cfg.genesis)
const validator = generateKeyPair(fromHex(cfg.validatorSeed))
const accounts = cfg.accountSeeds.map(s => generateKeyPair(fromHex(s)))
const db = await openDatabase(cfg.dir)
const lo = keyBytes(KEY_PREFIXES.webhooks.outbox)
const hi = lo.slice()
hi[hi.length - 1]++
process.stdout.write(`outbox ${(await sublevel(db, 'webhooks').keys({ gte: lo, lt: hi }).all()).length}\n`)
const webhooks = new WebhookService({ db, logger: silentLogger() }, { retryBaseMs: 20, retryMaxMs: 200, allowPrivateTargets: true, maxQueuePerHook: cfg.maxQueuePerHook })
await webhooks.start()
if (webhooks.list().length === 0) await webhooks.add({ url: cfg.url, events: ['tx', 'payment'] })
const libp2p = await createDagLibp2p()
const dag = new DagService({ libp2p, ...(await startDagNetworking(libp2p, validator, silentLogger())), db, identity: validator, genesis, logger: silentLogger(), registry: new Registry() }, { verifier: { workers: 1 }, txDecisionRecords: (tx, d) => webhooks.txDecisionRecords(tx, d) })
drainLedgerEvents(dag, webhooks)
let finals = 0
dag.on('tx:final', e => {
  process.stdout.write(`final ${e.id}\n`)
  if (cfg.selfKillAfter > 0 && ++finals >= cfg.selfKillAfter) process.kill(process.pid, 'SIGKILL')
})
await dag.start()
process.stdout.write('ready\n')
await transferLoad(dag, genesis, accounts)
