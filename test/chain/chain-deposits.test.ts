import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { getBytes, keccak256, type Provider, toUtf8Bytes } from 'ethers'
import { Registry } from 'prom-client'
import { dagAccountFromAddressBytes } from '../../src/chain/dag-account.ts'
import { connectContracts } from '../../src/chain/bindings.ts'
import { AGC_UNIT, deployContracts } from '../../src/chain/deploy.ts'
import { checkDeposit, type Deposit, DepositWatcher } from '../../src/chain/deposit-watcher.ts'
import { type BinaryDb, openDatabase, sublevel } from '../../src/core/storage.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { type ChainFixture, startChainFixture } from '../helpers/anvil.ts'
import { mined } from '../helpers/chain-revert.ts'

let chain: ChainFixture
let snap = ''
let dir = ''

test.before(async () => { chain = await startChainFixture() })
test.after.always(async () => { await chain?.stop() })
test.beforeEach(async () => {
  snap = await chain.snapshot()
  dir = await mkdtemp(join(tmpdir(), 'harmony-deposits-'))
})
test.afterEach.always(async () => {
  await chain.revert(snap)
  await rm(dir, { recursive: true, force: true })
})

const ALICE = dagAccountFromAddressBytes(getBytes(keccak256(toUtf8Bytes('alice-dag'))).slice(0, 20))
const BOB = dagAccountFromAddressBytes(getBytes(keccak256(toUtf8Bytes('bob-dag'))).slice(0, 20))

async function deposit (account: string, amount: bigint): Promise<string> {
  await mined(chain.contracts.agc.approve(chain.deployment.settlement, amount))
  const tx = await chain.contracts.settlement.deposit(account, amount)
  await tx.wait()
  return tx.hash
}

function watcher (db: BinaryDb, sink: (d: Deposit) => Promise<void>, confirmations: number, provider: Provider = chain.provider): DepositWatcher {
  return new DepositWatcher(
    { provider, settlement: chain.deployment.settlement, db: sublevel(db, 'chain'), sink, logger: silentLogger(), registry: new Registry() },
    { confirmations, pollIntervalMs: 20, startBlock: chain.deployment.deployBlock }
  )
}

test.serial('a deposit is delivered once it has the required confirmations', async (t) => {
  const db = await openDatabase(join(dir, 'db'))
  const seen: Deposit[] = []
  const w = watcher(db, async (d) => { seen.push(d) }, 3)
  const txHash = await deposit(ALICE, 5n * AGC_UNIT)
  t.is(await w.poll(), 0)
  await chain.mine(1)
  t.is(await w.poll(), 0)
  await chain.mine(1)
  t.is(await w.poll(), 1)
  t.is(seen.length, 1)
  t.like(seen[0], { txHash, dagAccount: ALICE, amount: 5n * AGC_UNIT, depositId: 0n, from: chain.deployer.address })
  t.is(typeof seen[0].logIndex, 'number')
  t.is(await w.poll(), 0)
  await db.close()
})

test.serial('scans in bounded block ranges and delivers deposits in chain order', async (t) => {
  const db = await openDatabase(join(dir, 'db'))
  const seen: bigint[] = []
  const w = new DepositWatcher(
    { provider: chain.provider, settlement: chain.deployment.settlement, db: sublevel(db, 'chain'), sink: async (d) => { seen.push(d.amount) }, logger: silentLogger() },
    { confirmations: 1, maxBlockRange: 2, startBlock: chain.deployment.deployBlock }
  )
  for (const amount of [1n, 2n, 3n, 4n, 5n]) {
    await deposit(amount % 2n === 0n ? ALICE : BOB, amount)
    await chain.mine(1)
  }
  t.is(await w.poll(), 5)
  t.deepEqual(seen, [1n, 2n, 3n, 4n, 5n])
  t.is(w.scannedBlock(), await chain.provider.getBlockNumber())
  await db.close()
})

test.serial('a node restarted during a deposit credits it exactly once', async (t) => {
  const credited: Deposit[] = []
  const sink = async (d: Deposit): Promise<void> => { credited.push(d) }
  // first run: the deposit lands but is not yet confirmed when the node stops
  let db = await openDatabase(join(dir, 'db'))
  let w = watcher(db, sink, 2)
  await w.start()
  await deposit(ALICE, 3n)
  await w.poll()
  await w.stop()
  await db.close()
  t.is(credited.length, 0)
  // second run: confirmations arrive, the loop delivers it
  await chain.mine(1)
  db = await openDatabase(join(dir, 'db'))
  w = watcher(db, sink, 2)
  const delivered = new Promise<Deposit>((resolve) => w.once('deposit', resolve))
  await w.start()
  t.is((await delivered).amount, 3n)
  await w.stop()
  await db.close()
  // third run: more blocks and a second deposit; the first is not credited again
  await deposit(BOB, 4n)
  await chain.mine(3)
  db = await openDatabase(join(dir, 'db'))
  w = watcher(db, sink, 2)
  t.is(await w.poll(), 1)
  await db.close()
  t.deepEqual(credited.map((d) => [d.dagAccount, d.amount]), [[ALICE, 3n], [BOB, 4n]])
})

test.serial('a lost cursor rescans without delivering twice; a failing sink is retried next round', async (t) => {
  const db = await openDatabase(join(dir, 'db'))
  const credited: bigint[] = []
  let failNext = true
  const w = watcher(db, async (d) => {
    if (failNext) { failNext = false; throw new Error('ledger busy') }
    credited.push(d.amount)
  }, 1)
  await deposit(ALICE, 1n)
  await deposit(BOB, 2n)
  await t.throwsAsync(w.poll(), { message: 'ledger busy' })
  t.is(await w.poll(), 2)
  // the cursor is lost (only the delivered marks survive): a full rescan delivers nothing twice
  const chainDb = sublevel(db, 'chain')
  let removed = 0
  for await (const key of chainDb.keys()) {
    const name = new TextDecoder().decode(key)
    if (name.endsWith('/cursor') || name.endsWith('/history')) {
      await chainDb.del(key)
      removed++
    }
  }
  t.is(removed, 2)
  const again = watcher(db, async (d) => { credited.push(d.amount) }, 1)
  t.is(await again.poll(), 0)
  t.is(again.scannedBlock(), await chain.provider.getBlockNumber())
  t.deepEqual(credited, [1n, 2n])
  await db.close()
})

test.serial('a reorg is detected: the orphaned block is rescanned from the fork point', async (t) => {
  const db = await openDatabase(join(dir, 'db'))
  const credited: Deposit[] = []
  const w = watcher(db, async (d) => { credited.push(d) }, 1)
  await deposit(ALICE, 1n)
  t.is(await w.poll(), 1)
  const fork = await chain.snapshot()
  const forkBlock = await chain.provider.getBlockNumber()
  await deposit(BOB, 2n)
  t.is(await w.poll(), 1)
  // the chain reorganises: the block with BOB's deposit disappears, another deposit takes its height
  await chain.revert(fork)
  await chain.mine(1)
  await deposit(BOB, 7n)
  t.true((await chain.provider.getBlockNumber()) > forkBlock)
  const reorg = new Promise<{ depth: number }>((resolve) => w.once('reorg', resolve))
  t.is(await w.poll(), 1)
  t.true((await reorg).depth >= 1)
  t.deepEqual(credited.map((d) => d.amount), [1n, 2n, 7n])
  await db.close()
})

test.serial('checkDeposit: a validator checks a credit against its own chain view', async (t) => {
  const txHash = await deposit(ALICE, 9n)
  const receipt = await chain.provider.getTransactionReceipt(txHash)
  const log = receipt?.logs.find((l) => l.address === chain.deployment.settlement && l.topics.length === 4)
  const logIndex = log?.index ?? -1
  const settlement = chain.deployment.settlement
  t.is((await checkDeposit(chain.provider, settlement, { txHash, logIndex, dagAccount: ALICE, amount: 9n }, 1)).status, 'valid')
  t.is((await checkDeposit(chain.provider, settlement, { txHash, logIndex, dagAccount: ALICE, amount: 9n }, 3)).status, 'pending')
  await chain.mine(2)
  t.is((await checkDeposit(chain.provider, settlement, { txHash, logIndex, dagAccount: ALICE, amount: 9n }, 3)).status, 'valid')
  t.is((await checkDeposit(chain.provider, settlement, { txHash, logIndex, dagAccount: ALICE, amount: 10n }, 1)).status, 'invalid')
  t.is((await checkDeposit(chain.provider, settlement, { txHash, logIndex, dagAccount: BOB, amount: 9n }, 1)).status, 'invalid')
  // the ERC-20 Transfer log of the same transaction is not a deposit
  const transferLog = receipt?.logs.find((l) => l.address === chain.deployment.agc)
  t.is((await checkDeposit(chain.provider, settlement, { txHash, logIndex: transferLog?.index ?? -1, dagAccount: ALICE, amount: 9n }, 1)).status, 'invalid')
  t.is((await checkDeposit(chain.provider, settlement, { txHash: keccak256('0x01'), logIndex, dagAccount: ALICE, amount: 9n }, 1)).status, 'pending')
})

test.serial('a Deposited event of another contract in the endpoint\'s answer is not delivered', async (t) => {
  // another deployment emits the same event; an endpoint that ignores eth_getLogs' address filter (a faulty proxy or
  // node) returns its logs along with the settlement contract's
  const other = await deployContracts(chain.deployer, { minStake: chain.minStake })
  const otherContracts = connectContracts(other, chain.deployer)
  await mined(otherContracts.agc.approve(other.settlement, 50n))
  await mined(otherContracts.settlement.deposit(BOB, 50n))
  const txHash = await deposit(ALICE, 6n)
  const unfiltered = new Proxy(chain.provider, {
    get (target, name, receiver) {
      if (name === 'getLogs') return async (filter: { address?: string }) => await target.getLogs({ ...filter, address: undefined })
      const value: unknown = Reflect.get(target, name, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  t.true((await unfiltered.getLogs({ address: chain.deployment.settlement, fromBlock: chain.deployment.deployBlock })).some((l) => l.address === other.settlement))
  const db = await openDatabase(join(dir, 'db'))
  const seen: Deposit[] = []
  t.is(await watcher(db, async (d) => { seen.push(d) }, 1, unfiltered).poll(), 1)
  t.deepEqual(seen.map((d) => [d.txHash, d.dagAccount, d.amount]), [[txHash, ALICE, 6n]])
  await db.close()
})
