// Crash-safe application of decisions (issue 9): the committed account view never goes stale, memory changes only
// after a decision's batch commits, a failed commit halts the ledger and a restart replays it once, and records a
// kind derives from a final transaction (the bridge's "withdraw owed an epoch") commit in the same batch.
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { bytesEqual } from '../../src/core/codec.ts'
import { generateKeyPair, type KeyPair, verify } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { type BinaryDb, KEY_PREFIXES, openDatabase, sublevel } from '../../src/core/storage.ts'
import { buildWithdraw, registerBridgeKinds } from '../../src/bridge/kinds/index.ts'
import { type Genesis, generateGenesis } from '../../src/dag/genesis.ts'
import { DagLedger, type DagLedgerInit } from '../../src/dag/ledger.ts'
import type { AccountRecord } from '../../src/dag/store.ts'
import { decodeTx, encodeTx } from '../../src/dag/tx.ts'
import type { SignatureVerifier } from '../../src/dag/verify-pool.ts'
import { transfer, finalizeAll } from '../helpers/dag-net.ts'
import { tempDirUntilExit } from '../helpers/temp.ts'

registerBridgeKinds()

const FEE = 1000n
const START = 10n ** 12n
const verifier: SignatureVerifier = { verifyBatch: async items => items.map(i => verify(i.sig, i.msg, i.publicKey)) }

interface Fixture { dir: string, genesis: Genesis, validator: KeyPair, accounts: KeyPair[] }

async function fixture (accounts = 3, funded = 1): Promise<Fixture> {
  const validator = generateKeyPair()
  const keys = Array.from({ length: accounts }, () => generateKeyPair())
  const genesis = generateGenesis({
    // one validator decided by hand (finalizeAll: Avalanche's polls)
    consensus: { rule: 'avalanche' },
    chainId: 'harmony-ledger-state',
    validatorPublicKeys: [validator.publicKey],
    faucetPublicKey: generateKeyPair().publicKey,
    faucetBalance: 1n,
    // by default only the first account is funded: the others start absent from disk and from the cache
    allocations: keys.slice(0, funded).map(k => ({ address: addr(k), balance: START }))
  })
  return { dir: await tempDirUntilExit('harmony-ledger-state-'), genesis, validator, accounts: keys }
}

function addr (k: KeyPair): Uint8Array { return parseAddress(addressFromPublicKey(k.publicKey)) }

async function open (f: Fixture, init: DagLedgerInit = {}): Promise<{ db: BinaryDb, ledger: DagLedger, close: () => Promise<void> }> {
  const db = await openDatabase(join(f.dir, 'db'))
  const ledger = new DagLedger({ db, genesis: f.genesis, identity: f.validator, verifier, logger: silentLogger() }, init)
  await ledger.start()
  return { db, ledger, close: async () => { await ledger.stop(); await db.close() } }
}


async function send (ledger: DagLedger, bytes: Uint8Array): Promise<void> {
  await ledger.submitTransaction(bytes)
  await ledger.buildVertex()
}

test.serial('a read outside the lock that misses the cache cannot put back a record older than a committed one', async t => {
  const f = await fixture()
  const { ledger, close } = await open(f)
  try {
    const [a, b] = f.accounts
    const bAddr = addr(b)
    // The storage boundary: B's first read from disk (an RPC balance read, outside the ledger's lock) is slow. It
    // reads B's record as it is now (absent), then waits while the ledger applies and commits a credit to B.
    const realGet = ledger.store.getAccount.bind(ledger.store)
    let release = (): void => {}
    const gate = new Promise<void>(resolve => { release = resolve })
    let readDone = (): void => {}
    const diskRead = new Promise<void>(resolve => { readDone = resolve })
    let gated = false
    ledger.store.getAccount = async (address: Uint8Array): Promise<AccountRecord | undefined> => {
      if (gated || !bytesEqual(address, bAddr)) return await realGet(address)
      gated = true
      const rec = await realGet(address)
      readDone()
      await gate
      return rec
    }
    const slowRead = ledger.getAccount(bAddr)
    await diskRead
    await send(ledger, transfer(f.genesis, a, b, 5000n, 0n))
    await finalizeAll(ledger)
    t.is((await ledger.getAccount(bAddr)).balance, 5000n, 'the credit is committed')
    release()
    await slowRead
    t.is((await ledger.getAccount(bAddr)).balance, 5000n, 'the slow read did not put the old record back')
    // B spends what it received: on a stale view this would fail (insufficient balance) on this node only
    await send(ledger, transfer(f.genesis, b, a, 1000n, 0n))
    await finalizeAll(ledger)
    t.deepEqual(await ledger.getAccount(bAddr), { balance: 5000n - 1000n - FEE, nonce: 1n })
    t.deepEqual(await realGet(bAddr).then(r => r?.balance), 5000n - 1000n - FEE, 'memory and disk agree')
  } finally {
    await close()
    await rm(f.dir, { recursive: true, force: true })
  }
})

test.serial('a round of several vertices stays exact with a cache smaller than what the round touches', async t => {
  const f = await fixture(4, 4)
  const { ledger, close } = await open(f, { accountCacheSize: 1 })
  try {
    const [a, b, c, d] = f.accounts
    // one round: a -> b, then b -> c and c -> d, each vertex on top of the previous one, all accepted together
    await send(ledger, transfer(f.genesis, a, b, 9000n, 0n))
    await send(ledger, transfer(f.genesis, b, c, 5000n, 0n))
    await send(ledger, transfer(f.genesis, c, d, 2000n, 0n))
    // concurrent readers churn the one-entry cache while the round is applied
    const readers = Array.from({ length: 20 }, async (_x, i) => await ledger.getAccount(addr(f.accounts[i % 4])))
    await finalizeAll(ledger)
    await Promise.all(readers)
    const expected = [START - 9000n - FEE, START + 9000n - 5000n - FEE, START + 5000n - 2000n - FEE, START + 2000n]
    for (const [i, k] of f.accounts.entries()) {
      t.is((await ledger.getAccount(addr(k))).balance, expected[i], `account ${i} in memory`)
      t.is((await ledger.store.getAccount(addr(k)))?.balance, expected[i], `account ${i} on disk`)
    }
  } finally {
    await close()
    await rm(f.dir, { recursive: true, force: true })
  }
})

test.serial('a failed decision commit leaves memory as before, halts the ledger, and a restart applies it exactly once', async t => {
  const f = await fixture()
  const [a, b] = f.accounts
  const first = await open(f)
  let finals = 0
  first.ledger.on('tx:final', () => { finals++ })
  const txId = await first.ledger.submitTransaction(transfer(f.genesis, a, b, 7000n, 0n))
  await first.ledger.buildVertex()
  const before = await first.ledger.stats()
  // fault injection at the storage boundary: the next LevelDB batch (the decision's) fails
  const db = first.db as unknown as { batch: (...args: unknown[]) => Promise<void> }
  const realBatch = db.batch.bind(db)
  db.batch = async (..._args: unknown[]): Promise<void> => {
    db.batch = realBatch
    throw new Error('injected write failure')
  }
  const err = await t.throwsAsync(finalizeAll(first.ledger))
  t.is((err as { code?: string }).code, 'STORAGE_FAILED')
  t.is(first.ledger.halted?.code, 'STORAGE_FAILED')
  t.is(finals, 0, 'nothing was reported final')
  t.is((await first.ledger.getTx(txId))?.status, 'pending')
  t.deepEqual(await first.ledger.getAccount(addr(a)), { balance: START, nonce: 0n }, 'memory is as before the round')
  t.deepEqual(await first.ledger.getAccount(addr(b)), { balance: 0n, nonce: 0n })
  const after = await first.ledger.stats()
  t.is(after.finalTxs, before.finalTxs)
  t.is(after.stateRoot, before.stateRoot)
  // a halted ledger refuses every further change until restarted
  await first.ledger.submitTransaction(transfer(f.genesis, a, b, 1n, 1n)).catch(() => undefined)
  const refused = await t.throwsAsync(first.ledger.buildVertex())
  t.is((refused as { code?: string }).code, 'STORAGE_FAILED')
  await first.close()

  for (let run = 0; run < 2; run++) {
    const again = await open(f)
    try {
      await finalizeAll(again.ledger)
      t.is((await again.ledger.getTx(txId))?.status, 'final')
      t.deepEqual(await again.ledger.getAccount(addr(a)), { balance: START - 7000n - FEE, nonce: 1n }, `run ${run}: debited once`)
      t.deepEqual(await again.ledger.getAccount(addr(b)), { balance: 7000n, nonce: 0n }, `run ${run}: credited once`)
      t.is((await again.ledger.stats()).finalTxs, 1)
    } finally {
      await again.close()
    }
  }
  await rm(f.dir, { recursive: true, force: true })
})

test.serial('a final withdraw\'s "owed an epoch" record commits in the decision\'s batch, and only with it', async t => {
  const f = await fixture()
  const [a] = f.accounts
  const { db, ledger, close } = await open(f, { syncWrites: true })
  const syncFlags: boolean[] = []
  const raw = db as unknown as { batch: (ops: unknown, opts?: { sync?: boolean }) => Promise<void> }
  const realBatch = raw.batch.bind(raw)
  raw.batch = async (ops: unknown, opts?: { sync?: boolean }): Promise<void> => { syncFlags.push(opts?.sync === true); await realBatch(ops, opts) }
  try {
    const w = encodeTx(buildWithdraw({ chainId: f.genesis.chainId, publicKey: a.publicKey, secretKey: a.secretKey, evmAddress: new Uint8Array(20).fill(7), amount: 3000n, nonce: 0n, fee: FEE }))
    const id = (await ledger.submitTransaction(w))
    await ledger.buildVertex()
    const chain = sublevel(db, 'chain')
    const key = new TextEncoder().encode(KEY_PREFIXES.chain.bridgeUnsettled + id)
    t.is(await chain.get(key), undefined, 'no record before the decision')
    let recordAtFinal: Promise<Uint8Array | undefined> | undefined
    // read at the very moment finality is reported: the record must already be on disk
    ledger.on('tx:final', (info) => { if (info.idHex === id) recordAtFinal = chain.get(key) })
    await finalizeAll(ledger)
    t.not(recordAtFinal, undefined, 'the withdraw became final')
    t.not(await recordAtFinal, undefined, 'the record was committed with the decision')
    t.true(syncFlags.includes(true), 'decisions are committed with sync: true')
  } finally {
    await close()
    await rm(f.dir, { recursive: true, force: true })
  }
})

test.serial('nonces n..n+4 submitted at once are admitted in submission order, whatever order their signatures verify in', async t => {
  const f = await fixture()
  const db = await openDatabase(join(f.dir, 'db'))
  // signatures answer in reverse order of submission: the last transaction's check finishes first
  const releases: Array<() => void> = []
  const slow: SignatureVerifier = {
    verifyBatch: async (items) => {
      await new Promise<void>((resolve) => { releases.push(resolve) })
      return items.map(i => verify(i.sig, i.msg, i.publicKey))
    }
  }
  const ledger = new DagLedger({ db, genesis: f.genesis, identity: f.validator, verifier: slow, logger: silentLogger() })
  await ledger.start()
  try {
    const [a, b] = f.accounts
    const txs = Array.from({ length: 5 }, (_, n) => transfer(f.genesis, a, b, 1n, BigInt(n)))
    const admitted = txs.map(async (tx) => await ledger.submitTransaction(tx))
    while (releases.length < txs.length) await new Promise((resolve) => setImmediate(resolve))
    for (const release of releases.reverse()) release()
    const ids = await Promise.all(admitted)
    t.is(ids.length, 5)
    t.is(new Set(ids).size, 5)
    // a refused transaction in between keeps its place: nonce 6 after it still waits for nonce 5 before it
    const five = transfer(f.genesis, a, b, 1n, 5n)
    const honest = decodeTx(transfer(f.genesis, a, b, 1n, 99n))
    const forged = encodeTx({ ...honest, signature: new Uint8Array(honest.signature.length) })
    const six = transfer(f.genesis, a, b, 1n, 6n)
    const three = [ledger.submitTransaction(five), ledger.submitTransaction(forged), ledger.submitTransaction(six)]
    while (releases.length < 8) await new Promise((resolve) => setImmediate(resolve))
    for (const release of releases.slice(5).reverse()) release()
    const [okFive, bad, okSix] = await Promise.allSettled(three)
    t.is(okFive.status, 'fulfilled')
    t.is(bad.status, 'rejected')
    t.is(okSix.status, 'fulfilled')
    // another transaction of a pending one's nonce: refused, naming the account's next nonce past its pending ones
    const twin = ledger.submitTransaction(transfer(f.genesis, a, b, 2n, 3n))
    while (releases.length < 9) await new Promise((resolve) => setImmediate(resolve))
    releases[8]()
    const conflict = await t.throwsAsync(twin)
    t.like(conflict, { code: 'TX_CONFLICT', meta: { expected: '7' } })
  } finally {
    await ledger.stop()
    await db.close()
  }
})
