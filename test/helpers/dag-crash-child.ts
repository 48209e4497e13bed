// A one-validator ledger under continuous load, for the kill -9 test. Prints `final <txid>` after each
// transaction is reported final (the event fires after its LevelDB batch committed).
import { readFile } from 'node:fs/promises'
import { Registry } from 'prom-client'
import { fromHex } from '../../src/core/codec.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { parseGenesis } from '../../src/dag/genesis.ts'
import { DagService } from '../../src/dag/service.ts'
import { join } from 'node:path'
import { openDatabase } from '../../src/core/storage.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { createDagLibp2p, startDagNetworking, transferLoad } from './dag-net.ts'

const cfg = JSON.parse(await readFile(process.argv[2], 'utf8')) as { dir: string, genesis: unknown, validatorSeed: string, accountSeeds: string[] }
const genesis = parseGenesis(cfg.genesis)
const validator = generateKeyPair(fromHex(cfg.validatorSeed))
const accounts = cfg.accountSeeds.map(s => generateKeyPair(fromHex(s)))
const libp2p = await createDagLibp2p()
const db = await openDatabase(cfg.dir)
const dag = new DagService({ libp2p, ...(await startDagNetworking(libp2p, validator, silentLogger())), db, identity: validator, genesis, logger: silentLogger(), registry: new Registry() }, { verifier: { workers: 1 }, bodyDir: join(cfg.dir, 'bodies') })
await dag.start()
dag.on('tx:final', e => { process.stdout.write(`final ${e.id}\n`) })
process.stdout.write('ready\n')
await transferLoad(dag, genesis, accounts)
