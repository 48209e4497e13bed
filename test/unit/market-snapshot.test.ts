/**
 * The market's part of a state cut (src/market/state/snapshot.ts): folded epoch by epoch it has the bytes of one
 * fold over the whole history, whatever its split (a done task leaving, a late transaction about it waiting, parked
 * transactions growing too old in between); a node that installs it and applies the rest of the history live reads
 * the records of a node that applied everything live; what waits for a later transaction waits across the cut.
 */
import test from 'ava'
import { addressBytesFromPublicKey, addressFromPublicKey } from '../../src/core/address.ts'
import { decodeValue, encodeValue } from '../../src/core/canonical-value.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair, type KeyPair, sha256 } from '../../src/core/crypto.ts'
import type { CutTx } from '../../src/dag/cut-parts.ts'
import { encodeTx, txInfo } from '../../src/dag/tx.ts'
import { buildBidCommit, buildBidReveal, buildProviderRegister, buildTaskAnnounce, buildTaskAward, buildTaskResult, buildTaskSettle, MarketState, marketRules, registerMarket } from '../../src/market/index.ts'
import { advanceSnapshot, decodeSnapshot, emptySnapshot, encodeSnapshot, type MarketSnapshot, SNAPSHOT_PARK_MS } from '../../src/market/state/snapshot.ts'
import type { TaskPhase } from '../../src/market/state/reader.ts'
import { cpuProvider, cutTxAt, historySigner, liveMarketState, matmulAnnounce } from '../helpers/market.ts'

registerMarket()
const CHAIN = 'harmony-market-snapshot'
const seeded = (n: number): KeyPair => generateKeyPair(new Uint8Array(32).fill(n))
const [requester, p1, p2, p3, validator] = [seeded(1), seeded(2), seeded(3), seeded(4), seeded(5)]
const addr = (k: KeyPair): Uint8Array => addressBytesFromPublicKey(k.publicKey)
const T0 = 1_000_000
const { by, next } = historySigner(CHAIN)
const at = cutTxAt

/**
 * Task A: two bids (p2's reveal comes before its commit, so it waits), awarded to p1, its result, settled and paid.
 * Task B: announced, one commit. p3 commits on a task never announced (it waits, then is too old).
 */
const salt = new Uint8Array(32).fill(9)
const { tx: announceA, taskId: taskA } = buildTaskAnnounce(by(requester), matmulAnnounce())
const revealP1 = buildBidReveal(by(p1), { taskId: taskA, price: 100n, salt })
const revealP2 = buildBidReveal(by(p2), { taskId: taskA, price: 150n, salt })
const history: CutTx[] = [
  at(buildProviderRegister(by(p1), cpuProvider(marketRules.MIN_BOND)), T0),
  at(buildProviderRegister(by(p2), cpuProvider(marketRules.MIN_BOND)), T0),
  at(announceA, T0 + 1),
  at(buildBidCommit(by(p1), taskA, 100n, salt), T0 + 10),
  at(revealP2, T0 + 2010),
  at(buildBidCommit(by(p2), taskA, 150n, salt), T0 + 20),
  at(revealP1, T0 + 2020),
  at(buildBidCommit(by(p3), sha256(new TextEncoder().encode('never announced')), 10n, salt), T0 + 30)
]
// (the market's rules read no nonce: that is the ledger's; these transactions only need distinct ids)
const { tx: announceB, taskId: taskB } = buildTaskAnnounce(by(requester), matmulAnnounce({ bidWindowMs: 60_000 }))
history.push(
  at(announceB, T0 + 40),
  at(buildBidCommit(by(p2), taskB, 120n, salt), T0 + 50),
  at(buildTaskAward(CHAIN, validator, next(validator), { taskId: taskA, round: 0, considered: [txInfo(encodeTx(revealP1)).id, txInfo(encodeTx(revealP2)).id], winners: [addr(p1)] }), T0 + 4100),
  at(buildTaskResult(by(p1), { taskId: taskA, round: 0, commitment: new Uint8Array(32).fill(1), outputBlob: new Uint8Array(32).fill(2), outputBytes: 16, profile: 'cpu-ref-v1' }), T0 + 5000),
  at(buildTaskSettle(CHAIN, validator, next(validator), { taskId: taskA, outcome: 'paid', payouts: [{ provider: addr(p1), amount: 100n }], fee: 10n, refund: 890n, requester: addr(requester) }), T0 + 6000)
)
const settled = history.length
// after the settle: a reveal about A (done: it leaves the snapshot, so this waits), then a task announced more than
// the park window later, which makes both waiting transactions too old
const { tx: announceC, taskId: taskC } = buildTaskAnnounce(by(requester), matmulAnnounce())
history.push(
  at(buildBidReveal(by(p3), { taskId: taskA, price: 10n, salt }), T0 + 7000),
  at(announceC, T0 + 7000 + SNAPSHOT_PARK_MS + 1)
)

const fold = async (prev: MarketSnapshot, txs: readonly CutTx[]): Promise<MarketSnapshot> => await advanceSnapshot(prev, txs, { validatorKeys: () => [] })

test('folded epoch by epoch (encoded and decoded between epochs) a snapshot has the bytes of one fold over the whole history, for every split', async (t) => {
  const whole = encodeSnapshot(await fold(emptySnapshot(), history))
  for (let k = 0; k <= history.length; k++) {
    const first = decodeSnapshot(encodeSnapshot(await fold(emptySnapshot(), history.slice(0, k))))
    t.deepEqual(encodeSnapshot(await fold(first, history.slice(k))), whole, `split at ${k}`)
  }
  const s = decodeSnapshot(whole)
  t.deepEqual([...s.tasks.keys()].sort(), [toHex(taskB), toHex(taskC)].sort())
  t.is(s.providers.get(toHex(addr(p1)))?.received, 100n)
  t.is(s.providers.size, 2)
  t.deepEqual(s.parked, [])
  // before the last announce: A left at its settle, p3's commit (no task) and its reveal (A gone) wait
  const before = await fold(emptySnapshot(), history.slice(0, -1))
  t.deepEqual([...before.tasks.keys()], [toHex(taskB)])
  t.deepEqual(before.parked.map((q) => q.txId), [history[7].tx.idHex, history[settled].tx.idHex])
  // the encoding of a record does not depend on the order its fields or map entries were set in
  const p = s.providers.get(toHex(addr(p1)))
  if (p === undefined) return t.fail('no provider record')
  const reordered = Object.fromEntries(Object.entries(p).reverse())
  t.deepEqual(encodeValue(reordered), encodeValue(p))
  t.deepEqual(decodeValue(encodeValue(p)), p)
})

async function records (state: MarketState): Promise<unknown> {
  return {
    providers: await state.providers(),
    tasks: await Promise.all([taskA, taskB].map(async (id) => await state.task(toHex(id)))),
    bids: await Promise.all([taskA, taskB].map(async (id) => await state.bids(toHex(id)))),
    open: state.openTaskIds().sort(),
    p2Tasks: (await state.tasks({ provider: addressFromPublicKey(p2.publicKey) })).map((v) => v.taskId).sort()
  }
}

test('a node that installs the snapshot at any point of the history and applies the rest live reads what a node that applied all of it live reads; what waited still waits', async (t) => {
  const all = await liveMarketState()
  t.teardown(all.close)
  // (up to the settle: a node that held A refuses the late reveal at once, the snapshot's waits, as its doc says)
  const upToSettle = history.slice(0, settled)
  await all.final(upToSettle)
  const expected = await records(all.state)
  for (const k of [2, 4, 5, 9, 12]) {
    const synced = await liveMarketState()
    try {
      const snapshot = await fold(emptySnapshot(), upToSettle.slice(0, k))
      // at 5, p2's reveal waits for its commit (the next transaction): it crosses the cut as a queued transaction
      if (k === 5) t.deepEqual(snapshot.parked.map((q) => q.txId), [history[4].tx.idHex])
      await synced.install(decodeSnapshot(encodeSnapshot(snapshot)))
      await synced.final(upToSettle.slice(k))
      t.deepEqual(await records(synced.state), expected, `installed at ${k}`)
    } finally {
      await synced.close()
    }
  }
})

test('a node that catches up the whole history in one drain reads what a node that applied it as it came reads: a reveal parked for its commit applies right after the commit, before the award that lists it and the settle', async (t) => {
  const upToSettle = history.slice(0, settled)
  const asItCame = await liveMarketState()
  t.teardown(asItCame.close)
  await asItCame.final(upToSettle)
  const caughtUp = await liveMarketState()
  t.teardown(caughtUp.close)
  await caughtUp.final(upToSettle, true)
  t.deepEqual(await records(caughtUp.state), await records(asItCame.state))
  t.is((await caughtUp.state.task(toHex(taskA)))?.awards.length, 1)
})

test('a drain pass commits what it applied in one batch: when that batch fails nothing of it is applied or reported, and the entries, still queued, are applied by the next pass as by a node that never failed', async (t) => {
  const upToSettle = history.slice(0, settled)
  const ok = await liveMarketState()
  t.teardown(ok.close)
  await ok.final(upToSettle, true)
  const failing = await liveMarketState()
  t.teardown(failing.close)
  const reported: string[] = []
  failing.state.on('task:changed', (v) => { reported.push(v.taskId) })
  // the database refuses the first batch written (a full disk); the writes before it are the queue's records
  const { db } = failing
  const batch = db.batch.bind(db)
  let refuse = true
  db.batch = ((...args: Parameters<typeof db.batch>) => {
    const b = batch(...args)
    if (args.length === 0 && refuse && 'write' in b) {
      refuse = false
      b.write = async () => { throw new Error('disk full') }
    }
    return b
  }) as typeof db.batch
  await t.throwsAsync(failing.final(upToSettle, true), { message: 'disk full' })
  t.false(refuse, 'the pass wrote one batch')
  t.deepEqual(reported, [], 'no change reported')
  t.is(await failing.state.task(toHex(taskA)), undefined, 'nothing applied')
  t.deepEqual(failing.state.openTaskIds(), [])
  await failing.state.drain()
  t.deepEqual(await records(failing.state), await records(ok.state))
  t.deepEqual([...new Set(reported)].sort(), [toHex(taskA), toHex(taskB)].sort())
})

test('listing tasks by phase: a terminal phase finds the tasks done lately, an open phase only the open ones', async (t) => {
  const live = await liveMarketState()
  t.teardown(live.close)
  await live.final(history.slice(0, settled))
  const ids = async (phase: TaskPhase): Promise<string[]> => (await live.state.tasks({ phase })).map((v) => v.taskId)
  // A is settled (done: it left the open set), B's bid window passed with no award
  t.deepEqual(await ids('settled'), [toHex(taskA)])
  t.deepEqual(await ids('revealing'), [toHex(taskB)])
  t.deepEqual(await ids('bidding'), [])
  t.deepEqual((await live.state.tasks()).map((v) => v.taskId).sort(), [toHex(taskA), toHex(taskB)].sort())
  // the same through a provider's index: p1 won A
  const p1Address = addressFromPublicKey(p1.publicKey)
  t.deepEqual((await live.state.tasks({ provider: p1Address, phase: 'settled' })).map((v) => v.taskId), [toHex(taskA)])
  t.deepEqual((await live.state.tasks({ provider: p1Address, phase: 'awarded' })).map((v) => v.taskId), [])
  t.deepEqual((await live.state.tasks({ provider: p1Address })).map((v) => v.taskId), [toHex(taskA)])
})
