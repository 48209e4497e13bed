// A one-validator ledger under continuous load, for the kill -9 test. Prints `final <txid>` after each
// transaction is reported final (the event fires after its LevelDB batch committed).
import { readFile } from 'node:fs/promises'
import { Registry } from 'prom-client'
import { addressFromPublicKey } from '../../src/core/address.ts'
import { fromHex } from '../../src/core/codec.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { parseGenesis } from '../../src/dag/genesis.ts'
import { DagService } from '../../src/dag/service.ts'
import { openDatabase } from '../../src/core/storage.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { createDagLibp2p, startDagNetworking, transfer } from './dag-net.ts'

const cfg = JSON.parse(await readFile(process.argv[2], 'utf8')) as { dir: string, genesis: unknown, validatorSeed: string, accountSeeds: string[] }
const genesis = parseGenesis(cfg.genesis)
const validator = generateKeyPair(fromHex(cfg.validatorSeed))
const accounts = cfg.accountSeeds.map(s => generateKeyPair(fromHex(s)))
const libp2p = await createDagLibp2p()
const db = await openDatabase(cfg.dir)
const dag = new DagService({ libp2p, ...(await startDagNetworking(libp2p, validator, silentLogger())), db, identity: validator, genesis, logger: silentLogger(), registry: new Registry() }, { verifier: { workers: 1 } })
await dag.start()
dag.on('tx:final', e => { process.stdout.write(`final ${e.id}\n`) })
process.stdout.write('ready\n')
const nonces = await Promise.all(accounts.map(async a => await dag.getNonce(addressFromPublicKey(a.publicKey))))
for (;;) {
  await Promise.all(accounts.map(async (a, i) => {
    const to = accounts[(i + 1) % accounts.length]
    try {
      await dag.submitTransaction(transfer(genesis, a, to, 7n, nonces[i]))
      nonces[i]++
    } catch {
      // e.g. a nonce already taken by a vertex stored before the crash: resync from the ledger
      await new Promise(resolve => setTimeout(resolve, 20))
      nonces[i] = await dag.getNonce(addressFromPublicKey(a.publicKey))
    }
  }))
}
