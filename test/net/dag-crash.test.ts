import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import test from 'ava'
import { Registry } from 'prom-client'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { generateGenesis, genesisToJson } from '../../src/dag/genesis.ts'
import { DagService } from '../../src/dag/service.ts'
import { openDatabase } from '../../src/core/storage.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { createDagLibp2p, startDagNetworking } from '../helpers/dag-net.ts'
import { FEE_POOL_ACCOUNT } from '../../src/dag/fee-pool.ts'

/** Runs the child until it has reported `finals` final transactions, then SIGKILLs it. Returns the reported ids. */
async function runAndKill (configPath: string, finals: number): Promise<string[]> {
  const child = spawn(process.execPath, [new URL('../helpers/dag-crash-child.ts', import.meta.url).pathname, configPath], { stdio: ['ignore', 'pipe', 'inherit'] })
  const reported: string[] = []
  const lines = createInterface({ input: child.stdout })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => { reject(new Error(`child exited early with ${code}`)) })
    lines.on('line', line => {
      if (line.startsWith('final ')) reported.push(line.slice(6))
      if (reported.length >= finals) resolve()
    })
  })
  child.kill('SIGKILL')
  await exited
  return reported
}

test.serial('kill -9 under load: on restart the ledger is consistent and keeps everything reported final', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-crash-'))
  try {
    const validatorSeed = randomBytes(32)
    const accountSeeds = Array.from({ length: 4 }, () => randomBytes(32))
    const validator = generateKeyPair(validatorSeed)
    const accounts = accountSeeds.map(s => generateKeyPair(s))
    const balance = 10n ** 20n
    const genesis = generateGenesis({
      chainId: 'harmony-crash',
      validatorPublicKeys: [validator.publicKey],
      faucetPublicKey: generateKeyPair().publicKey,
      faucetBalance: 1n,
      allocations: accounts.map(a => ({ address: parseAddress(addressFromPublicKey(a.publicKey)), balance }))
    })
    const configPath = join(dir, 'config.json')
    await writeFile(configPath, JSON.stringify({ dir: join(dir, 'db'), genesis: genesisToJson(genesis), validatorSeed: toHex(validatorSeed), accountSeeds: accountSeeds.map(s => toHex(s)) }))
    const reportedFinal: string[] = []
    for (const target of [40, 120]) {
      reportedFinal.push(...await runAndKill(configPath, target))

      const libp2p = await createDagLibp2p()
      const db = await openDatabase(join(dir, 'db'))
      const dag = new DagService({ libp2p, ...(await startDagNetworking(libp2p, validator, silentLogger())), db, identity: validator, genesis, logger: silentLogger(), registry: new Registry() }, { verifier: { workers: 1 }, bodyDir: join(dir, 'db', 'bodies') })
      await dag.start()
      try {
        for (const id of reportedFinal) t.is((await dag.getTx(id))?.status, 'final', `tx ${id} stays final`)
        const stats = await dag.stats()
        let total = 0n
        let nonces = 0n
        for (const a of accounts) {
          total += await dag.getBalance(addressFromPublicKey(a.publicKey))
          nonces += await dag.getNonce(addressFromPublicKey(a.publicKey))
        }
        // Transfers move value between the four accounts; fees (1,000 each) go to the fee pool, so the supply is
        // conserved. Nonces count the same set.
        const pool = (await dag.reader.account(FEE_POOL_ACCOUNT)).balance
        t.is(BigInt(stats.finalTxs), nonces)
        t.is(pool, 1000n * nonces)
        t.is(total + pool, 4n * balance)
        t.true(stats.finalTxs >= reportedFinal.length)
      } finally {
        await dag.stop()
        await libp2p.stop()
        await db.close()
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
