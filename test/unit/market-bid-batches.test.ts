/**
 * Bids for several auctions in one transaction (`bid-commits`, `bid-reveals`: src/market/kinds/bid.ts): the codec's
 * bounds, each entry applied on its own (one waits for its task while the others apply), the state cut's fold and
 * the live queue agreeing on a history of batches however it is split, and the provider's batcher (no timer: what
 * gathers while a batch is being sent leaves in the next one).
 */
import test from 'ava'
import { addressBytesFromPublicKey } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair, type KeyPair, sha256 } from '../../src/core/crypto.ts'
import type { CutTx } from '../../src/dag/cut-parts.ts'
import { isDagError } from '../../src/dag/errors.ts'
import { encodeTx, type Transaction, txInfo } from '../../src/dag/tx.ts'
import { getTxKind, requireTxKind } from '../../src/dag/tx-kinds.ts'
import {
  bidCommitment, buildBidCommit, buildBidCommits, buildBidReveal, buildBidReveals, buildProviderRegister, buildTaskAnnounce, buildTaskAward,
  MarketState, marketRules, registerMarket
} from '../../src/market/index.ts'
import { MAX_BID_BATCH, TX_KIND_BID_COMMITS, TX_KIND_BID_REVEALS } from '../../src/market/kinds/index.ts'
import { BidBatcher } from '../../src/market/provider/bid-batcher.ts'
import { marketAdmissionCheck } from '../../src/market/state/admission.ts'
import { advanceSnapshot, decodeSnapshot, emptySnapshot, encodeSnapshot } from '../../src/market/state/snapshot.ts'
/** Bid histories carry no input verdict: no validator needs naming. */
const NO_VALIDATORS = { validatorKeys: (): Uint8Array[] => [] }
import { cpuProvider, cutTxAt, historySigner, liveMarketState, matmulAnnounce } from '../helpers/market.ts'

registerMarket()
const CHAIN = 'harmony-market-bid-batches'
const seeded = (n: number): KeyPair => generateKeyPair(new Uint8Array(32).fill(n))
const [requester, p1, p2, validator] = [seeded(11), seeded(12), seeded(13), seeded(14)]
const addr = (k: KeyPair): Uint8Array => addressBytesFromPublicKey(k.publicKey)
const T0 = 2_000_000
const { by } = historySigner(CHAIN)
const at = cutTxAt
const salt = (n: number): Uint8Array => new Uint8Array(32).fill(n)

test('a batch round-trips its entries; none, more than MAX_BID_BATCH or two for one task are refused with ENCODING_INVALID', (t) => {
  const commits = requireTxKind(TX_KIND_BID_COMMITS)
  const reveals = requireTxKind(TX_KIND_BID_REVEALS)
  const task = (n: number): Uint8Array => sha256(new Uint8Array([n]))
  const full = Array.from({ length: MAX_BID_BATCH }, (_, i) => ({ taskId: task(i), price: BigInt(i + 1), salt: salt(i) }))
  // the largest batch fits the transaction's payload bound, and every entry is the single kind's payload
  const bytes = reveals.encode(full)
  t.true(bytes.length <= reveals.maxPayloadBytes)
  t.deepEqual(reveals.decode(bytes), full)
  const tx = buildBidCommits(by(p1), full)
  t.deepEqual(commits.decode(tx.payload), full.map(b => ({ taskId: b.taskId, commitment: bidCommitment(b.taskId, addr(p1), b.price, b.salt) })))
  const bad: Array<[string, Uint8Array]> = [
    ['no entry', new Uint8Array([0])],
    ['too many', new Uint8Array([MAX_BID_BATCH + 1, ...bytes.slice(1)])],
    ['two for one task', reveals.encode([full[0], full[1]]).map((b, i) => (i >= 81 && i < 81 + 32 ? full[0].taskId[i - 81] : b))],
    ['truncated', bytes.slice(0, -1)],
    ['zero price', reveals.encode([{ ...full[0], price: 0n }].map(e => ({ ...e, price: 1n }))).map((b, i) => (i >= 33 && i < 49 ? 0 : b))]
  ]
  for (const [what, payload] of bad) {
    const err = t.throws(() => getTxKind(TX_KIND_BID_REVEALS)?.decode(payload), undefined, what)
    t.true(isDagError(err), what)
    t.is((err as { code?: string }).code, 'ENCODING_INVALID', what)
  }
  t.throws(() => buildBidReveals(by(p1), []))
})

/**
 * p1 commits to A, B and D in one `bid-commits` before D is announced (D's entry waits for D, A's and B's apply at
 * once); p2 commits to A alone with the single kind. p1 reveals A and D together, B alone in a batch of one; p2
 * reveals A. The award of A considers p1's batch reveal beside p2's single one.
 */
const { tx: announceA, taskId: taskA } = buildTaskAnnounce(by(requester), matmulAnnounce())
const { tx: announceB, taskId: taskB } = buildTaskAnnounce(by(requester), matmulAnnounce())
const { tx: announceD, taskId: taskD } = buildTaskAnnounce(by(requester), matmulAnnounce())
const p1Commits = buildBidCommits(by(p1), [{ taskId: taskA, price: 100n, salt: salt(1) }, { taskId: taskD, price: 300n, salt: salt(3) }, { taskId: taskB, price: 200n, salt: salt(2) }])
const p1RevealsAD = buildBidReveals(by(p1), [{ taskId: taskD, price: 300n, salt: salt(3) }, { taskId: taskA, price: 100n, salt: salt(1) }])
const p2RevealA = buildBidReveal(by(p2), { taskId: taskA, price: 150n, salt: salt(4) })
const idOf = (tx: Transaction): Uint8Array => txInfo(encodeTx(tx)).id
const history: CutTx[] = [
  at(buildProviderRegister(by(p1), cpuProvider(marketRules.MIN_BOND)), T0),
  at(buildProviderRegister(by(p2), cpuProvider(marketRules.MIN_BOND)), T0),
  at(announceA, T0 + 1),
  at(announceB, T0 + 1),
  at(p1Commits, T0 + 10),
  at(buildBidCommit(by(p2), taskA, 150n, salt(4)), T0 + 20),
  at(announceD, T0 + 30),
  at(p1RevealsAD, T0 + 1010),
  at(p2RevealA, T0 + 1020),
  at(buildBidReveals(by(p1), [{ taskId: taskB, price: 200n, salt: salt(2) }]), T0 + 1030),
  at(buildTaskAward(CHAIN, validator, 0n, { taskId: taskA, round: 0, considered: [idOf(p1RevealsAD), idOf(p2RevealA)], winners: [addr(p1)] }), T0 + 2000)
]

async function records (state: MarketState): Promise<unknown> {
  return {
    tasks: await Promise.all([taskA, taskB, taskD].map(async (id) => await state.task(toHex(id)))),
    bids: await Promise.all([taskA, taskB, taskD].map(async (id) => await state.bids(toHex(id)))),
    open: state.openTaskIds().sort()
  }
}

test('each entry of a batch applies on its own: the one whose task is not announced yet waits for it, the others apply at once', async (t) => {
  const live = await liveMarketState()
  t.teardown(live.close)
  const commitsId = txInfo(encodeTx(p1Commits)).idHex
  await live.final(history.slice(0, 5))
  // A's and B's entries applied, D's waits (D is not announced)
  t.is((await live.state.taskRecord(toHex(taskA)))?.bids.get(toHex(addr(p1)))?.commitTx, commitsId)
  t.is((await live.state.taskRecord(toHex(taskB)))?.bids.get(toHex(addr(p1)))?.commitTx, commitsId)
  t.is(await live.state.taskRecord(toHex(taskD)), undefined)
  await live.final(history.slice(5, 7))
  // D's announce applied, and its waiting entry right after it
  t.is((await live.state.taskRecord(toHex(taskD)))?.bids.get(toHex(addr(p1)))?.commitTx, commitsId)
  await live.final(history.slice(7))
  const a = await live.state.taskRecord(toHex(taskA))
  const revealsId = txInfo(encodeTx(p1RevealsAD)).idHex
  t.like(a?.bids.get(toHex(addr(p1))), { revealTx: revealsId, price: 100n, matches: true, inTime: true })
  t.like(a?.bids.get(toHex(addr(p2))), { price: 150n, matches: true, inTime: true })
  t.deepEqual(a?.awards.map(w => w.winners), [[toHex(addr(p1))]])
  t.like((await live.state.taskRecord(toHex(taskD)))?.bids.get(toHex(addr(p1))), { revealTx: revealsId, price: 300n, matches: true })
  t.like((await live.state.taskRecord(toHex(taskB)))?.bids.get(toHex(addr(p1))), { price: 200n, matches: true })
})

test('a batch\'s entries are refused one by one with their own codes (a late commit stores nothing, a mismatching reveal stays on its bid as why it lost); its other entries apply', async (t) => {
  const live = await liveMarketState()
  t.teardown(live.close)
  const outcomes = new Map<string, string[]>()
  live.state.onApplied((tx, outcome) => {
    const list = outcomes.get(tx.idHex) ?? []
    list.push(outcome.status === 'refused' ? outcome.code : outcome.status)
    outcomes.set(tx.idHex, list)
  })
  // E's bid window closes at T0 + 2000, F's at T0 + 4500 (the default 2 s windows)
  const { tx: announceE, taskId: taskE } = buildTaskAnnounce(by(requester), matmulAnnounce())
  const { tx: announceF, taskId: taskF } = buildTaskAnnounce(by(requester), matmulAnnounce())
  const lateForE = buildBidCommits(by(p2), [{ taskId: taskE, price: 50n, salt: salt(5) }, { taskId: taskF, price: 60n, salt: salt(6) }])
  const wrongForE = buildBidReveals(by(p1), [{ taskId: taskE, price: 71n, salt: salt(7) }, { taskId: taskF, price: 80n, salt: salt(8) }])
  await live.final([
    at(buildProviderRegister(by(p1), cpuProvider(marketRules.MIN_BOND)), T0),
    at(buildProviderRegister(by(p2), cpuProvider(marketRules.MIN_BOND)), T0),
    at(announceE, T0),
    at(announceF, T0 + 2500),
    at(buildBidCommit(by(p1), taskE, 70n, salt(7)), T0 + 10),
    at(buildBidCommit(by(p1), taskF, 80n, salt(8)), T0 + 2600),
    at(lateForE, T0 + 3000),
    at(wrongForE, T0 + 3500)
  ])
  t.deepEqual(outcomes.get(txInfo(encodeTx(lateForE)).idHex), ['BID_LATE', 'applied'])
  t.deepEqual(outcomes.get(txInfo(encodeTx(wrongForE)).idHex), ['REVEAL_MISMATCH', 'applied'])
  const e = await live.state.taskRecord(toHex(taskE))
  t.false(e?.bids.has(toHex(addr(p2))), 'the late commit is not stored')
  t.like(e?.bids.get(toHex(addr(p1))), { matches: false })
  const f = await live.state.taskRecord(toHex(taskF))
  t.like(f?.bids.get(toHex(addr(p2))), { commitTimeMs: T0 + 3000 })
  t.like(f?.bids.get(toHex(addr(p1))), { price: 80n, matches: true, inTime: true })
})

test('the admission check refuses a bid batch only when every entry would be refused, a single bid when it would be, and admits what is not known here yet', async (t) => {
  const live = await liveMarketState()
  t.teardown(live.close)
  // E's bid window closes at T0 + 2000, F's at T0 + 4500
  const { tx: announceE, taskId: taskE } = buildTaskAnnounce(by(requester), matmulAnnounce())
  const { tx: announceF, taskId: taskF } = buildTaskAnnounce(by(requester), matmulAnnounce())
  await live.final([
    at(buildProviderRegister(by(p1), cpuProvider(marketRules.MIN_BOND)), T0),
    at(buildProviderRegister(by(p2), cpuProvider(marketRules.MIN_BOND)), T0),
    at(announceE, T0),
    at(announceF, T0 + 2500),
    at(buildBidCommit(by(p1), taskE, 70n, salt(7)), T0 + 10)
  ])
  let nowMs = T0 + 3000
  const counted: string[] = []
  const check = marketAdmissionCheck({ precheck: async (tx, timeMs, entry) => await live.state.precheck(tx, timeMs, entry), onRefused: (code) => { counted.push(code) }, now: () => nowMs })
  const info = (tx: Transaction): ReturnType<typeof txInfo> => txInfo(encodeTx(tx))
  const unknownTask = sha256(new Uint8Array([1]))
  // E's window closed, F's open: the batch keeps its place (F's entry applies; E's is refused where it is applied)
  t.is(await check(info(buildBidCommits(by(p2), [{ taskId: taskE, price: 50n, salt: salt(5) }, { taskId: taskF, price: 60n, salt: salt(6) }]))), undefined)
  t.like(await check(info(buildBidCommits(by(p2), [{ taskId: taskE, price: 50n, salt: salt(5) }]))), { rule: 'BID_LATE', message: 'entry 0 of 1: bid committed after the bid window' })
  t.like(await check(info(buildBidCommit(by(p2), taskE, 50n, salt(5)))), { rule: 'BID_LATE', message: 'bid committed after the bid window' })
  // a commit for a task not known here parks where it is applied: admitted
  t.is(await check(info(buildBidCommits(by(p2), [{ taskId: unknownTask, price: 50n, salt: salt(5) }]))), undefined)
  // p1's reveal for E opening another price: refused; the one that opens its commit: admitted
  t.like(await check(info(buildBidReveals(by(p1), [{ taskId: taskE, price: 71n, salt: salt(7) }]))), { rule: 'REVEAL_MISMATCH' })
  t.is(await check(info(buildBidReveals(by(p1), [{ taskId: taskE, price: 70n, salt: salt(7) }]))), undefined)
  // both windows closed: the two-entry batch is refused, with its first entry's code
  nowMs = T0 + 5000
  t.like(await check(info(buildBidCommits(by(p2), [{ taskId: taskE, price: 50n, salt: salt(5) }, { taskId: taskF, price: 60n, salt: salt(6) }]))), { rule: 'BID_LATE', message: 'entry 0 of 2: bid committed after the bid window' })
  t.deepEqual(counted, ['BID_LATE', 'BID_LATE', 'REVEAL_MISMATCH', 'BID_LATE'])
})

test('the state cut folds a batch entry by entry: every split gives the bytes of one fold, a waiting entry crosses the cut with its index, and an install then live reads what live alone reads', async (t) => {
  const whole = encodeSnapshot(await advanceSnapshot(emptySnapshot(), history, NO_VALIDATORS))
  for (let k = 0; k <= history.length; k++) {
    const first = decodeSnapshot(encodeSnapshot(await advanceSnapshot(emptySnapshot(), history.slice(0, k), NO_VALIDATORS)))
    t.deepEqual(encodeSnapshot(await advanceSnapshot(first, history.slice(k), NO_VALIDATORS)), whole, `split at ${k}`)
  }
  // after the commits and before D's announce, D's entry (index 1 of p1's batch) waits in the snapshot
  const waiting = decodeSnapshot(encodeSnapshot(await advanceSnapshot(emptySnapshot(), history.slice(0, 6), NO_VALIDATORS)))
  t.deepEqual(waiting.parked.map(q => [q.txId, q.entry]), [[txInfo(encodeTx(p1Commits)).idHex, 1]])

  const all = await liveMarketState()
  t.teardown(all.close)
  await all.final(history)
  const expected = await records(all.state)
  for (const k of [5, 6, 8]) {
    const synced = await liveMarketState()
    try {
      await synced.install(decodeSnapshot(encodeSnapshot(await advanceSnapshot(emptySnapshot(), history.slice(0, k), NO_VALIDATORS))))
      await synced.final(history.slice(k))
      t.deepEqual(await records(synced.state), expected, `installed at ${k}`)
    } finally {
      await synced.close()
    }
  }
  const caughtUp = await liveMarketState()
  t.teardown(caughtUp.close)
  await caughtUp.final(history, true)
  t.deepEqual(await records(caughtUp.state), expected)
})

test('the batcher sends what is added in one turn together, gathers what comes while a batch is being sent into the next, splits at its maximum and keeps one entry per task in a batch', async (t) => {
  const sent: number[][] = []
  let release: (() => void) | undefined
  const bid = (n: number): { taskId: Uint8Array, n: number } => ({ taskId: new Uint8Array(32).fill(n), n })
  const batcher = new BidBatcher<{ taskId: Uint8Array, n: number }>(async (entries) => {
    sent.push(entries.map(e => e.n))
    // the first batch's admission is held until released
    if (sent.length === 1) await new Promise<void>((resolve) => { release = resolve })
    return `tx${sent.length}`
  }, 4)
  const first = [batcher.add(bid(1)), batcher.add(bid(2))]
  await new Promise(resolve => setImmediate(resolve))
  t.deepEqual(sent, [[1, 2]])
  // while the first is being admitted: seven more gather, one of them a second entry for task 3
  const later = [3, 4, 3, 5, 6, 7, 8].map(async n => await batcher.add(bid(n)))
  await new Promise(resolve => setImmediate(resolve))
  t.is(batcher.waiting, 7)
  release?.()
  t.deepEqual(await Promise.all(first), ['tx1', 'tx1'])
  t.deepEqual(await Promise.all(later), ['tx2', 'tx2', 'tx3', 'tx2', 'tx2', 'tx3', 'tx3'])
  t.deepEqual(sent, [[1, 2], [3, 4, 5, 6], [3, 7, 8]])
  // a batch not admitted: each of its entries learns it; the next batch goes on
  const failing = new BidBatcher<{ taskId: Uint8Array, n: number }>(async (entries) => {
    if (entries.some(e => e.n === 1)) throw new Error('refused')
    return 'ok'
  })
  t.deepEqual(await Promise.all([failing.add(bid(1)), failing.add(bid(2))]), [undefined, undefined])
  t.is(await failing.add(bid(3)), 'ok')
})
